package io.pmig.executor.migration;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.criu.Criu;
import io.pmig.executor.criu.GhostFiles;
import io.pmig.executor.workload.InitBinary;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.executor.workload.ProcessTree;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The preflight against real workloads under pmig-init (their own PID, mount, IPC and UTS namespaces), each doing one
 * thing criu refuses. Nothing is frozen or dumped: these tests need no criu.
 */
class CheckpointPreflightTest {

    private static final long CEILING = Criu.DEFAULT_GHOST_LIMIT_CEILING;
    /** As on this kind of host: root without CAP_SYS_RESOURCE. */
    private static final CheckpointPreflight WITHOUT_SYS_RESOURCE = new CheckpointPreflight(false, CEILING);

    @TempDir
    Path workdir;
    private NodeWorkloads workloads;
    private final List<Integer> inits = new ArrayList<>();

    @BeforeEach
    void installInit() throws Exception {
        workloads = new NodeWorkloads(workdir, InitBinary.install(InitBinary.DEFAULT_PATH));
    }

    @AfterEach
    void killWorkloads() {
        inits.forEach(ProcessTable::killNamespace);
        inits.forEach(pid -> ProcessTable.awaitGone(pid, Duration.ofSeconds(5)));
    }

    @Test
    void aPlainWorkloadHasNothingToRefuseAndNothingStopped() throws Exception {
        int init = launch("plain", "sleep 600 & sleep 600; wait");
        awaitTreeSize(init, 4);

        assertEquals(List.of(), WITHOUT_SYS_RESOURCE.refusals(init));
        assertEquals(Set.of(), CheckpointPreflight.stoppedTasks(init));
    }

    @Test
    void aChildThatDroppedToNobodyIsRefusedOnlyWithoutCapSysResource() throws Exception {
        int init = launch("setuid", "python3 -c 'import os, time; os.setgid(65534); os.setuid(65534); time.sleep(600)' & wait");
        await().atMost(Duration.ofSeconds(20)).until(() -> ProcessTree.pids(init).stream()
                .anyMatch(p -> ProcessTree.status(p, "Uid").contains("65534")));

        List<String> refusals = WITHOUT_SYS_RESOURCE.refusals(init);
        assertEquals(1, refusals.size(), refusals.toString());
        assertTrue(refusals.get(0).contains("uid 65534/65534/65534") && refusals.get(0).contains("CAP_SYS_RESOURCE"),
                refusals.get(0));
        assertEquals(List.of(), new CheckpointPreflight(true, CEILING).refusals(init));
    }

    @Test
    void aPacketizedPipeIsRefused() throws Exception {
        int init = launch("odirect", "exec python3 -c 'import os, time; r, w = os.pipe2(os.O_DIRECT); open(\"ready\", \"w\").close(); time.sleep(600)'");
        awaitFile("odirect", "ready");

        List<String> refusals = WITHOUT_SYS_RESOURCE.refusals(init);
        // the kernel keeps O_DIRECT on the write end only (criu sees the pipe the same way)
        assertEquals(1, refusals.size(), refusals.toString());
        assertTrue(refusals.get(0).contains("packetized pipe (O_DIRECT) open as fd 4"), refusals.get(0));
    }

    @Test
    void anOrdinaryPipeIsNotRefused() throws Exception {
        int init = launch("pipe", "sleep 600 | cat");
        awaitTreeSize(init, 4);

        assertEquals(List.of(), WITHOUT_SYS_RESOURCE.refusals(init));
    }

