package io.pmig.executor.migration;

import io.pmig.executor.criu.Criu;
import io.pmig.executor.criu.GhostFiles;
import io.pmig.executor.criu.WorkloadMounts;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.executor.workload.ProcessTree;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * What pmig can tell about a workload before freezing it: the reasons criu would refuse to checkpoint or restore it
 * here, so a migration fails at once with the reason instead of after a 1-2 s freeze and a rollback, and which of its
 * tasks are stopped, so they can be kept stopped after the restore. Reads only /proc; the workload keeps running.
 *
 * <p>Each check is a refusal criu 4.2.1 was seen to make on this kind of host (FACTS.md and measured):
 * <ul>
 *   <li>a process whose real, effective or saved uid or gid differs from the executor's, when the executor lacks
 *       CAP_SYS_RESOURCE: criu reads every task's rlimits with prlimit(), which the kernel then denies
 *       ("Can't get rlimit 0: Operation not permitted");</li>
 *   <li>a packetized pipe (pipe2() with O_DIRECT; fdinfo shows the flag on its write end): "pipes.c:490",
 *       unsupported;</li>
 *   <li>a traced process (a debugger, strace): criu cannot seize a task another tracer holds;</li>
 *   <li>a namespace other than a mount namespace nested inside the workload's ("Can't dump nested pid namespace";
 *       a nested network namespace dumps but "Can't restore sub-task in NS");</li>
 *   <li>mounts criu cannot carry to the destination ({@link WorkloadMounts}): a nested mount namespace that shows
 *       the workload's directory (criu restores it from the source node's path), mounts stacked at one mount point
 *       over a bind of the directory, a bind mount whose source the workload deleted, an overlay ("Unable to mount
 *       overlay" at restore), a device's filesystem the node has not mounted (a loop image: "FS mnt ...
 *       unsupported");</li>
 *   <li>an open file on a mount the workload's mount namespace does not show ("Can't lookup mount=N for fd=..."),
 *       which is what every POSIX message queue descriptor is: criu cannot checkpoint mq_open() queues at all
 *       (upstream issue #2285);</li>
 *   <li>an unlinked-but-open file larger than the ghost limit ceiling ({@link Criu#ghostLimitCeiling()}).</li>
 * </ul>
 * The tree is the one criu dumps: the init and its descendants through {@code /proc/<pid>/task/<tid>/children}.
 * Processes may change between this look and the freeze; a refusal is certain, an empty answer is a good sign.
 */
public final class CheckpointPreflight {

    private static final int CAP_SYS_RESOURCE = 24;
    private static final int O_DIRECT = 040000;
    /** Nested in the workload's, these stop criu; a nested mount namespace only if it shows the workload's directory. */
    private static final List<String> UNSUPPORTED_NESTED_NAMESPACES = List.of(
            "pid", "pid_for_children", "net", "user", "uts", "ipc", "cgroup", "time", "time_for_children");

    private final boolean mayDumpOtherUsers;
    private final long ghostLimitCeiling;

    /**
     * @param mayDumpOtherUsers whether criu, run by this executor, can dump a process of another uid or gid
     *                          (it can with CAP_SYS_RESOURCE; see {@link #executorHasCapSysResource()})
     * @param ghostLimitCeiling the largest unlinked-but-open file a dump may carry ({@link Criu#ghostLimitCeiling()})
     */
    public CheckpointPreflight(boolean mayDumpOtherUsers, long ghostLimitCeiling) {
        this.mayDumpOtherUsers = mayDumpOtherUsers;
        this.ghostLimitCeiling = ghostLimitCeiling;
    }

    /** The preflight for this executor and criu: CAP_SYS_RESOURCE read from this process, the criu's ghost ceiling. */
    public static CheckpointPreflight forThisExecutor(Criu criu) {
        return new CheckpointPreflight(executorHasCapSysResource(), criu.ghostLimitCeiling());
    }

    /** True if this process (the executor, and the criu it starts) holds CAP_SYS_RESOURCE in its effective set. */
    public static boolean executorHasCapSysResource() {
        return ProcessTree.status((int) ProcessHandle.current().pid(), "CapEff").stream().findFirst()
                .map(hex -> new BigInteger(hex, 16).testBit(CAP_SYS_RESOURCE))
                .orElse(false);
    }

    /**
     * Why pmig cannot checkpoint the workload whose init has host pid {@code initPid}, one sentence per problem
     * (naming the process by its pid inside the workload, its command and its host pid); empty if nothing is known
     * to stop it. Call it before any freeze; refuse the migration with these reasons if it is not empty.
     */
    public List<String> refusals(int initPid) {
        List<String> reasons = new ArrayList<>();
        List<Integer> tree = ProcessTree.pids(initPid);
        if (tree.isEmpty() || !ProcessTable.isAlive(initPid)) {
            return List.of("the workload's init (host pid " + initPid + ") is not running");
        }
        List<String> executorUid = ProcessTree.status((int) ProcessHandle.current().pid(), "Uid");
        List<String> executorGid = ProcessTree.status((int) ProcessHandle.current().pid(), "Gid");
        for (int pid : tree) {
            if (!ProcessTable.isAlive(pid)) {
                continue;
            }
            String who = describe(pid);
            if (!mayDumpOtherUsers) {
                otherUser(pid, who, executorUid, executorGid).ifPresent(reasons::add);
            }
            List<String> tracer = ProcessTree.status(pid, "TracerPid");
            if (!tracer.isEmpty() && !tracer.get(0).equals("0")) {
                reasons.add(who + " is traced by host pid " + tracer.get(0)
                        + " (a debugger or strace): criu cannot seize a traced task");
            }
            if (pid != initPid) {
                nestedNamespaces(initPid, pid, who).ifPresent(reasons::add);
            }
            reasons.addAll(descriptorProblems(pid, who));
        }
        reasons.addAll(WorkloadMounts.of(initPid).problems());
        Map<String, Long> ghosts = GhostFiles.held(initPid);
        long largest = ghosts.values().stream().mapToLong(Long::longValue).max().orElse(0);
        if (largest > ghostLimitCeiling) {
            reasons.add("the workload holds an unlinked file of " + largest + " bytes open, above the ghost limit ceiling of "
                    + ghostLimitCeiling + " bytes (criu copies such files into the checkpoint; raise --ghost-limit-ceiling)");
        }
        return reasons;
    }

    /**
     * The pids, as the workload itself sees them (the last value of {@code NSpid}), of its processes that are stopped
     * now (state T: SIGSTOP, job control). criu keeps them stopped; a migration must not resume them afterwards.
     */
    public static SortedSet<Integer> stoppedTasks(int initPid) {
        SortedSet<Integer> stopped = new TreeSet<>();
        for (int pid : ProcessTree.pids(initPid)) {
            if (ProcessTable.state(pid) == 'T') {
                namespacePid(pid).ifPresent(stopped::add);
            }
        }
        return stopped;
    }

    private static Optional<String> otherUser(int pid, String who, List<String> executorUid, List<String> executorGid) {
        List<String> uid = ProcessTree.status(pid, "Uid");
        List<String> gid = ProcessTree.status(pid, "Gid");
        // real, effective, saved: what the kernel compares before letting prlimit() read another task's limits
        if (uid.size() < 3 || gid.size() < 3 || executorUid.size() < 3 || executorGid.size() < 3
                || (uid.subList(0, 3).stream().allMatch(executorUid.get(0)::equals)
                    && gid.subList(0, 3).stream().allMatch(executorGid.get(0)::equals))) {
            return Optional.empty();
        }
        return Optional.of(who + " runs as uid " + String.join("/", uid.subList(0, 3)) + " gid "
                + String.join("/", gid.subList(0, 3)) + " (real/effective/saved), not as the executor's uid "
                + executorUid.get(0) + " gid " + executorGid.get(0) + ": criu cannot dump it on a host whose root lacks "
                + "CAP_SYS_RESOURCE (\"Can't get rlimit 0: Operation not permitted\")");
    }

    private static Optional<String> nestedNamespaces(int initPid, int pid, String who) {
        List<String> nested = new ArrayList<>();
        for (String ns : UNSUPPORTED_NESTED_NAMESPACES) {
            Optional<Path> mine = nsLink(pid, ns);
            Optional<Path> init = nsLink(initPid, ns);
            if (mine.isPresent() && init.isPresent() && !mine.equals(init)) {
                nested.add(ns);
            }
        }
        return nested.isEmpty() ? Optional.empty() : Optional.of(who + " is in its own " + String.join(", ", nested)
                + " namespace inside the workload's: criu can checkpoint only nested mount namespaces");
    }

    private static Optional<Path> nsLink(int pid, String ns) {
        try {
            return Optional.of(Files.readSymbolicLink(Path.of("/proc", String.valueOf(pid), "ns", ns)));
        } catch (IOException | UnsupportedOperationException e) {
            return Optional.empty();
        }
    }

    /** Packetized pipes and descriptors on mounts the process's mount namespace does not show. */
    private static List<String> descriptorProblems(int pid, String who) {
        List<String> problems = new ArrayList<>();
        Path proc = Path.of("/proc", String.valueOf(pid));
        Set<String> visibleMounts = new HashSet<>();
        Set<String> mqueueDevices = new HashSet<>();
        ProcessTree.read(proc.resolve("mountinfo")).orElse("").lines().forEach(line -> {
            String[] f = line.split(" ");
            if (f.length > 2) {
                visibleMounts.add(f[0]);
                int sep = line.indexOf(" - ");
                if (sep > 0 && line.startsWith("mqueue ", sep + 3)) {
                    mqueueDevices.add(f[2]);
                }
            }
        });
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fd"))) {
            for (Path fd : fds) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException closed) {
                    continue;
                }
                String fdinfo = ProcessTree.read(proc.resolve("fdinfo").resolve(fd.getFileName())).orElse("");
                if (target.startsWith("pipe:") && (fdinfoValue(fdinfo, "flags").map(v -> Integer.parseInt(v, 8)).orElse(0) & O_DIRECT) != 0) {
                    problems.add(who + " has a packetized pipe (O_DIRECT) open as fd " + fd.getFileName()
                            + ": criu cannot checkpoint those");
                } else if (target.startsWith("/")) {
                    Optional<String> mount = fdinfoValue(fdinfo, "mnt_id");
                    if (mount.isPresent() && !visibleMounts.contains(mount.get())) {
                        boolean mqueue = device(fd).map(mqueueDevices::contains).orElse(false);
                        problems.add(who + (mqueue
                                ? " has a POSIX message queue (" + target + ") open as fd " + fd.getFileName()
                                        + ": criu cannot checkpoint mq_open() queues"
                                : " has " + target + " open as fd " + fd.getFileName() + " on a mount (id " + mount.get()
                                        + ") outside its mount namespace: criu cannot checkpoint it"));
                    }
                }
            }
        } catch (IOException | RuntimeException gone) {
            // the process exited while we looked
        }
        return problems;
    }

    private static Optional<String> fdinfoValue(String fdinfo, String key) {
        return fdinfo.lines().filter(l -> l.startsWith(key + ":")).findFirst()
                .map(l -> l.substring(key.length() + 1).strip());
    }

    /** The "major:minor" of the file behind a descriptor, as mountinfo writes it. */
    private static Optional<String> device(Path fd) {
        try {
            long dev = ((Number) Files.getAttribute(fd, "unix:dev")).longValue();
            long major = ((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL);
            long minor = (dev & 0xff) | ((dev >>> 12) & ~0xffL);
            return Optional.of(major + ":" + minor);
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static Optional<Integer> namespacePid(int pid) {
        List<String> nspid = ProcessTree.status(pid, "NSpid");
        return nspid.isEmpty() ? Optional.empty() : Optional.of(Integer.parseInt(nspid.get(nspid.size() - 1)));
    }

    private static String describe(int pid) {
        String comm = ProcessTree.read(Path.of("/proc", String.valueOf(pid), "comm")).orElse("?");
        return "process " + namespacePid(pid).map(String::valueOf).orElse("?") + " (" + comm + ", host pid " + pid + ")";
    }
}
