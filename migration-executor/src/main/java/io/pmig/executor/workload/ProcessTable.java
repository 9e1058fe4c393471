package io.pmig.executor.workload;

import io.pmig.executor.network.WorkloadNetwork;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** What /proc says about host processes, and the signals the JVM cannot send by itself. */
public final class ProcessTable {

    private ProcessTable() {
    }

    /**
     * Alive = /proc/PID/stat exists and its state is not zombie or dead. Not {@code kill -0}: a detached or
     * restored init is reaped by host PID 1, which is slow here, so a dumped init lingers as a zombie.
     */
    public static boolean isAlive(int pid) {
        return state(pid) != 0 && state(pid) != 'Z' && state(pid) != 'X';
    }

    /** The state letter of /proc/PID/stat (R, S, T, Z, ...), 0 if there is no such process. */
    public static char state(int pid) {
        if (pid <= 0) {
            return 0;
        }
        try {
            String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat"));
            int close = stat.lastIndexOf(')'); // comm may contain spaces and parentheses
            return stat.charAt(close + 2);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** Every host pid in the PID namespace whose init is {@code initPid} (the init included). */
    public static List<Integer> namespaceMembers(int initPid) {
        List<Integer> members = new ArrayList<>();
        Path ns;
        try {
            ns = Files.readSymbolicLink(Path.of("/proc", String.valueOf(initPid), "ns", "pid"));
        } catch (IOException e) {
            return members;
        }
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).forEach(p -> {
                try {
                    if (Files.readSymbolicLink(p.resolve("ns/pid")).equals(ns)) {
                        members.add(Integer.parseInt(p.getFileName().toString()));
                    }
                } catch (IOException | RuntimeException ignored) {
                    // the process exited while we looked
                }
            });
        } catch (IOException e) {
            return members;
        }
        return members;
    }

    /**
     * Sends a signal with the shell's builtin kill; true if it reached every pid. Not /bin/kill: slim images (our
     * container base, eclipse-temurin) have no procps, and a SIGCONT that never came left restored workloads stopped.
     */
    public static boolean signal(String signal, List<Integer> pids) {
        if (pids.isEmpty()) {
            return true;
        }
        List<String> cmd = new ArrayList<>(List.of("sh", "-c", "kill -s \"$0\" \"$@\"", signal));
        pids.forEach(p -> cmd.add(String.valueOf(p)));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Waits (at most {@code timeout}) until {@code pid} is no longer alive. The init of a PID namespace exits only after
     * every other process in it, so a gone init means a gone namespace.
     */
    public static void awaitGone(int pid, java.time.Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (isAlive(pid) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Kills a whole workload: SIGKILL to the init of a PID namespace takes every process in it down. */
    public static void killNamespace(int initPid) {
        if (isAlive(initPid)) {
            signal("KILL", List.of(initPid));
        }
    }

    /** The pid {@code hostPid} has inside its own PID namespace (the last NSpid value), 0 if unknown. */
    public static int namespacePid(int hostPid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(hostPid), "status"))) {
                if (line.startsWith("NSpid:")) {
                    String[] pids = line.substring(6).strip().split("\\s+");
                    return Integer.parseInt(pids[pids.length - 1]);
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    /**
     * True if a process of the workload holds an inet socket or an abstract unix socket: addresses that belong to
     * the network namespace, which a copy restored in the same namespace would have to take while the frozen source
     * still holds them (criu: "Can't bind", "Cannot assign requested address").
     */
    public static boolean holdsNetworkAddresses(int initPid) {
        if (WorkloadNetwork.hasOwnNamespace(initPid)) {
            return false; // its addresses are in its own namespace, which travels with it
        }
        java.util.Set<String> inodes = new java.util.HashSet<>();
        for (int pid : namespaceMembers(initPid)) {
            try (Stream<Path> fds = Files.list(Path.of("/proc", String.valueOf(pid), "fd"))) {
                fds.forEach(fd -> {
                    try {
                        String target = Files.readSymbolicLink(fd).toString();
                        if (target.startsWith("socket:[")) {
                            inodes.add(target.substring(8, target.length() - 1));
                        }
                    } catch (IOException | RuntimeException ignored) {
                        // closed while we looked
                    }
                });
            } catch (IOException | RuntimeException ignored) {
                // exited while we looked
            }
        }
        if (inodes.isEmpty()) {
            return false;
        }
        Path net = Path.of("/proc", String.valueOf(initPid), "net");
        for (String table : List.of("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udplite", "udplite6")) {
            try {
                for (String line : Files.readAllLines(net.resolve(table))) {
                    String[] cols = line.strip().split("\\s+");
                    if (cols.length > 9 && inodes.contains(cols[9])) {
                        return true;
                    }
                }
            } catch (IOException | RuntimeException ignored) {
                // no such protocol here
            }
        }
        try {
            for (String line : Files.readAllLines(net.resolve("unix"))) {
                String[] cols = line.strip().split("\\s+");
                if (cols.length > 7 && inodes.contains(cols[6]) && cols[7].startsWith("@")) {
                    return true;
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // no unix table
        }
        return false;
    }

    /** The direct children of {@code pid} (every thread's), empty if it is gone. */
    public static List<Integer> children(int pid) {
        List<Integer> children = new ArrayList<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc", String.valueOf(pid), "task"))) {
            for (Path task : tasks.toList()) {
                String list = Files.readString(task.resolve("children")).strip();
                if (!list.isEmpty()) {
                    for (String child : list.split("\\s+")) {
                        children.add(Integer.parseInt(child));
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            return children;
        }
        return children;
    }
}
