package io.pmig.executor;

import static io.pmig.executor.TestNodes.ended;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A workload's private /dev/shm that is empty at the freeze is left out of its images (criu would tar it inside the
 * downtime) and the copy gets a fresh tmpfs there; one with files in it carries them as before. Real criu, two
 * executors on one host.
 */
class EmptyShmMigrationTest {

    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final String COUNTER = "i=0; while :; do i=$((i+1)); echo $i >> counter.txt; sleep 0.05; done";

    private static TestNodes nodes;
    private static Path listingA;
    private static Path listingB;

    @BeforeAll
    static void startNodes() throws Exception {
        nodes = new TestNodes();
        listingA = nodes.root.resolve("images-restored-on-a.txt");
        listingB = nodes.root.resolve("images-restored-on-b.txt");
        Path criuA = nodes.listingCriu(listingA);
        Path criuB = nodes.listingCriu(listingB);
        nodes.start("a", c -> c.set(ExecutorConfig.CRIU_PATH, criuA));
        nodes.start("b", c -> c.set(ExecutorConfig.CRIU_PATH, criuB));
    }

    @AfterAll
    static void stopNodes() throws Exception {
        if (nodes != null) {
            nodes.close();
        }
    }

    @ParameterizedTest
    @EnumSource(MigrationMode.class)
    void anEmptyDevShmIsLeftOutAndTheCopyGetsAFreshOneWhoseFilesThenTravel(MigrationMode mode) throws Exception {
        String w = nodes.prefix + "shm-" + mode.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        int source = launch("a", w, List.of("sh", "-c", COUNTER));
        awaitLines("a", w, 10);
        String sourceShm = shmDevice(source).orElseThrow();
        java.util.Set<String> shmMountsBefore = freshShmMounts(); // others' (a killed executor's) are not this test's

        migrate(w, "a", "b", mode);
        String images = Files.readString(listingB);
        assertTrue(images.contains(" empty-shm.properties"), images);
        assertFalse(images.contains(" tmpfs-dev-" + criuDeviceNumber(sourceShm) + ".tar.gz.img"), images);
        Files.delete(listingB);

        int copy = nodes.runningPid("b", w).orElseThrow(() -> new AssertionError("not running on b"));
        Path shm = Path.of("/proc", String.valueOf(copy), "root", "dev", "shm");
        String copyShm = shmDevice(copy).orElseThrow(() -> new AssertionError("no tmpfs at /dev/shm in the copy"));
        assertFalse(nodeDevices().contains(copyShm), "the copy's /dev/shm is a mount of the node's");
        assertEquals(List.of(), list(shm));
        assertEquals("rwxrwxrwx", PosixFilePermissions.toString(Files.getPosixFilePermissions(shm)));
        await().atMost(WAIT).until(() -> shmMountsBefore.containsAll(freshShmMounts()));
        int counted = lines("b", w).size();
        awaitLines("b", w, counted + 10);
        assertConsecutive(lines("b", w));

        // now it holds a file: criu carries it as before
        Files.writeString(shm.resolve("kept"), "written on b\n");
        migrate(w, "b", "a", mode);
        images = Files.readString(listingA);
        assertFalse(images.contains(" empty-shm.properties"), images);
        Files.delete(listingA);
        int back = nodes.runningPid("a", w).orElseThrow(() -> new AssertionError("not running on a"));
        assertEquals("written on b\n", Files.readString(Path.of("/proc", String.valueOf(back), "root", "dev", "shm", "kept")));
        counted = lines("a", w).size();
        awaitLines("a", w, counted + 10);
        assertConsecutive(lines("a", w));
        kill("a", w);
    }

    /**
     * The destination executor dies inside its restore, after it mounted the fresh tmpfs for the copy: the mount is
     * left on the node (its detach would have run after the restore). The executor that starts next on the host
     * detaches it once no criu names it, and the workload is back on its source.
     */
    @Test
    void aFreshDevShmLeftByADestinationKilledInItsRestoreIsDetachedWhenItRestarts() throws Exception {
        Path gate = nodes.root.resolve("dies-gate");
        Path failing = nodes.root.resolve("dies-failing");
        ExecutorProcess dies = nodes.startProcess("dies", java.util.Map.of(), List.of(), "127.0.0.1:0", List.of(),
                nodes.gatedCriu(gate, failing));
        String w = nodes.prefix + "shm-dies";
        launch("a", w, List.of("sh", "-c", COUNTER));
        awaitLines("a", w, 10);
        java.util.Set<String> before = freshShmMounts();

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "dies", MigrationMode.PLAIN, List.of());
        String left = await().atMost(WAIT).until(() -> freshShmMounts().stream().filter(m -> !before.contains(m))
                .findFirst(), Optional::isPresent).orElseThrow(); // mounted, and its criu waits at the gate
        dies.kill9();
        Files.createFile(failing);
        Files.createFile(gate); // the orphaned restore fails and ends: nothing names the mount any more
        await().atMost(WAIT).until(() -> ProcessHandle.allProcesses().noneMatch(p -> p.info().arguments()
                .map(a -> String.join(" ", a).contains(left)).orElse(false)));
        assertTrue(freshShmMounts().contains(left), "no mount left to detach: the test no longer reproduces the leak");
        // as a mount made over a minute ago: younger ones may belong to a restore whose criu has not started yet
        Files.setLastModifiedTime(Path.of(left), java.nio.file.attribute.FileTime.from(
                java.time.Instant.now().minus(Duration.ofMinutes(2))));

