package io.pmig.cli.demo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What the witness workload's own output says about its continuity. The witness prints "N EPOCH_MS" every
 * 50 ms with N counting up from 1; across a migration the numbers must go on with none missing or repeated,
 * and the largest time between two lines bounds what the migration cost it.
 */
public record WitnessLog(long lines, long lastNumber, boolean continuous, long maxGapMs) {

    /** The witness: a shell loop, so it checkpoints in a few milliseconds and proves its state by counting. */
    static final String COUNTER = "i=0; while :; do i=$((i+1)); echo \"$i $(date +%s%3N)\"; sleep 0.05; done";
    public static final List<String> ARGV = List.of("sh", "-c", COUNTER);

    /**
     * The counter, plus a load that starts {@code delayS} seconds after launch inside the same workload (so it moves
     * with it and counts as the workload's CPU): {@code load} is an argv run in the background, printing nothing.
     */
    public static List<String> withLoad(int delayS, List<String> load) {
        List<String> argv = new java.util.ArrayList<>(List.of("sh", "-c",
                "delay=$1; shift; (sleep \"$delay\"; exec \"$@\") & " + COUNTER, "pmig-witness", String.valueOf(delayS)));
        argv.addAll(load);
        return List.copyOf(argv);
    }

    public static WitnessLog read(Path stdout) throws IOException {
        String text = Files.readString(stdout);
        List<String> lines = text.lines().toList();
        if (!text.endsWith("\n") && !lines.isEmpty()) {
            lines = lines.subList(0, lines.size() - 1); // the writer is mid-line
        }
        long expected = 1;
        long previousMs = -1;
        long maxGap = 0;
        boolean continuous = true;
        long count = 0;
        for (String line : lines) {
            String[] parts = line.strip().split(" ");
            if (parts.length != 2) {
                continuous = false;
                continue;
            }
            long number = Long.parseLong(parts[0]);
            long ms = Long.parseLong(parts[1]);
            if (number != expected) {
                continuous = false;
            }
            expected = number + 1;
            if (previousMs >= 0) {
                maxGap = Math.max(maxGap, ms - previousMs);
            }
            previousMs = ms;
            count++;
        }
        return new WitnessLog(count, expected - 1, continuous && count > 0, maxGap);
    }
}
