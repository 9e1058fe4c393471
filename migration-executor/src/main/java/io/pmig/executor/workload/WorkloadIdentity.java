package io.pmig.executor.workload;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Which process a workload's init is: its host pid, its start time (clock ticks after boot, field 22 of
 * /proc/PID/stat) and its PID namespace. A pid alone can be reused by an unrelated process; the triple cannot, so
 * the executor - a root daemon - checks it before every signal and dump. Kept in the executor's own journal, never
 * in a file the workload can write.
 */
public record WorkloadIdentity(int pid, long startTicks, String pidNamespace) {

    /** The identity of the running process {@code pid}, or empty if there is none. */
    public static Optional<WorkloadIdentity> of(int pid) {
        if (pid <= 0) {
            return Optional.empty();
        }
        try {
            String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat")).strip();
            String[] afterComm = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            long start = Long.parseLong(afterComm[19]); // field 22 overall; fields 3.. follow the comm
            String ns = Files.readSymbolicLink(Path.of("/proc", String.valueOf(pid), "ns", "pid")).toString();
            return Optional.of(new WorkloadIdentity(pid, start, ns));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Parses {@link #toString()}; empty for anything else. */
    public static Optional<WorkloadIdentity> parse(String text) {
        if (text == null) {
            return Optional.empty();
        }
        String[] parts = text.split("/", 3);
        try {
            return parts.length == 3 ? Optional.of(new WorkloadIdentity(Integer.parseInt(parts[0]),
                    Long.parseLong(parts[1]), parts[2])) : Optional.empty();
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** True while this very process exists (alive or stopped, not a zombie). */
    public boolean isPresent() {
        return ProcessTable.isAlive(pid) && of(pid).map(this::equals).orElse(false);
    }

    @Override
    public String toString() {
        return pid + "/" + startTicks + "/" + pidNamespace;
    }
}
