package io.pmig.executor.criu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.criu.MountInfo.Mount;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which mounts of a workload's namespace are the node's (mount tables as pmig-init leaves them on this kind of host),
 * and what a restore makes of the record; HostMountMigrationTest moves a real workload.
 */
class HostMountsTest {

    @TempDir
    Path images;

    private static final Mount ROOT = new Mount("254:0", "/", "/", "ext4", "/dev/vda");
    private static final Mount SYS = new Mount("0:22", "/", "/sys", "sysfs", "sysfs");
    private static final Mount CGROUP_TMPFS = new Mount("0:28", "/", "/sys/fs/cgroup", "tmpfs", "tmpfs");
    private static final Mount CGROUP_CPU = new Mount("0:29", "/", "/sys/fs/cgroup/cpu", "cgroup", "cgroup");
    private static final Mount DEV = new Mount("0:6", "/", "/dev", "devtmpfs", "devtmpfs");
    private static final Mount PTS = new Mount("0:24", "/", "/dev/pts", "devpts", "devpts");
    private static final Mount PTS_AGAIN = new Mount("0:26", "/", "/dev/pts", "devpts", "devpts");
    private static final Mount NODE_SHM = new Mount("0:23", "/", "/dev/shm", "tmpfs", "tmpfs");
    private static final Mount RUN = new Mount("0:42", "/", "/run", "tmpfs", "tmpfs");
    private static final Mount RUN_USER = new Mount("0:43", "/", "/run/user/0", "tmpfs", "tmpfs");
    private static final Mount DATA = new Mount("8:17", "/", "/srv/data", "xfs", "/dev/sdb1");
    private static final Mount ODD = new Mount("0:44", "/", "/srv/odd]name", "tmpfs", "tmpfs");

    private static final List<Mount> NODE = List.of(ROOT, SYS, CGROUP_TMPFS, CGROUP_CPU, DEV, PTS, PTS_AGAIN, NODE_SHM,
            RUN, RUN_USER, DATA, ODD, new Mount("0:21", "/", "/proc", "proc", "proc"));

    @Test
    void theNodesMountsAreMarkedButNotTheRootKernelFilesystemsOrWhatTheWorkloadMounted() {
        List<Mount> workload = List.of(ROOT, SYS, CGROUP_TMPFS, CGROUP_CPU, DEV, PTS, PTS_AGAIN, RUN, RUN_USER, DATA,
                new Mount("0:50", "/", "/proc", "proc", "proc"),                      // pmig-init's own /proc
                new Mount("0:51", "/", "/dev/shm", "tmpfs", "tmpfs"),                 // and /dev/shm, /dev/mqueue
                new Mount("0:52", "/", "/dev/mqueue", "mqueue", "mqueue"),
                new Mount("254:0", "/var/lib/pmig/nodes/a/workloads/w", Criu.WORKLOAD_MOUNT, "ext4", "/dev/vda"),
                new Mount("0:53", "/", "/run/app", "tmpfs", "own"),                   // the workload's, on the node's
                new Mount("0:42", "/sub", "/srv/bind", "tmpfs", "tmpfs"));            // its bind of a node tmpfs

        HostMounts mounts = HostMounts.of(workload, NODE);

        assertEquals(List.of(new HostMounts.Marked("/run", "host-1", "tmpfs"),
                new HostMounts.Marked("/run/user/0", "host-2", "tmpfs"),
                new HostMounts.Marked("/srv/data", "host-3", "xfs"),
                new HostMounts.Marked("/sys/fs/cgroup", "host-4", "tmpfs")), mounts.marked());
        assertEquals(List.of("--external", "mnt[/run]:host-1", "--external", "mnt[/run/user/0]:host-2",
                "--external", "mnt[/srv/data]:host-3", "--external", "mnt[/sys/fs/cgroup]:host-4"), mounts.dumpOptions());
        assertEquals(List.of(), mounts.unmarked());
    }

    @Test
    void aMountPointWhereTheWorkloadStackedItsOwnMountOrThatCriuCannotBeToldIsCopiedAsBefore() {
        Mount ownOnRun = new Mount("0:60", "/", "/run", "tmpfs", "own");
        HostMounts mounts = HostMounts.of(List.of(ROOT, RUN, ownOnRun, ODD), NODE);

        assertEquals(List.of(), mounts.marked());
        assertEquals(2, mounts.unmarked().size(), mounts.unmarked().toString());
        assertTrue(mounts.unmarked().get(0).startsWith("/run (the node's tmpfs with the workload's own mount"),
                mounts.unmarked().toString());
        assertTrue(mounts.unmarked().get(1).startsWith("/srv/odd]name"), mounts.unmarked().toString());
    }

    @Test
    void aRestoreBindsThisNodesMountsAndRefusesOnesItLacks() throws Exception {
        Files.writeString(images.resolve(HostMounts.RECORD), "host-1=/\nhost-1.fstype=ext4\n");
        assertEquals(List.of("--external", "mnt[host-1]:/"), HostMounts.restoreOptions(images));

        Files.writeString(images.resolve(HostMounts.RECORD),
                "host-1=/\nhost-2=/var/lib/pmig-no-such-mount\nhost-2.fstype=tmpfs\n");
        CriuException e = assertThrows(CriuException.class, () -> HostMounts.restoreOptions(images));
        assertTrue(e.getMessage().startsWith("this node has no mount at /var/lib/pmig-no-such-mount (tmpfs), which"),
                e.getMessage());
    }

    @Test
    void imagesWithoutARecordRestoreAsBeforeAndABadRecordIsRefused() throws Exception {
        assertEquals(List.of(), HostMounts.restoreOptions(images));
        for (String record : List.of("host-1=relative\n", "host-1=/a/../etc\n", "wl-1=/\n", "host-x=/\n")) {
            Files.writeString(images.resolve(HostMounts.RECORD), record);
            CriuException e = assertThrows(CriuException.class, () -> HostMounts.restoreOptions(images), record);
            assertTrue(e.getMessage().contains("not a key of a node mount"), e.getMessage());
        }
    }
}
