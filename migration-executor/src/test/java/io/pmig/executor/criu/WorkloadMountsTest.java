package io.pmig.executor.criu;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.workload.InitBinary;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.executor.workload.ProcessTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which of a real workload's mounts (under pmig-init, nothing dumped) are marked external and how a restore maps them
 * back; that criu then carries them is WorkloadMountMigrationTest's real migration.
 */
class WorkloadMountsTest {

    @TempDir
    Path workdir;
    @TempDir
    Path images;
    private final List<Integer> inits = new ArrayList<>();

    @AfterEach
    void killWorkloads() {
        inits.forEach(ProcessTable::killNamespace);
        inits.forEach(pid -> ProcessTable.awaitGone(pid, Duration.ofSeconds(5)));
    }

    @Test
    void eachBindOfTheDirectoryIsMarkedByItsMountPointAndRestoredFromTheSamePlaceInAnotherDirectory() throws Exception {
        NodeWorkloads workloads = new NodeWorkloads(workdir, InitBinary.install(InitBinary.DEFAULT_PATH));
        String w = Criu.WORKLOAD_MOUNT + "/work";
        int init = workloads.launch("binds", List.of("sh", "-c", String.join(" && ",
                "mkdir -p 'with space' data/sub view twice tmp",
                "mount --bind '" + w + "/with space' " + w + "/view",
                "mount --bind " + w + "/data/sub '" + w + "/with space'",
                "mount --bind " + w + "/data " + w + "/twice", "mount --bind " + w + "/data " + w + "/twice",
                "mount -t tmpfs tmpfs " + w + "/tmp", "touch ready", "exec sleep 600")));
        inits.add(init);
        await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(workloads.dir("binds").resolve("work/ready")));

        WorkloadMounts mounts = WorkloadMounts.of(init);

        assertEquals(List.of(), mounts.problems());
        assertEquals(List.of(
                new WorkloadMounts.Carried(w + "/twice", "wl-1", "work/data"),
                new WorkloadMounts.Carried(w + "/view", "wl-2", "work/with space"),
                new WorkloadMounts.Carried(w + "/with space", "wl-3", "work/data/sub")), mounts.carried());
        assertEquals(List.of("--external", "mnt[" + w + "/twice]:wl-1", "--external", "mnt[" + w + "/view]:wl-2",
                "--external", "mnt[" + w + "/with space]:wl-3"), mounts.dumpOptions());
        mounts.record(images);
        Path elsewhere = Path.of("/var/lib/pmig-other/workloads/binds");
        assertEquals(List.of("--external", "mnt[wl-1]:" + elsewhere.resolve("work/data"),
                "--external", "mnt[wl-2]:" + elsewhere.resolve("work/with space"),
                "--external", "mnt[wl-3]:" + elsewhere.resolve("work/data/sub")),
                WorkloadMounts.restoreOptions(images, elsewhere));
        assertTrue(WorkloadMounts.of(init).sameAs(mounts));
    }

    @Test
    void imagesWithoutARecordRestoreOnlyTheDirectory() throws Exception {
        assertEquals(List.of(), WorkloadMounts.restoreOptions(images, Path.of("/w")));
    }

    @Test
    void aRecordNamingAPathOutsideTheDirectoryIsRefused() throws Exception {
        for (String relative : List.of("../other", "/etc", "work/../../other")) {
            Files.writeString(images.resolve(WorkloadMounts.RECORD), "wl-1=" + relative + "\n");
            CriuException e = assertThrows(CriuException.class, () -> WorkloadMounts.restoreOptions(images, Path.of("/w")));
            assertTrue(e.getMessage().contains("not a path inside the workload's directory"), e.getMessage());
        }
        Files.writeString(images.resolve(WorkloadMounts.RECORD), "proc=work\n");
        assertThrows(CriuException.class, () -> WorkloadMounts.restoreOptions(images, Path.of("/w")));
    }
}
