package io.pmig.cli.trace;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * The seeded, randomized plan of real loads that {@code pmig record-trace} runs on each node: back-to-back
 * segments, each one of the patterns below, separated by short quiet gaps. Overloads come both with a clear
 * run-up (CPU ramps, memory leaks) and without one (spikes), and look-alikes that stop short of an overload
 * (near-miss ramps and leaks, one-second blips, steady moderate load) keep the task honest. Light background
 * processes, like the demo's witness, overlap the other segments on some stretches of each node.
 */
final class LoadSchedule {

    enum Kind {
        /** Nothing runs. */
        IDLE,
        /** A steady share of the node's CPU below overload. */
        STEADY,
        /** CPU rising from a low share past the node's capacity, then held there: an overload with a run-up. */
        RAMP,
        /** CPU rising, then levelling off below overload. */
        NEAR_MISS_RAMP,
        /** A full busy core at once (pmig fault cpu): an overload without warning. */
        SPIKE,
        /** A busy core for a second: hot, but too short to be an overload. */
        BLIP,
        /** A process leaking memory past 90 % of the node's memory (pmig fault memory), then exiting. */
        LEAK,
        /** A leak that stops well below the node's memory. */
        NEAR_MISS_LEAK,
        /**
         * A light, long-lived process (like the demo's counting witness) running alongside the other segments,
         * so that the data also holds nodes with a small resident workload under a ramp or a leak.
         */
        BACKGROUND
    }

    /**
     * One segment on one node.
     *
     * @param fromShare CPU at the start, as a share of the node's capacity (ramps, steady)
     * @param toShare   CPU at the top of a ramp, as a share of the node's capacity
     * @param riseS     ramp: seconds from fromShare to toShare; leak: MiB leaked per second
     * @param holdS     seconds at the top (ramp, steady, spike, blip) or the leak's whole duration
     */
    record Segment(String node, int startS, Kind kind, double fromShare, double toShare, int riseS, int holdS) {

        int durationS() {
            return switch (kind) {
                case RAMP, NEAR_MISS_RAMP -> riseS + holdS;
                default -> holdS;
            };
        }

        String describe() {
            return String.format(Locale.ROOT, "%5d s %-8s %-15s %s", startS, node, kind, switch (kind) {
                case IDLE -> holdS + " s";
                case STEADY -> String.format(Locale.ROOT, "%.0f %% for %d s", fromShare * 100, holdS);
                case RAMP, NEAR_MISS_RAMP -> String.format(Locale.ROOT, "%.0f %% -> %.0f %% over %d s, held %d s",
                        fromShare * 100, toShare * 100, riseS, holdS);
                case SPIKE, BLIP -> "1 busy core for " + holdS + " s";
                case LEAK, NEAR_MISS_LEAK -> riseS + " MiB/s for " + holdS + " s";
                case BACKGROUND -> "light counter for " + holdS + " s";
            });
        }
    }

    private LoadSchedule() {
    }

    /** Segments for every node until durationS, ordered by start time. memMib is each node's memory capacity. */
    static List<Segment> plan(List<String> nodes, int durationS, long memMib, long seed) {
        Random random = new Random(seed);
        List<Segment> segments = new ArrayList<>();
        for (String node : nodes) {
            int t = 5 + random.nextInt(20); // nodes do not all start together
            while (t < durationS - 20) {
                Segment segment = next(node, t, memMib, random);
                if (t + segment.durationS() > durationS - 5) {
                    break; // leave the last seconds quiet so every load has ended before the trace is read
                }
                segments.add(segment);
                t += segment.durationS() + 3 + random.nextInt(10);
            }
            // Background stretches overlap the segments above.
            int b = random.nextInt(300);
            while (b < durationS - 60) {
                int length = Math.min(between(random, 120, 480), durationS - 5 - b);
                segments.add(new Segment(node, b, Kind.BACKGROUND, 0, 0, 0, length));
                b += length + between(random, 60, 400);
            }
        }
        segments.sort(Comparator.comparingInt(Segment::startS).thenComparing(Segment::node));
        return segments;
    }

    private static Segment next(String node, int t, long memMib, Random random) {
        double roll = random.nextDouble();
        if (roll < 0.10) {
            return new Segment(node, t, Kind.IDLE, 0, 0, 0, between(random, 10, 40));
        }
        if (roll < 0.22) {
            double share = 0.2 + 0.45 * random.nextDouble();
            return new Segment(node, t, Kind.STEADY, share, share, 0, between(random, 20, 50));
        }
        if (roll < 0.54) {
            // Tops well past capacity (the demo's ramp goes to 200 %): on a contended host a loop asked for
            // 110 % may never get 90 % of the node; rises long enough that the run-up spans several windows.
            return new Segment(node, t, Kind.RAMP, 0.05 + 0.3 * random.nextDouble(), 1.3 + 0.7 * random.nextDouble(),
                    between(random, 20, 60), between(random, 10, 25));
        }
        if (roll < 0.68) {
            return new Segment(node, t, Kind.NEAR_MISS_RAMP, 0.05 + 0.3 * random.nextDouble(), 0.55 + 0.27 * random.nextDouble(),
                    between(random, 20, 60), between(random, 10, 30));
        }
        if (roll < 0.76) {
            return new Segment(node, t, Kind.SPIKE, 1, 1, 0, between(random, 8, 20));
        }
        if (roll < 0.80) {
            return new Segment(node, t, Kind.BLIP, 1, 1, 0, 1);
        }
        if (roll < 0.92) {
            // Past 90 % of memory (a JVM starts at ~40 MiB) and held there a few seconds before it exits.
            int mibPerS = between(random, 6, 12);
            int seconds = (int) Math.ceil((0.95 * memMib) / mibPerS) + between(random, 3, 12);
            return new Segment(node, t, Kind.LEAK, 0, 0, mibPerS, seconds);
        }
        int mibPerS = between(random, 4, 8);
        int seconds = (int) ((0.35 + 0.3 * random.nextDouble()) * memMib / mibPerS);
        return new Segment(node, t, Kind.NEAR_MISS_LEAK, 0, 0, mibPerS, seconds);
    }

    private static int between(Random random, int from, int to) {
        return from + random.nextInt(to - from + 1);
    }
}
