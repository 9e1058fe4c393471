package io.pmig.executor;

import static io.pmig.executor.TestNodes.ended;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.criu.GhostFiles;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What a workload shares with its node, through real migrations (real criu, two executors): SysV and POSIX shared
 * memory, its hostname, its /dev/shm (never the node's) and an open file it unlinked all cross with it.
 */
class WorkloadIsolationTest {

    private static final Duration WAIT = Duration.ofSeconds(90);
    /**
     * Counts in SysV shared memory and mirrors the count into a POSIX shm object: a segment that did not cross, or
     * crossed without its contents, breaks the count (exit 3) or restarts it.
     */
    private static final String SHARED_MEMORY_COUNTER = """
            #include <fcntl.h>
            #include <stdio.h>
            #include <sys/mman.h>
            #include <sys/shm.h>
            #include <unistd.h>
            int main(void) {
                int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
                long *sysv = shmat(id, NULL, 0);
                int fd = shm_open("/pmig-counter", O_RDWR | O_CREAT, 0600);
                if (id < 0 || sysv == (void *)-1 || fd < 0 || ftruncate(fd, 4096) < 0) { perror("shm"); return 2; }
                long *posix = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                for (;;) {
                    long i = ++sysv[0];
                    if (posix[0] != i - 1) { fprintf(stderr, "posix shm has %ld, expected %ld\\n", posix[0], i - 1); return 3; }
                    posix[0] = i;
                    FILE *f = fopen("counter.txt", "a");
                    fprintf(f, "%ld\\n", i);
                    fclose(f);
                    usleep(50000);
                }
            }
            """;
    /** Holds a 32 MiB file it unlinked and checks its bytes while counting (above criu's default ghost limit of 1 MiB). */
    private static final String GHOST_HOLDER = """
            import os, time
            block = bytes(range(256)) * 4096
            f = open("ghost.bin", "w+b")
            for _ in range(32):
                f.write(block)
            f.flush()
            os.unlink("ghost.bin")
            i = 0
            while True:
                assert os.fstat(f.fileno()).st_size == 32 << 20
                f.seek((i % 32) << 20)
                assert f.read(1 << 20) == block, "ghost file content changed"
                i += 1
                with open("counter.txt", "a") as c:
                    c.write(f"{i}\\n")
                time.sleep(0.05)
            """;

    private static TestNodes nodes;

    @BeforeAll
    static void startNodes() throws Exception {
        nodes = new TestNodes();
        nodes.start("a");
        nodes.start("b");
    }

    @AfterAll
    static void stopNodes() throws Exception {
        if (nodes != null) {
            nodes.close();
        }
    }

    @Test
    void sharedMemoryAndTheHostnameCrossAndTheNodesDevShmNeitherShowsNorTravels() throws Exception {
        Path program = compile("shm-counter", SHARED_MEMORY_COUNTER);
        Path hostFile = Path.of("/dev/shm", nodes.prefix + "node-private");
        Files.writeString(hostFile, "the node's own data\n");
        try {
            String w = nodes.prefix + "shm";
            launch("a", w, List.of("sh", "-c", "hostname " + w + "; ls -A /dev/shm > shm-at-launch.txt; exec " + program));
            awaitLines("a", w, 10);
            assertEquals("", Files.readString(nodes.workloadDir("a", w).resolve("work/shm-at-launch.txt")).strip(),
                    "the workload saw the node's /dev/shm");
            assertFalse(Files.exists(Path.of("/dev/shm/pmig-counter")), "the workload's POSIX shm object is in the node's /dev/shm");
            String nodeHostname = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();

            String mid = nodes.send(CommandKind.MIGRATE, w, "a", "b", MigrationMode.PLAIN, List.of());
            MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

            assertEquals(Phase.COMPLETED, done.getPhase(), nodes.eventsSummary());
            int init = nodes.runningPid("b", w).orElseThrow(() -> new AssertionError("not running on b"));
            int atCompletion = lines("b", w).size();
            awaitLines("b", w, atCompletion + 20);
            assertConsecutive(lines("b", w));
            assertEquals(w, inNamespaces(init, "-u", "hostname"), "the workload's hostname");
            assertEquals(nodeHostname, Files.readString(Path.of("/proc/sys/kernel/hostname")).strip(), "the node's hostname");
            assertEquals("pmig-counter", inNamespaces(init, "-m", "ls", "-A", "/dev/shm"),
                    "the restored /dev/shm holds the workload's object and nothing of the node's");
            kill("b", w);
        } finally {
            Files.deleteIfExists(hostFile);
        }
    }

    @Test
    void anOpenUnlinked32MiBFileCrossesTheMigration() throws Exception {
        String w = nodes.prefix + "ghost";
        Files.createDirectories(nodes.root.resolve("ghost"));
        Path script = Files.writeString(nodes.root.resolve("ghost").resolve("ghost.py"), GHOST_HOLDER);
        launch("a", w, List.of("python3", script.toString()));
        awaitLines("a", w, 10);

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "b", MigrationMode.PLAIN, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.COMPLETED, done.getPhase(), nodes.eventsSummary());
        int init = nodes.runningPid("b", w).orElseThrow(() -> new AssertionError("not running on b"));
        assertEquals(32L << 20, GhostFiles.largest(init), "the restored workload holds its unlinked file");
        int atCompletion = lines("b", w).size();
        awaitLines("b", w, atCompletion + 20);
        assertConsecutive(lines("b", w));
        kill("b", w);
    }

    /** Compiles a C program into the test's directory (outside every workload's, visible in their mount namespaces). */
    private static Path compile(String name, String source) throws Exception {
        Path dir = Files.createDirectories(nodes.root.resolve("programs"));
        Path c = Files.writeString(dir.resolve(name + ".c"), source);
        Path binary = dir.resolve(name);
        Process cc = new ProcessBuilder("cc", "-O2", "-Wall", "-o", binary.toString(), c.toString())
                .redirectErrorStream(true).start();
        String out = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(cc.waitFor(60, TimeUnit.SECONDS) && cc.exitValue() == 0, "cc failed: " + out);
        return binary;
    }

    /** Runs a command in some of the namespaces of a host pid (nsenter), returns its trimmed output. */
    private static String inNamespaces(int pid, String... nsenterArgs) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("nsenter", "-t", String.valueOf(pid)));
        cmd.addAll(List.of(nsenterArgs));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, cmd + " failed: " + out);
        return out;
    }

    private static void launch(String node, String w, List<String> argv) throws Exception {
        String id = nodes.send(CommandKind.LAUNCH, w, null, node, null, argv);
        MigrationEvent launched = nodes.await(e -> e.getCommandId().equals(id)
                && (e.getPhase() == Phase.LAUNCHED || e.getPhase() == Phase.FAILED), WAIT, "LAUNCHED " + w);
        assertEquals(Phase.LAUNCHED, launched.getPhase(), launched.toString());
    }

    private static void kill(String node, String w) throws Exception {
        String id = nodes.send(CommandKind.KILL, w, node, null, null, List.of());
        assertEquals(Phase.KILLED, nodes.await(e -> e.getCommandId().equals(id), WAIT, "KILLED " + w).getPhase());
    }

    private static List<String> lines(String node, String w) throws IOException {
        Path file = nodes.workloadDir(node, w).resolve("work").resolve("counter.txt");
        if (!Files.exists(file)) {
            return List.of();
        }
        String text = Files.readString(file);
        List<String> lines = text.lines().toList();
        // the writer may be mid-line (or the file just created, still empty)
        return text.isEmpty() || text.endsWith("\n") ? lines : lines.subList(0, lines.size() - 1);
    }

    private static void awaitLines(String node, String w, int count) {
        await().atMost(WAIT).pollInterval(Duration.ofMillis(50)).until(() -> lines(node, w).size() >= count);
    }

    private static void assertConsecutive(List<String> lines) {
        for (int i = 0; i < lines.size(); i++) {
            assertEquals(String.valueOf(i + 1), lines.get(i).strip(), "line " + (i + 1) + " of " + lines.size());
        }
    }
}
