package io.pmig.agent.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.agent.sampling.ProcessTable.ProcessStat;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProcessTableTest {

    private static ProcessStat parse(String line) {
        byte[] bytes = line.getBytes(StandardCharsets.UTF_8);
        return ProcessTable.parseStat(bytes, bytes.length);
    }

    @Test
    void parsesTheFieldsCountingFromTheLastParenthesis() {
        ProcessStat stat = parse("4242 (we (i) rd) S 17 4242 4242 0 -1 4194560 120 0 0 0 250 31 0 0 20 0 3 0 98765 "
                + "1000000 512 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n");
        assertEquals(4242, stat.pid());
        assertEquals("we (i) rd", stat.name());
        assertEquals('S', stat.state());
        assertEquals("SLEEPING", stat.stateName());
        assertEquals(17, stat.parentPid());
        assertEquals(281, stat.cpuTicks());
        assertEquals(3, stat.threads());
        assertEquals(98765, stat.startTicks());
        assertEquals(512, stat.rssPages());
    }

    @Test
    void truncatedLinesAreSkipped() {
        assertNull(parse("12 (x) R 1 2 3"));
        assertNull(parse(""));
    }

    @Test
    void scanFindsThisJvmWithItsParentAndThreads() {
        ProcessTable table = ProcessTable.scan();
        ProcessHandle self = ProcessHandle.current();
        ProcessStat stat = table.get((int) self.pid());
        assertNotNull(stat);
        assertEquals(self.parent().orElseThrow().pid(), stat.parentPid());
        assertTrue(stat.threads() > 1, "a JVM runs several threads, read " + stat.threads());
        assertTrue(table.treeOf((int) self.parent().orElseThrow().pid()).contains(stat));
    }
}
