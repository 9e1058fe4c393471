package io.pmig.agent.sampling;

import java.io.FileInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Every process on the host at one instant, read from {@code /proc/<pid>/stat} (one read per process).
 * OSHI's {@code getProcesses()} reads several files per process and cost 7-12 ms per scan here against
 * 1.5-2 ms for this, which matters at 1 Hz with a 2 %-of-a-core budget; OSHI still supplies the clock tick
 * rate and page size used to interpret the figures.
 */
public final class ProcessTable {

    /** A stat line has 52 numeric fields and a name of at most 15 bytes, so it always fits. */
    private static final int STAT_LINE_MAX = 2048;

    /** The fields of {@code /proc/<pid>/stat} pmig uses; cpuTicks is user plus system time. */
    public record ProcessStat(int pid, int parentPid, String name, char state, long cpuTicks, int threads,
                              long startTicks, long rssPages) {

        /** Human-readable state, as {@code ps} documents the one-letter codes. */
        public String stateName() {
            return switch (state) {
                case 'R' -> "RUNNING";
                case 'S' -> "SLEEPING";
                case 'D' -> "WAITING";
                case 'Z' -> "ZOMBIE";
                case 'T', 't' -> "STOPPED";
                case 'I' -> "IDLE";
                case 'X', 'x' -> "DEAD";
                default -> "OTHER";
            };
        }
    }

    private final Map<Integer, ProcessStat> byPid;
    private final long scannedAtNanos;
    private Map<Integer, List<ProcessStat>> childrenByParent;

    private ProcessTable(Map<Integer, ProcessStat> byPid, long scannedAtNanos) {
        this.byPid = byPid;
        this.scannedAtNanos = scannedAtNanos;
    }

    public static ProcessTable scan() {
        return scan(Path.of("/proc"));
    }

    static ProcessTable scan(Path proc) {
        Map<Integer, ProcessStat> byPid = new HashMap<>(256);
        byte[] line = new byte[STAT_LINE_MAX];
        long now = System.nanoTime();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(proc)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (name.isEmpty() || !Character.isDigit(name.charAt(0))) {
                    continue;
                }
                try (FileInputStream in = new FileInputStream(entry.resolve("stat").toFile())) {
                    ProcessStat stat = parseStat(line, in.readNBytes(line, 0, line.length));
                    if (stat != null) {
                        byPid.put(stat.pid(), stat);
                    }
                } catch (IOException exitedMeanwhile) {
                    // the process ended between listing and reading; it is simply not in this scan
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list " + proc + ": " + e.getMessage(), e);
        }
        return new ProcessTable(byPid, now);
    }

    /**
     * Parses one stat line from bytes (one reused buffer per scan: this runs for every process every second).
     * The name sits in parentheses and may itself contain spaces and parentheses, so fields count from the last ')'.
     */
    static ProcessStat parseStat(byte[] line, int length) {
        int open = -1;
        int close = -1;
        for (int i = 0; i < length; i++) {
            if (line[i] == '(' && open < 0) {
                open = i;
            } else if (line[i] == ')') {
                close = i;
            }
        }
        if (open < 1 || close < open || close + 2 >= length) {
            return null;
        }
        // Field numbers as in proc(5): 3 state, 4 ppid, 14 utime, 15 stime, 20 num_threads, 22 starttime, 24 rss.
        long[] fields = new long[25];
        char state = (char) line[close + 2];
        int field = 3;
        for (int i = close + 2; i < length && field <= 24; i++) {
            byte b = line[i];
            if (b == ' ') {
                field++;
            } else if (b >= '0' && b <= '9' && field > 3) {
                fields[field] = fields[field] * 10 + (b - '0');
            }
        }
        if (field < 24) {
            return null; // truncated line
        }
        int pid = (int) parseDigits(line, 0, open - 1);
        String name = new String(line, open + 1, close - open - 1, StandardCharsets.UTF_8);
        return new ProcessStat(pid, (int) fields[4], name, state, fields[14] + fields[15], (int) fields[20],
                fields[22], fields[24]);
    }

    private static long parseDigits(byte[] bytes, int from, int to) {
        long value = 0;
        for (int i = from; i < to; i++) {
            value = value * 10 + (bytes[i] - '0');
        }
        return value;
    }

    public int size() {
        return byPid.size();
    }

    public ProcessStat get(int pid) {
        return byPid.get(pid);
    }

    public Collection<ProcessStat> all() {
        return byPid.values();
    }

    public long scannedAtNanos() {
        return scannedAtNanos;
    }

    /** The process and all its descendants that are alive in this scan. */
    public List<ProcessStat> treeOf(int rootPid) {
        List<ProcessStat> tree = new ArrayList<>();
        ProcessStat root = byPid.get(rootPid);
        if (root == null) {
            return tree;
        }
        tree.add(root);
        for (int i = 0; i < tree.size(); i++) {
            tree.addAll(childrenOf(tree.get(i).pid()));
        }
        return tree;
    }

    public List<ProcessStat> childrenOf(int pid) {
        if (childrenByParent == null) {
            childrenByParent = new HashMap<>();
            for (ProcessStat stat : byPid.values()) {
                if (stat.pid() != stat.parentPid()) {
                    childrenByParent.computeIfAbsent(stat.parentPid(), p -> new ArrayList<>()).add(stat);
                }
            }
        }
        return childrenByParent.getOrDefault(pid, List.of());
    }

    /**
     * CPU use of one process since an earlier scan, in percent of one core. A pid missing from the earlier
     * scan (or reused: different start time) started in between, so all its CPU time falls in the interval.
     */
    public double cpuPercentSince(ProcessTable earlier, ProcessStat now, long ticksPerSecond) {
        double seconds = (scannedAtNanos - earlier.scannedAtNanos) / 1e9;
        if (seconds <= 0) {
            return 0;
        }
        ProcessStat before = earlier.byPid.get(now.pid());
        long ticks = before != null && before.startTicks() == now.startTicks()
                ? now.cpuTicks() - before.cpuTicks() : now.cpuTicks();
        return Math.max(0, ticks) * 100.0 / ticksPerSecond / seconds;
    }
}