    @Test
    void aPosixMessageQueueIsRefused() throws Exception {
        String mq = """
                import ctypes, os, time
                rt = ctypes.CDLL("librt.so.1", use_errno=True)
                rt.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
                assert rt.mq_open(b"/pmig-preflight", os.O_CREAT | os.O_RDWR, 0o600, None) >= 0, ctypes.get_errno()
                open("ready", "w").close()
                time.sleep(600)
                """;
        Files.createDirectories(workloads.dir("mq").resolve("work"));
        Files.writeString(workloads.dir("mq").resolve("work").resolve("mq.py"), mq);
        int init = launch("mq", "exec python3 mq.py");
        awaitFile("mq", "ready");

        List<String> refusals = WITHOUT_SYS_RESOURCE.refusals(init);
        assertEquals(1, refusals.size(), refusals.toString());
        assertTrue(refusals.get(0).contains("POSIX message queue (/pmig-preflight)"), refusals.get(0));
    }

    @Test
    void aNestedUtsNamespaceIsRefused() throws Exception {
        int init = launch("nested", "unshare --uts sleep 600");
        await().atMost(Duration.ofSeconds(20)).until(() -> ProcessTree.pids(init).stream()
                .anyMatch(p -> ProcessTree.read(Path.of("/proc", String.valueOf(p), "comm")).orElse("").equals("sleep")));

        List<String> refusals = WITHOUT_SYS_RESOURCE.refusals(init);
        assertEquals(1, refusals.size(), refusals.toString());
        assertTrue(refusals.get(0).contains("own uts namespace"), refusals.get(0));
    }

    @Test
    void aGhostFileAboveTheCeilingIsRefusedAndOneBelowIsNot() throws Exception {
        int init = launch("ghost", "exec python3 -c 'import os, time; f = open(\"g\", \"wb\"); f.write(bytes(4 << 20)); f.flush(); "
                + "os.unlink(\"g\"); open(\"ready\", \"w\").close(); time.sleep(600)'");
        awaitFile("ghost", "ready");

        assertEquals(4L << 20, GhostFiles.largest(init));
        List<String> refusals = new CheckpointPreflight(false, 2L << 20).refusals(init);
        assertEquals(1, refusals.size(), refusals.toString());
        assertTrue(refusals.get(0).contains("unlinked file of 4194304 bytes"), refusals.get(0));
        assertEquals(List.of(), WITHOUT_SYS_RESOURCE.refusals(init));
    }

    @Test
    void bindMountsOfItsOwnDirectoryATmpfsAndAReadOnlyRemountAreNotRefused() throws Exception {
        String w = Criu.WORKLOAD_MOUNT + "/work";
        int init = launch("mounts", "mkdir -p a/c b d ro t && mount --bind " + w + "/a " + w + "/b && mount --bind "
                + w + "/b/c " + w + "/d && mount --bind " + w + "/a " + w + "/ro && mount -o remount,bind,ro " + w
                + "/ro && mount -t tmpfs tmpfs " + w + "/t && touch ready && exec sleep 600");
        awaitFile("mounts", "ready");

        assertEquals(List.of(), WITHOUT_SYS_RESOURCE.refusals(init));
    }

    @Test
    void aNestedMountNamespaceThatShowsTheWorkloadsDirectoryIsRefused() throws Exception {
        int init = launch("mntns", "unshare -m sh -c 'exec sleep 600 </dev/null >/dev/null 2>&1' & wait");
        await().atMost(Duration.ofSeconds(20)).until(() -> ProcessTree.pids(init).stream()
                .anyMatch(p -> ProcessTree.read(Path.of("/proc", String.valueOf(p), "comm")).orElse("").equals("sleep")));

        List<String> refusals = WITHOUT_SYS_RESOURCE.refusals(init);
        assertEquals(1, refusals.size(), refusals.toString());
        assertTrue(refusals.get(0).contains("(sleep, host pid ")
                && refusals.get(0).contains("mount namespace of its own that shows the workload's directory"), refusals.get(0));
    }

    @Test
    void anotherFilesystemStackedOnABindOfTheDirectoryIsRefused() throws Exception {
        String w = Criu.WORKLOAD_MOUNT + "/work";
        int init = launch("stacked", "mkdir a b && mount --bind " + w + "/a " + w + "/b && mount -t tmpfs tmpfs " + w
                + "/b && touch ready && exec sleep 600");
        awaitFile("stacked", "ready");

        List<String> refusals = WITHOUT_SYS_RESOURCE.refusals(init);
        assertEquals(1, refusals.size(), refusals.toString());
        assertTrue(refusals.get(0).contains("2 mounts stacked at " + w + "/b (of work/a, tmpfs /)"), refusals.get(0));
    }