        nodes.start("dies");
        assertFalse(freshShmMounts().contains(left), "the restarted executor left " + left + " mounted");
        assertFalse(Files.exists(Path.of(left)), left + " not removed");
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);
        assertEquals(Phase.ROLLED_BACK, done.getPhase(), nodes.eventsSummary());
        int counted = lines("a", w).size();
        awaitLines("a", w, counted + 10);
        assertConsecutive(lines("a", w));
        kill("a", w);
        nodes.stop("dies");
    }

    /** An empty /dev/shm with a file open on it that was unlinked is not empty: criu carries it, the file crosses. */
    @Test
    void aDevShmWithOnlyAnOpenUnlinkedFileIsCarriedByCriu() throws Exception {
        String w = nodes.prefix + "shm-held";
        launch("a", w, List.of("sh", "-c", "exec 7>/dev/shm/held; rm /dev/shm/held; echo kept >&7; " + COUNTER));
        awaitLines("a", w, 10);

        migrate(w, "a", "b", MigrationMode.PLAIN);
        String images = Files.readString(listingB);
        assertFalse(images.contains(" empty-shm.properties"), images);
        Files.delete(listingB);
        int copy = nodes.runningPid("b", w).orElseThrow(() -> new AssertionError("not running on b"));
        // pmig-init is the namespace's init; the shell holding the descriptor is its child
        int shell = ProcessTable.namespaceMembers(copy).stream().filter(p -> p != copy).findFirst().orElseThrow();
        assertEquals("/dev/shm/held (deleted)", Files.readSymbolicLink(Path.of("/proc", String.valueOf(shell), "fd", "7")).toString());
        assertEquals("kept\n", Files.readString(Path.of("/proc", String.valueOf(shell), "fd", "7")));
        int counted = lines("b", w).size();
        awaitLines("b", w, counted + 10);
        kill("b", w);
    }

    /**
     * The dump was told /dev/shm is empty, and the workload put a file there before criu froze it: the images would
     * lose it, so the dump is undone and the workload runs on with its file.
     */
    @Test
    void aFileMadeInTheEmptyDevShmBeforeTheFreezeUndoesTheDump() throws Exception {
        Criu criu = TestNodes.criu();
        NodeWorkloads workloads = new NodeWorkloads(nodes.root.resolve("raced"), InitBinary.install(InitBinary.DEFAULT_PATH));
        int init = workloads.launch("raced", List.of("sh", "-c", COUNTER));
        Path counter = workloads.dir("raced").resolve("work").resolve("counter.txt");
        Path images = nodes.root.resolve("raced-images");
        try {
            await().atMost(WAIT).until(() -> Files.exists(counter));
            Criu.DumpPlan plan = criu.planDump(init, images, false);
            Path raced = Path.of("/proc", String.valueOf(init), "root", "dev", "shm", "raced");
            Files.writeString(raced, "made after the plan\n");

            CriuException e = assertThrows(CriuException.class, () -> criu.dumpLeavingStopped(plan, null, List.of()));
            assertTrue(e.getMessage().contains("raced"), e.getMessage());
            await().atMost(WAIT).until(() -> ProcessTable.namespaceMembers(init).stream()
                    .noneMatch(p -> ProcessTable.state(p) == 'T'));
            long before = Files.size(counter);
            await().atMost(WAIT).until(() -> Files.size(counter) > before + 10);
            assertEquals("made after the plan\n", Files.readString(raced));
            String table = Criu.lockTable(images).orElseThrow();
            assertFalse(TestNodes.criuLockTables().contains("table inet " + table), table + " left behind");
        } finally {
            ProcessTable.killNamespace(init);
        }
    }

    private static void migrate(String w, String from, String to, MigrationMode mode) throws Exception {
        String mid = nodes.send(CommandKind.MIGRATE, w, from, to, mode, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);
        assertEquals(Phase.COMPLETED, done.getPhase(), nodes.eventsSummary());
        await().atMost(WAIT).until(() -> !Files.exists(nodes.workloadDir(from, w)));
    }

    /** major:minor of the tmpfs at /dev/shm in that process's mount table. */
    private static Optional<String> shmDevice(int pid) throws IOException {
        return Files.readAllLines(Path.of("/proc", String.valueOf(pid), "mountinfo")).stream().map(l -> l.split(" "))
                .filter(f -> f[4].equals("/dev/shm") && List.of(f).contains("tmpfs")).map(f -> f[2]).reduce((a, b) -> b);
    }

    private static List<String> nodeDevices() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/mountinfo")).stream().map(l -> l.split(" ")[2]).toList();
    }

    /** criu names a tmpfs image after the kernel's internal device number: major << 20 | minor. */
    private static long criuDeviceNumber(String majorMinor) {
        String[] mm = majorMinor.split(":");
        return (Long.parseLong(mm[0]) << 20) | Long.parseLong(mm[1]);
    }

    private static List<String> list(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** The node's mount points of fresh /dev/shm tmpfs made for restores ({@code /tmp/pmig-shm-*}). */
    private static java.util.Set<String> freshShmMounts() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/mountinfo")).stream().map(l -> l.split(" ")[4])
                .filter(m -> m.startsWith("/tmp/pmig-shm-")).collect(java.util.stream.Collectors.toSet());
    }

    private static int launch(String node, String w, List<String> argv) throws Exception {
        return nodes.launch(node, w, argv, WAIT);
    }

    private static void kill(String node, String w) throws Exception {
        nodes.kill(node, w, WAIT);
    }

    private static List<String> lines(String node, String w) throws IOException {
        return nodes.workLines(node, w, "counter.txt");
    }

    private static void awaitLines(String node, String w, int count) {
        await().atMost(WAIT).pollInterval(Duration.ofMillis(50)).until(() -> lines(node, w).size() >= count);
    }

    private static void assertConsecutive(List<String> lines) {
        TestNodes.assertConsecutive(lines);
    }
}
