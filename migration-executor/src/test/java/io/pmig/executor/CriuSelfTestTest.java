package io.pmig.executor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.pmig.executor.node.CriuSelfTest;
import io.pmig.executor.workload.InitBinary;
import io.pmig.executor.workload.ProcessTable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The executor's start-up proof that this node can checkpoint and restore (a node container without SYS_TIME
 * cannot: system-tests' ContainerPipelineIT starts one and sees the executor refuse to start). */
class CriuSelfTestTest {

    @TempDir
    Path workdir;

    @Test
    void checkpointsAndRestoresAWorkloadHereAndLeavesNothingBehind() throws Exception {
        Path scratch = workdir.resolve("criu-self-test");
        CriuSelfTest.run(TestNodes.criu(), InitBinary.install(InitBinary.DEFAULT_PATH), workdir);

        assertFalse(Files.exists(scratch), "its scratch directory is removed");
        assertEquals(List.of(), processesMentioning(scratch.toString()), "no self-test process is left running");
        assertFalse(Files.exists(workdir.resolve("workloads")), "nothing appears among the node's workloads");
    }

    /** Live processes whose command line names {@code path} (pmig-init's --pidfile is under the scratch dir). */
    private static List<Integer> processesMentioning(String path) throws IOException {
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            return procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
                    .filter(p -> {
                        try {
                            return new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8).contains(path);
                        } catch (IOException gone) {
                            return false;
                        }
                    })
                    .map(p -> Integer.parseInt(p.getFileName().toString()))
                    .filter(ProcessTable::isAlive)
                    .toList();
        }
    }
}
