package io.pmig.executor.workload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A launched workload's pid is handed out only once pmig-init has built its namespace: a checkpoint started on it
 * at once (as a migrate right after launch does) must find the workload's own mount table, not the node's half-copied
 * one (it did in CI: the dump's mount race check fired on /dev/shm and /var/lib/docker, which pmig-init replaces and
 * detaches a moment after the clone).
 */
class NodeWorkloadsLaunchTest {

    @TempDir
    Path dir;

    @Test
    void theNamespaceIsSetUpWhenLaunchReturns() throws Exception {
        NodeWorkloads workloads = new NodeWorkloads(dir, InitBinary.install(InitBinary.DEFAULT_PATH));
        String nodeShm = deviceAt(Files.readAllLines(Path.of("/proc/self/mountinfo")), "/dev/shm");
        List<String> problems = new ArrayList<>();
        try {
            for (int i = 0; i < 40; i++) {
                int init = workloads.launch("w" + i, List.of("sleep", "600"));
                // read at once, in one go: this is what a dump's first look at the table sees
                List<String> table = List.of(new String(Files.readAllBytes(Path.of("/proc/" + init + "/mountinfo")),
                        StandardCharsets.UTF_8).split("\n"));
                String shm = deviceAt(table, "/dev/shm");
                if (shm == null || shm.equals(nodeShm) || table.stream().anyMatch(l -> l.contains(" - nsfs "))) {
                    problems.add("launch " + i + ": /dev/shm " + shm + " (node's " + nodeShm + ")");
                }
            }
        } finally {
            for (String id : workloads.ids()) {
                workloads.stop(id, Duration.ZERO);
            }
        }
        assertEquals(List.of(), problems, "pids handed out before pmig-init had set up the namespace");
    }

    @Test
    void aLaunchThatFailsWhileSettingUpExitsNonZeroNamingWhy() throws Exception {
        Path init = InitBinary.install(InitBinary.DEFAULT_PATH);
        Process launcher = new ProcessBuilder(init.toString(), "--detach", "--pidfile", dir.resolve("pid").toString(),
                "--stdout", dir.resolve("no/such/dir/out.log").toString(), "--", "true")
                .redirectErrorStream(true).start();
        assertTrue(launcher.waitFor(30, TimeUnit.SECONDS));
        String said = new String(launcher.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertNotEquals(0, launcher.exitValue(), said);
        assertTrue(said.contains("open stdout"), said);
        assertFalse(Files.exists(dir.resolve("pid")), "a pid file for an init that never ran");
    }

    /** The device of the topmost mount at {@code mountPoint} in a mountinfo table, or null. */
    private static String deviceAt(List<String> mountinfo, String mountPoint) {
        String device = null;
        for (String line : mountinfo) {
            String[] f = line.split(" ");
            if (f.length > 4 && f[4].equals(mountPoint)) {
                device = f[2];
            }
        }
        return device;
    }
}
