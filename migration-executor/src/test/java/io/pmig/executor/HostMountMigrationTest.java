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
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Mounts a workload's namespace inherited from its node (pmig-init starts it as a copy of the node's mount table) are
 * the node's, not the workload's: a dump marks them external and a restore binds the destination node's mount at the
 * same path. Real criu, two executors on one host, a tmpfs mounted on the host before the workload starts.
 */
class HostMountMigrationTest {

    private static final Duration WAIT = Duration.ofSeconds(90);
    /** Not under the test's temp dir: pmig-init detaches every mount under /tmp and /var/tmp from a workload. */
    private static final Path HOST_MOUNTS = Path.of("/var/lib/pmig/test");
    /** Incompressible host data in the host tmpfs: a checkpoint that copied the tmpfs would be at least this big. */
    private static final int HOST_DATA_BYTES = 4 << 20;

    private static TestNodes nodes;
    private static Path hostTmpfs;
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
        hostTmpfs = mountTmpfs(nodes.prefix + "tmpfs");
        byte[] data = new byte[HOST_DATA_BYTES];
        new Random(7).nextBytes(data);
        Files.write(hostTmpfs.resolve("host-data.bin"), data);
        Files.writeString(hostTmpfs.resolve("host-file"), "of the node\n");
        Files.createDirectories(hostTmpfs.resolve("churn"));
        Files.createDirectories(hostTmpfs.resolve("own"));
    }

    @AfterAll
    static void stopNodes() throws Exception {
        try {
            if (nodes != null) {
                nodes.close();
            }
        } finally {
            if (hostTmpfs != null) {
                unmount(hostTmpfs);
            }
        }
    }

    /**
     * Before: criu tarred the host tmpfs into every checkpoint of the workload, and a node program creating and deleting
     * files there while the dump ran failed it ("filesystems.c:426: Can't dump tmpfs content"). The workload's own
     * tmpfs, mounted on a directory of the host's, still travels with its content. Moved there and back: the restored
     * namespace's copy of the host mount (new mount ids) is recognised as the node's too.
     */
    @ParameterizedTest
    @EnumSource(MigrationMode.class)
    void aTmpfsInheritedFromTheNodeIsBoundFromTheDestinationsNodeAndNotDumpedWhileTheNodeChurnsItsFiles(MigrationMode mode)
            throws Exception {
        String w = nodes.prefix + "host-tmpfs-" + mode.name().toLowerCase(Locale.ROOT).replace('_', '-');
        String h = hostTmpfs.toString();
        int init = launch("a", w, List.of("sh", "-c", """
                H=%s
                mount -t tmpfs -o size=1m own $H/own && echo mine > $H/own/file
                i=0
                while :; do
                  i=$((i+1))
                  cat $H/own/file $H/host-file > /dev/null || echo "MISSING at $i" >&2
                  echo $i >> counter.txt
                  sleep 0.05
                done
                """.formatted(h)));
        awaitLines("a", w, 10);
        String hostDevice = device(Path.of("/proc/self/mountinfo"), h).orElseThrow();

        AtomicBoolean churning = new AtomicBoolean(true);
        AtomicLong churned = new AtomicLong();
        Thread churn = new Thread(() -> churn(hostTmpfs.resolve("churn"), churning, churned), "host-tmpfs-churn");
        churn.start();
        try {
            await().atMost(WAIT).until(() -> churned.get() > 2000);
            String ownDevice = ownTmpfsDevice(init);
            migrate(w, "a", "b", mode);
            assertMoved(w, "b", listingB, hostDevice, ownDevice);
            ownDevice = ownTmpfsDevice(nodes.runningPid("b", w).orElseThrow()); // restored: a new tmpfs instance
            migrate(w, "b", "a", mode);
            assertMoved(w, "a", listingA, hostDevice, ownDevice);
        } finally {
            churning.set(false);
            churn.join();
        }
        assertEquals(List.of("churn", "host-data.bin", "host-file", "own"), list(hostTmpfs));
        assertEquals(List.of(), list(hostTmpfs.resolve("own")), "the workload's own tmpfs reached the node");
        kill("a", w);
    }

    /**
     * A disk of the node (a loop-mounted ext4 here) is no filesystem criu can mount again by itself: every dump failed
     * ("FS mnt ./... unsupported"). Now it is bound from the destination node's mount.
     */
    @Test
    void aDiskTheNodeMountedIsBoundFromTheDestinationsNode() throws Exception {
        String w = nodes.prefix + "node-disk";
        Path disk = Files.createDirectories(HOST_MOUNTS.resolve(nodes.prefix + "disk"));
        Path image = nodes.root.resolve("disk.img");
        run("truncate", "-s", "16M", image.toString());
        run("mkfs.ext4", "-q", image.toString());
        run("mount", "-o", "loop", image.toString(), disk.toString());
        try {
            Files.writeString(disk.resolve("file"), "on the node's disk\n");
            launch("a", w, List.of("sh", "-c", """
                    i=0
                    while :; do
                      i=$((i+1))
                      cat %s/file > /dev/null || echo "MISSING at $i" >&2
                      echo $i >> counter.txt
                      sleep 0.05
                    done
                    """.formatted(disk)));
            awaitLines("a", w, 10);

            migrate(w, "a", "b", MigrationMode.PLAIN);

            int init = nodes.runningPid("b", w).orElseThrow(() -> new AssertionError("not running on b"));
            awaitLines("b", w, lines("b", w).size() + 20);
            assertEquals("", Files.readString(nodes.workloadDir("b", w).resolve("stderr.log")).strip());
            assertEquals(device(Path.of("/proc/self/mountinfo"), disk.toString()),
                    device(Path.of("/proc", String.valueOf(init), "mountinfo"), disk.toString()));
            kill("b", w);
        } finally {
            unmount(disk);
        }
    }

    /**
     * A node without a mount the images expect from their node (here: unmounted after the dump) cannot restore them:
     * criu is not even started, the error names the mount, and the frozen source resumes.
     */
    @Test
    void aRestoreOnANodeWithoutTheHostMountTheImagesExpectFailsNamingIt() throws Exception {
        Criu criu = TestNodes.criu();
        Path gone = mountTmpfs(nodes.prefix + "gone");
        NodeWorkloads workloads = new NodeWorkloads(nodes.root.resolve("missing"), InitBinary.install(InitBinary.DEFAULT_PATH));
        int init = workloads.launch("missing", List.of("sh", "-c",
                "while :; do ls " + gone + " > /dev/null; echo x >> counter.txt; sleep 0.05; done"));
        Path counter = workloads.dir("missing").resolve("work").resolve("counter.txt");
        try {
            await().atMost(WAIT).until(() -> Files.exists(counter));
            Path images = nodes.root.resolve("missing-images");
            criu.dumpLeavingStopped(init, images, null, List.of());
            unmount(gone);
            CriuException e = assertThrows(CriuException.class,
                    () -> criu.restore(images, workloads.dir("missing"), true, "restore.log"));
            assertTrue(e.getMessage().contains(gone + " (tmpfs)"), e.getMessage());
            assertFalse(Files.exists(images.resolve("restore.log")), "criu ran although the restore could not work");

            Criu.lockTable(images).ifPresent(criu::deleteLockTable);
            ProcessTable.signal("CONT", ProcessTable.namespaceMembers(init));
            long before = Files.size(counter);
            await().atMost(WAIT).until(() -> Files.size(counter) > before + 10);
        } finally {
            ProcessTable.killNamespace(init);
            if (Files.isDirectory(gone)) {
                unmount(gone);
            }
        }
    }

    /**
     * criu marks by mount point: a tmpfs the workload mounted on the node's between reading the marks and the freeze
     * would be bound from the node's mount too, its content lost. Such a dump is undone and the workload runs on.
     */
    @Test
    void aDumpThatRacedTheWorkloadMountingOnANodeMountIsUndone() throws Exception {
        Criu criu = TestNodes.criu();
        Path node = mountTmpfs(nodes.prefix + "raced");
        NodeWorkloads workloads = new NodeWorkloads(nodes.root.resolve("raced"), InitBinary.install(InitBinary.DEFAULT_PATH));
        int init = workloads.launch("raced", List.of("sh", "-c",
                "while :; do mount -t tmpfs own " + node + "; umount " + node + "; done"));
        try {
            for (int attempt = 1; ; attempt++) {
                Path images = nodes.root.resolve("raced-images-" + attempt);
                try {
                    criu.dumpLeavingStopped(init, images, null, List.of());
                } catch (CriuException e) {
                    assertTrue(e.getMessage().contains("changed the mounts at [" + node + "]"), e.getMessage());
                    await().atMost(WAIT).until(() -> ProcessTable.namespaceMembers(init).stream()
                            .noneMatch(p -> ProcessTable.state(p) == 'T'));
                    String table = Criu.lockTable(images).orElseThrow();
                    assertFalse(TestNodes.criuLockTables().contains("table inet " + table), table + " left behind");
                    break;
                }
                ProcessTable.signal("CONT", ProcessTable.namespaceMembers(init));
                Criu.lockTable(images).ifPresent(criu::deleteLockTable);
                assertTrue(attempt < 60, "no dump raced a mount change in 60 attempts");
            }
        } finally {
            ProcessTable.killNamespace(init);
            unmount(node);
        }
    }

    private static void migrate(String w, String from, String to, MigrationMode mode) throws Exception {
        String mid = nodes.send(CommandKind.MIGRATE, w, from, to, mode, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);
        assertEquals(Phase.COMPLETED, done.getPhase(), nodes.eventsSummary());
        await().atMost(WAIT).until(() -> !Files.exists(nodes.workloadDir(from, w)));
    }

    /**
     * The workload runs on {@code node}, reads the node's tmpfs and its own, and the images it got had no copy of the
     * node's tmpfs but one of the workload's own.
     */
    private static void assertMoved(String w, String node, Path listing, String hostDevice, String ownDevice)
            throws Exception {
        int init = nodes.runningPid(node, w).orElseThrow(() -> new AssertionError("not running on " + node));
        int counted = lines(node, w).size();
        awaitLines(node, w, counted + 20);
        assertEquals("", Files.readString(nodes.workloadDir(node, w).resolve("stderr.log")).strip());

        Path mountinfo = Path.of("/proc", String.valueOf(init), "mountinfo");
        assertEquals(hostDevice, device(mountinfo, hostTmpfs.toString()).orElseThrow(), Files.readString(mountinfo));
        assertEquals("mine", Files.readString(Path.of("/proc", String.valueOf(init), "root",
                hostTmpfs.toString(), "own", "file")).strip());

        String images = Files.readString(listing);
        assertFalse(images.contains(" tmpfs-dev-" + criuDeviceNumber(hostDevice) + ".tar.gz.img"), images);
        assertTrue(images.contains(" tmpfs-dev-" + criuDeviceNumber(ownDevice) + ".tar.gz.img"), images);
        long total = images.lines().map(l -> l.trim().split("\\s+")).filter(f -> f.length > 4 && f[0].startsWith("-"))
                .mapToLong(f -> Long.parseLong(f[4])).sum();
        assertTrue(total < HOST_DATA_BYTES, "images of " + total + " bytes carry the node's tmpfs:\n" + images);
        Files.delete(listing);
    }

    /** Creates and deletes many small files as fast as it can: what tar must not see change under it. */
    private static void churn(Path dir, AtomicBoolean churning, AtomicLong churned) {
        try {
            while (churning.get()) {
                for (int i = 0; i < 200; i++) {
                    Files.writeString(dir.resolve("f" + i), "churn " + i);
                }
                for (int i = 0; i < 200; i++) {
                    Files.delete(dir.resolve("f" + i));
                }
                churned.addAndGet(200);
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String ownTmpfsDevice(int init) throws IOException {
        return device(Path.of("/proc", String.valueOf(init), "mountinfo"), hostTmpfs + "/own").orElseThrow();
    }

    /** major:minor of the mount at {@code mountPoint} in that mountinfo (the last one, if stacked). */
    private static java.util.Optional<String> device(Path mountinfo, String mountPoint) throws IOException {
        return Files.readAllLines(mountinfo).stream().map(l -> l.split(" ")).filter(f -> f[4].equals(mountPoint))
                .map(f -> f[2]).reduce((first, last) -> last);
    }

    /** criu names a tmpfs image after the kernel's internal device number: major << 20 | minor. */
    private static long criuDeviceNumber(String majorMinor) {
        String[] mm = majorMinor.split(":");
        return (Long.parseLong(mm[0]) << 20) | Long.parseLong(mm[1]);
    }

    private static Path mountTmpfs(String name) throws Exception {
        Path dir = Files.createDirectories(HOST_MOUNTS.resolve(name));
        run("mount", "-t", "tmpfs", "-o", "size=64m", "pmig-test", dir.toString());
        return dir;
    }

    private static void unmount(Path dir) throws Exception {
        if (Files.readAllLines(Path.of("/proc/self/mountinfo")).stream().anyMatch(l -> l.split(" ")[4].equals(dir.toString()))) {
            run("umount", "-l", dir.toString());
        }
        NodeWorkloads.deleteTree(dir);
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
    }

    private static List<String> list(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
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
}
