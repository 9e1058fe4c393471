package io.pmig.executor.criu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class SysctlReadTest {

    /** Files.readString saw "4" in a pipe-max-size of 4194304 (it reads a size-0 /proc file one byte first). */
    @Test
    void anIntegerSysctlIsReadWhole() throws Exception {
        Path pipeMax = Path.of("/proc/sys/fs/pipe-max-size");
        String whole;
        try (var in = new java.io.FileInputStream(pipeMax.toFile())) {
            whole = new String(in.readAllBytes()).strip(); // one read(2) of 8 KiB from offset 0
        }
        assertEquals(whole, Criu.readSysctl(pipeMax));
        assertEquals(Long.parseLong(whole), Long.parseLong(Criu.readSysctl(pipeMax)));
    }

    /** Without --tune-host a low setting is reported, naming both ways to fix it, and left alone. */
    @Test
    void aLowPipeMaxSizeIsReportedWithWhatToDo() {
        String problem = Criu.pipeMaxSizeTooSmall(1_048_576);
        org.junit.jupiter.api.Assertions.assertTrue(problem.contains("fs.pipe-max-size is 1048576")
                && problem.contains("sysctl -w fs.pipe-max-size=4194304") && problem.contains("--tune-host"), problem);
    }
}
