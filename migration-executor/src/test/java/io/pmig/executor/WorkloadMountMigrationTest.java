package io.pmig.executor;

import static io.pmig.executor.TestNodes.ended;
import static io.pmig.executor.TestNodes.phase;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.criu.Criu;
import io.pmig.executor.criu.CriuException;
import io.pmig.executor.workload.InitBinary;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Mounts a workload makes in its own mount namespace on its own directory, through real migrations (real criu, two
 * executors with different work dirs on one host): after the move they show the destination's directory, never the
 * source node's, which is deleted once the destination commits.
 */
class WorkloadMountMigrationTest {

    private static final Duration WAIT = Duration.ofSeconds(90);
    /**
     * Binds a subdirectory onto another place in its directory, binds through that bind (nested), binds a single file,
     * remounts a bind read-only and mounts a tmpfs; then keeps reading through all of them, writing through the binds
     * and checking that the read-only one stays read-only.
     */
    private static final String MOUNTING_COUNTER = """
            W=%s/work
            mkdir -p data/sub view nested ro-src ro scratch
            echo kept > data/sub/file; echo setting=1 > app.conf; : > app.conf.view
            mount --bind $W/data $W/view
            mount --bind $W/view/sub $W/nested
            mount --bind $W/app.conf $W/app.conf.view
            mount --bind $W/ro-src $W/ro && mount -o remount,bind,ro $W/ro
            mount -t tmpfs -o size=4m tmpfs $W/scratch && echo in-tmpfs > scratch/t
            i=0
            while :; do
              i=$((i+1))
              cat nested/file app.conf.view scratch/t > /dev/null || echo "MISSING at $i" >&2
              touch ro/written 2>/dev/null && echo "WRITABLE ro/ at $i" >&2
              echo $i >> nested/through-binds.txt
              echo $i >> counter.txt
              sleep 0.05
            done
            """.formatted(Criu.WORKLOAD_MOUNT);

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

    @ParameterizedTest
    @EnumSource(MigrationMode.class)
    void bindMountsAndATmpfsInTheWorkloadsDirectoryShowTheDestinationsDirectoryAfterTheMove(MigrationMode mode)
            throws Exception {
        String w = nodes.prefix + "mounts-" + mode.name().toLowerCase(Locale.ROOT).replace('_', '-');
        int sourceInit = launch("a", w, List.of("sh", "-c", MOUNTING_COUNTER));
        awaitLines("a", w, "counter.txt", 10);
        String sourceRoot = workloadMountRoot(sourceInit);

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "b", mode, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.COMPLETED, done.getPhase(), nodes.eventsSummary());
        awaitGone(nodes.workloadDir("a", w));
        int init = nodes.runningPid("b", w).orElseThrow(() -> new AssertionError("not running on b"));
        int counted = lines("b", w, "counter.txt").size();
        int throughBinds = lines("b", w, "data/sub/through-binds.txt").size();
        awaitLines("b", w, "counter.txt", counted + 20);
        assertEquals("", Files.readString(nodes.workloadDir("b", w).resolve("stderr.log")).strip(),
                "the workload lost a mount or its read-only one became writable");
        awaitLines("b", w, "data/sub/through-binds.txt", throughBinds + 20);
        assertConsecutive(lines("b", w, "counter.txt"));
        assertConsecutive(lines("b", w, "data/sub/through-binds.txt"));

