package io.pmig.executor.workload;

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
}
