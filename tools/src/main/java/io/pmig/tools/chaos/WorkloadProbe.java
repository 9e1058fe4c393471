package io.pmig.tools.chaos;

import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.executor.workload.ProcessTable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Where a witness really runs, from the kernel's point of view rather than the executors': every live process whose
 * command line carries the workload's marker, grouped by PID namespace (one namespace = one copy of the workload,
 * whichever node's executor thinks it owns it), plus the pid files the nodes keep.
 */
final class WorkloadProbe {

    /** One copy of a workload: its PID namespace and member pids; stopped = every member is in state T. */
    record Copy(String namespace, List<Integer> pids, boolean stopped) {
    }

    private WorkloadProbe() {
    }

    /** Every copy whose processes carry {@code marker} in their command line (zombies excluded). */
    static List<Copy> copies(String marker) {
        Map<String, List<Integer>> byNamespace = new LinkedHashMap<>();
        Map<String, Boolean> allStopped = new LinkedHashMap<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).toList()) {
                int pid = Integer.parseInt(p.getFileName().toString());
                try {
                    String cmdline = Files.readString(p.resolve("cmdline"));
                    if (!cmdline.contains(marker) || !ProcessTable.isAlive(pid)) {
                        continue;
                    }
                    String ns = Files.readSymbolicLink(p.resolve("ns/pid")).toString();
                    byNamespace.computeIfAbsent(ns, k -> new ArrayList<>()).add(pid);
                    allStopped.merge(ns, ProcessTable.state(pid) == 'T' || ProcessTable.state(pid) == 't', Boolean::logicalAnd);
                } catch (IOException | RuntimeException gone) {
                    // exited while we looked
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc: " + e.getMessage(), e);
        }
        List<Copy> copies = new ArrayList<>();
        byNamespace.forEach((ns, pids) -> copies.add(new Copy(ns, pids, allStopped.get(ns))));
        return copies;
    }

    /** True if the node's pid file for the workload names a live process. */
    static boolean pidFileLive(Path workdir, String workloadId) {
        return new NodeWorkloads(workdir, null).isRunning(workloadId);
    }

    static Path stdout(Path workdir, String workloadId) {
        return workdir.resolve("workloads").resolve(workloadId).resolve("stdout.log");
    }

    /** Kills every process of every copy (cleanup of what the executors did not stop). */
    static void killAll(List<Copy> copies) {
        List<Integer> pids = copies.stream().flatMap(c -> c.pids().stream()).toList();
        ProcessTable.signal("KILL", pids);
    }

    /** The migration journals left in the node's work dir (migrations not finished there, or kept on purpose). */
    static java.util.Set<Path> journals(Path workdir) {
        Path root = workdir.resolve("migrations");
        if (!Files.isDirectory(root)) {
            return java.util.Set.of();
        }
        try (Stream<Path> dirs = Files.list(root)) {
            return dirs.filter(Files::isDirectory).collect(java.util.stream.Collectors.toSet());
        } catch (IOException e) {
            return java.util.Set.of();
        }
    }
}
