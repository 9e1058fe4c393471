package io.pmig.analytics.training;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.features.WindowFeatures;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.ProcessSample;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The "preventable" label ({@code pmig train --label preventable}): what the outcome benchmark's oracle would do at a
 * sample. The node is overloaded at some instant of [t, t + horizon] if nothing moves, and moving one of its
 * migratable workloads - frozen from the next sample (its CPU runs nowhere, its memory stays), gone once its outage
 * ({@link AnalyticsConfig#estimatedDowntimeMs}) is over - would leave no overload on it from the landing to
 * t + horizon. A window is positive when its latest sample is. As the oracle's, this also holds at the last
 * seconds of an overload that ends by itself before the move would land.
 *
 * <p>Why: the benchmark charges every move an outage and counts the needless ones; the plain label ("overloaded
 * within H") also calls positive the windows of overloads no single move can end and of nodes already hot for good,
 * so a model trained on it fires where moving does not pay. A process's {@code cpuPercent} is read as its demand (as
 * the generated traces write it); on a recorded trace it is what the process got, which understates a hot node's
 * demand and makes a move look more useful than it is.
 */
final class PreventableOverload {

    private PreventableOverload() {
    }

    /** Per sample of one node (time order), whether it is positive. */
    static boolean[] labels(List<NodeMetrics> samples, OverloadDefinition overload, AnalyticsConfig config) {
        int n = samples.size();
        long[] ts = new long[n];
        double[] cores = new double[n];
        long[] mem = new long[n];
        boolean[] hot = new boolean[n];
        Map<String, Series> workloads = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            NodeMetrics sample = samples.get(i);
            ts[i] = sample.getTimestampMs();
            double processCores = 0;
            for (ProcessSample process : sample.getProcesses()) {
                processCores += process.getCpuPercent() / 100.0;
                if (process.getWorkloadId() != null && process.getMigratable()) {
                    Series series = workloads.computeIfAbsent(process.getWorkloadId().toString(), id -> new Series(n));
                    series.present[i] = true;
                    series.cores[i] = process.getCpuPercent() / 100.0;
                    series.rss[i] = process.getRssBytes();
                }
            }
            // The node's figure is capped at 100 %; its processes' add up to the demand above that.
            cores[i] = Math.max(sample.getCpuPercent() / 100.0 * WindowFeatures.cpus(sample), processCores);
            mem[i] = sample.getMemUsedBytes();
            hot[i] = overload.isHot(sample);
        }
        double cpus = n == 0 ? 1 : WindowFeatures.cpus(samples.get(0));
        long memCapacity = n == 0 ? 1 : WindowFeatures.memCapacityBytes(samples.get(0));
        long sustainMs = Math.round(overload.sustainS() * 1000);
        boolean[] labels = new boolean[n];
        boolean[] without = new boolean[n];
        for (int i = 0; i < n; i++) {
            long last = ts[i] + overload.horizonMs();
            int to = lastAtOrBefore(ts, last + sustainMs);
            if (!overloadedWithin(hot, ts, firstAtOrAfter(ts, ts[i] - sustainMs), to, ts[i], last, sustainMs)) {
                continue;
            }
            for (Series w : workloads.values()) {
                if (!w.present[i]) {
                    continue;
                }
                long landMs = ts[i] + 1000 + (long) Math.ceil(config.estimatedDowntimeMs(w.rss[i]) / 1000.0) * 1000;
                if (landMs > last) {
                    continue;
                }
                int from = firstAtOrAfter(ts, landMs - sustainMs);
                for (int j = from; j <= to; j++) {
                    if (j <= i) {
                        without[j] = hot[j];
                    } else {
                        double c = cores[j] - (w.present[j] ? w.cores[j] : 0);
                        long m = mem[j] - (w.present[j] && ts[j] >= landMs ? w.rss[j] : 0);
                        without[j] = c >= overload.cpuPercent() / 100.0 * cpus || m >= overload.memFraction() * memCapacity;
                    }
                }
                if (!overloadedWithin(without, ts, from, to, landMs, last, sustainMs)) {
                    labels[i] = true;
                    break;
                }
            }
        }
        return labels;
    }

    /**
     * Whether, among samples {@code from..to}, a run of hot ones lasting at least {@code sustainMs} overlaps
     * [firstMs, lastMs] (the oracle looks as far, a sustain either side).
     */
    static boolean overloadedWithin(boolean[] hot, long[] ts, int from, int to, long firstMs, long lastMs, long sustainMs) {
        int runStart = -1;
        for (int j = from; j <= to + 1; j++) {
            if (j <= to && hot[j]) {
                if (runStart < 0) {
                    runStart = j;
                }
                continue;
            }
            if (runStart >= 0) {
                long start = ts[runStart];
                long end = ts[j - 1];
                if (end - start >= sustainMs && start <= lastMs && end >= firstMs) {
                    return true;
                }
                if (start > lastMs) {
                    return false;
                }
                runStart = -1;
            }
        }
        return false;
    }

    /** Index of the first sample at or after t (n if none). */
    private static int firstAtOrAfter(long[] ts, long t) {
        int lo = 0;
        int hi = ts.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (ts[mid] < t) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** Index of the last sample at or before t (-1 if none). */
    private static int lastAtOrBefore(long[] ts, long t) {
        return firstAtOrAfter(ts, t + 1) - 1;
    }

    /** One migratable workload's samples on this node. */
    private static final class Series {
        final boolean[] present;
        final double[] cores;
        final long[] rss;

        Series(int n) {
            present = new boolean[n];
            cores = new double[n];
            rss = new long[n];
        }
    }
}