        String mountinfo = Files.readString(Path.of("/proc", String.valueOf(init), "mountinfo"));
        assertFalse(mountinfo.contains(sourceRoot + " ") || mountinfo.contains(sourceRoot + "/"),
                "a mount still shows the source node's directory " + sourceRoot + ":\n" + mountinfo);
        assertTrue(mountOptions(mountinfo, Criu.WORKLOAD_MOUNT + "/work/ro").startsWith("ro,"), mountinfo);
        assertTrue(mountinfo.contains(" " + Criu.WORKLOAD_MOUNT + "/work/scratch ") && mountinfo.contains(" - tmpfs "),
                mountinfo);
        kill("b", w);
    }

    /** criu carries the workload's directory to the destination's path only in the workload's own mount namespace. */
    @Test
    void aNestedMountNamespaceThatSeesTheWorkloadsDirectoryIsRefusedBeforeTheFreeze() throws Exception {
        String w = nodes.prefix + "nested-mntns";
        // its descriptors opened in its own namespace: nothing else about it stops criu
        int pid = launch("a", w, List.of("sh", "-c", "unshare -m sh -c 'exec sleep 100000 </dev/null >/dev/null 2>&1' & "
                + "while :; do echo x >> counter.txt; sleep 0.05; done"));
        awaitLines("a", w, "counter.txt", 10);

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "b", MigrationMode.PLAIN, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.ROLLED_BACK, done.getPhase(), nodes.eventsSummary());
        assertTrue(done.getError().contains("mount namespace of its own that shows the workload's directory"),
                done.getError());
        assertFalse(done.getError().contains("outside its mount namespace"), done.getError());
        assertTrue(nodes.find(phase(mid, Phase.FROZEN)).isEmpty(), "frozen although the copy would use the source's files");
        assertEquals(Optional.of(pid), nodes.runningPid("a", w), "the workload should never have stopped");
        kill("a", w);
    }

    /**
     * A mount made or removed between reading the table and criu's freeze would be restored from the source node's
     * path: such a dump is undone (the tree runs again, its lock table gone) instead of being used.
     */
    @Test
    void aDumpThatRacedTheWorkloadsMountChangesIsUndoneAndTheWorkloadRunsOn() throws Exception {
        Criu criu = TestNodes.criu();
        NodeWorkloads workloads = new NodeWorkloads(nodes.root.resolve("race"), InitBinary.install(InitBinary.DEFAULT_PATH));
        String w = Criu.WORKLOAD_MOUNT + "/work";
        int init = workloads.launch("race", List.of("sh", "-c",
                "mkdir a b; while :; do mount --bind " + w + "/a " + w + "/b; umount " + w + "/b; done"));
        try {
            for (int attempt = 1; ; attempt++) {
                Path images = nodes.root.resolve("race-images-" + attempt);
                try {
                    criu.dumpLeavingStopped(init, images, null, List.of());
                } catch (CriuException e) {
                    assertTrue(e.getMessage().contains("changed its mounts while criu dumped it"), e.getMessage());
                    await().atMost(WAIT).until(() -> ProcessTable.namespaceMembers(init).stream()
                            .noneMatch(p -> ProcessTable.state(p) == 'T'));
                    String table = Criu.lockTable(images).orElseThrow();
                    assertFalse(TestNodes.criuLockTables().contains("table inet " + table), table + " left behind");
                    break;
                }
                // this dump saw the mounts it was told about: let the tree run and race again
                ProcessTable.signal("CONT", ProcessTable.namespaceMembers(init));
                Criu.lockTable(images).ifPresent(criu::deleteLockTable);
                assertTrue(attempt < 60, "no dump raced a mount change in 60 attempts");
            }
        } finally {
            ProcessTable.killNamespace(init);
        }
    }

    /** The root (within its filesystem) of the node directory bound at the workload mount, as mountinfo shows it. */
    private static String workloadMountRoot(int init) throws IOException {
        return Files.readAllLines(Path.of("/proc", String.valueOf(init), "mountinfo")).stream()
                .map(l -> l.split(" "))
                .filter(f -> f[4].equals(Criu.WORKLOAD_MOUNT))
                .map(f -> f[3])
                .findFirst().orElseThrow();
    }

    private static String mountOptions(String mountinfo, String mountPoint) {
        return mountinfo.lines().map(l -> l.split(" ")).filter(f -> f[4].equals(mountPoint)).map(f -> f[5])
                .reduce((first, last) -> last).orElse("(not mounted)");
    }

    private static int launch(String node, String w, List<String> argv) throws Exception {
        String id = nodes.send(CommandKind.LAUNCH, w, null, node, null, argv);
        MigrationEvent launched = nodes.await(e -> e.getCommandId().equals(id)
                && (e.getPhase() == Phase.LAUNCHED || e.getPhase() == Phase.FAILED), WAIT, "LAUNCHED " + w);
        assertEquals(Phase.LAUNCHED, launched.getPhase(), launched.toString());
        return launched.getPid();
    }

    private static void kill(String node, String w) throws Exception {
        String id = nodes.send(CommandKind.KILL, w, node, null, null, List.of());
        assertEquals(Phase.KILLED, nodes.await(e -> e.getCommandId().equals(id), WAIT, "KILLED " + w).getPhase());
    }

    private static void awaitGone(Path dir) {
        await().atMost(WAIT).pollInterval(Duration.ofMillis(20)).until(() -> !Files.exists(dir));
    }

    private static List<String> lines(String node, String w, String file) throws IOException {
        Path path = nodes.workloadDir(node, w).resolve("work").resolve(file);
        if (!Files.exists(path)) {
            return List.of();
        }
        String text = Files.readString(path);
        List<String> lines = text.lines().toList();
        // the writer may be mid-line (or not have written its first yet)
        return text.isEmpty() || text.endsWith("\n") ? lines : lines.subList(0, lines.size() - 1);
    }

    private static void awaitLines(String node, String w, String file, int count) {
        await().atMost(WAIT).pollInterval(Duration.ofMillis(50)).until(() -> lines(node, w, file).size() >= count);
    }

    private static void assertConsecutive(List<String> lines) {
        int first = Integer.parseInt(lines.get(0).strip());
        for (int i = 0; i < lines.size(); i++) {
            assertEquals(String.valueOf(first + i), lines.get(i).strip(), "line " + (i + 1) + " of " + lines.size());
        }
    }
}
