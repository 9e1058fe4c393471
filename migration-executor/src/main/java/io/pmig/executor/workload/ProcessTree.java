package io.pmig.executor.workload;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The processes criu dumps with a workload: its init and every descendant, found the way criu finds them
 * ({@code /proc/<pid>/task/<tid>/children} of every thread, recursively), and what /proc says about each of them.
 * Processes come and go while this reads; one that vanished is simply left out.
 */
public final class ProcessTree {

    private ProcessTree() {
    }

    /** Host pids of {@code rootPid} and all its descendants, parents before children; empty if it is gone. */
    public static List<Integer> pids(int rootPid) {
        Set<Integer> seen = new LinkedHashSet<>();
        Deque<Integer> todo = new ArrayDeque<>(List.of(rootPid));
        while (!todo.isEmpty()) {
            int pid = todo.poll();
            if (!seen.add(pid)) {
                continue;
            }
            Path tasks = Path.of("/proc", String.valueOf(pid), "task");
            try (DirectoryStream<Path> threads = Files.newDirectoryStream(tasks)) {
                for (Path thread : threads) {
                    for (String child : read(thread.resolve("children")).orElse("").split("\\s+")) {
                        if (!child.isEmpty()) {
                            todo.add(Integer.parseInt(child));
                        }
                    }
                }
            } catch (IOException | RuntimeException gone) {
                if (pid == rootPid) {
                    return List.of();
                }
            }
        }
        return new ArrayList<>(seen);
    }

    /** A /proc (or /sys) file read whole and trimmed, or empty if it (or its process) is gone. */
    public static Optional<String> read(Path file) {
        try {
            return Optional.of(new String(Files.readAllBytes(file), java.nio.charset.StandardCharsets.ISO_8859_1).strip());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** The values of one {@code Key:} line of {@code /proc/<pid>/status} (e.g. Uid, NSpid), empty if there is none. */
    public static List<String> status(int pid, String key) {
        return read(Path.of("/proc", String.valueOf(pid), "status")).stream()
                .flatMap(String::lines)
                .filter(l -> l.startsWith(key + ":"))
                .findFirst()
                .map(l -> List.of(l.substring(key.length() + 1).strip().split("\\s+")))
                .orElse(List.of());
    }
}