    @Test
    void aBindMountWhoseSourceTheWorkloadDeletedIsRefused() throws Exception {
        String w = Criu.WORKLOAD_MOUNT + "/work";
        int init = launch("deleted", "mkdir a b && mount --bind " + w + "/a " + w + "/b && rmdir a && touch ready"
                + " && exec sleep 600");
        awaitFile("deleted", "ready");

        List<String> refusals = WITHOUT_SYS_RESOURCE.refusals(init);
        assertEquals(1, refusals.size(), refusals.toString());
        assertTrue(refusals.get(0).contains("bind mount at " + w + "/b shows work/a, which it deleted"), refusals.get(0));
    }

    @Test
    void anOverlayTheWorkloadMountedIsRefused() throws Exception {
        String w = Criu.WORKLOAD_MOUNT + "/work";
        int init = launch("overlay", "mkdir l u o m && mount -t overlay overlay -o lowerdir=" + w + "/l,upperdir=" + w
                + "/u,workdir=" + w + "/o " + w + "/m && touch ready && exec sleep 600");
        awaitFile("overlay", "ready");

        List<String> refusals = WITHOUT_SYS_RESOURCE.refusals(init);
        assertEquals(1, refusals.size(), refusals.toString());
        assertTrue(refusals.get(0).contains("overlay filesystem at " + w + "/m"), refusals.get(0));
    }

    @Test
    void aLoopMountedImageIsRefused() throws Exception {
        String w = Criu.WORKLOAD_MOUNT + "/work";
        int init = launch("loop", "truncate -s 16M disk.img && mkfs.ext4 -q disk.img && mkdir m && mount -o loop " + w
                + "/disk.img " + w + "/m && touch ready && exec sleep 600");
        awaitFile("loop", "ready");

        List<String> refusals = WITHOUT_SYS_RESOURCE.refusals(init);
        assertEquals(1, refusals.size(), refusals.toString());
        assertTrue(refusals.get(0).matches("the workload mounted /dev/loop\\d+ \\(ext4\\) at " + w + "/m: .*"), refusals.get(0));
    }

    @Test
    void stoppedTasksAreNamedByTheirPidInsideTheWorkload() throws Exception {
        int init = launch("stopped", "sleep 600 & echo $! > stopped.pid; kill -STOP $!; sleep 600 & wait");
        awaitFile("stopped", "stopped.pid");
        int inside = Integer.parseInt(Files.readString(workloads.dir("stopped").resolve("work/stopped.pid")).strip());

        await().atMost(Duration.ofSeconds(20)).until(() -> CheckpointPreflight.stoppedTasks(init).equals(Set.of(inside)));
        assertTrue(ProcessTree.pids(init).stream().noneMatch(p -> p == inside), "pids inside differ from host pids here");
        assertEquals(List.of(), WITHOUT_SYS_RESOURCE.refusals(init), "a stopped task is no reason to refuse");
    }

    @Test
    void aGoneInitIsRefused() {
        assertEquals(List.of("the workload's init (host pid 999999999) is not running"),
                WITHOUT_SYS_RESOURCE.refusals(999_999_999));
    }

    private int launch(String id, String script) throws Exception {
        int init = workloads.launch(id, List.of("sh", "-c", script));
        inits.add(init);
        return init;
    }

    private void awaitTreeSize(int init, int size) {
        await().atMost(Duration.ofSeconds(20)).until(() -> ProcessTree.pids(init).size() >= size);
    }

    private void awaitFile(String id, String name) {
        Path file = workloads.dir(id).resolve("work").resolve(name);
        await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(file));
    }
}
