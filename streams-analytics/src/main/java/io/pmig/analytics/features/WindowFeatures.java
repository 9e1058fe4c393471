package io.pmig.analytics.features;

import io.pmig.schemas.NodeMetrics;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The one feature implementation of pmig: a pure function from the samples of one node window to a
 * {@link FeatureVector}. The topology scores with it and model training (issue 6) builds its dataset with
 * it, so a model never sees features computed differently from the ones it is scored on.
 *
 * <p>CPU figures are percent of the node's capacity (0-100) as the agent reports them; memory is a fraction
 * of {@code capacity.memBytes} (or {@code memTotalBytes} when no capacity is set); load is per capacity CPU;
 * slopes are per second of sample time, fitted by least squares over the whole window.
 */
public final class WindowFeatures {

    public static final List<String> NAMES = List.of(
            "cpu_mean", "cpu_max", "cpu_p95", "cpu_last", "cpu_stddev", "cpu_slope",
            "mem_fraction_mean", "mem_fraction_last", "mem_slope", "swap_fraction_last",
            "load1_per_cpu_last", "load1_slope", "load5_per_cpu_last",
            "process_count_last", "process_count_delta",
            "top_process_cpu_share", "workload_cpu_share", "workload_count",
            "disk_bytes_per_s_mean", "net_bytes_per_s_mean",
            "sample_count", "sample_gap_max_s");

    private WindowFeatures() {
    }

    /**
     * @param window the samples of one node falling in one window, in any order; not empty
     */
    public static FeatureVector compute(List<NodeMetrics> window) {
        List<WindowSample> samples = new ArrayList<>(window.size());
        for (NodeMetrics sample : window) {
            samples.add(WindowSample.of(sample));
        }
        return of(samples);
    }

    /**
     * The same features from the samples' {@link WindowSample} terms, as the window stage holds them.
     *
     * @param window the samples of one node falling in one window, in any order; not empty
     */
    public static FeatureVector of(List<WindowSample> window) {
        if (window.isEmpty()) {
            throw new IllegalArgumentException("a window needs at least one sample");
        }
        List<WindowSample> samples = window;
        if (!inTimeOrder(window)) { // the window stage's windows are; a copy only for other callers
            samples = new ArrayList<>(window);
            samples.sort(Comparator.comparingLong(WindowSample::timestampMs));
        }
        int n = samples.size();
        WindowSample first = samples.get(0);
        WindowSample last = samples.get(n - 1);

        double[] seconds = new double[n];
        double[] cpu = new double[n];
        double[] mem = new double[n];
        double[] load1 = new double[n];
        double diskSum = 0;
        double netSum = 0;
        double maxGap = 0;
        for (int i = 0; i < n; i++) {
            WindowSample sample = samples.get(i);
            seconds[i] = (sample.timestampMs() - first.timestampMs()) / 1000.0;
            cpu[i] = sample.cpuPercent();
            mem[i] = sample.memFraction();
            load1[i] = sample.load1PerCpu();
            diskSum += sample.diskBytesPerSec();
            netSum += sample.netBytesPerSec();
            if (i > 0) {
                maxGap = Math.max(maxGap, seconds[i] - seconds[i - 1]);
            }
        }

        double lastCapacityPercent = 100.0 * last.cpus();
        double[] values = {
                mean(cpu), max(cpu), percentile(cpu, 0.95), cpu[n - 1], stddev(cpu), slope(seconds, cpu),
                mean(mem), mem[n - 1], slope(seconds, mem), last.swapFraction(),
                load1[n - 1], slope(seconds, load1), last.load5PerCpu(),
                last.processCount(), last.processCount() - first.processCount(),
                last.topProcessCpuPercent() / lastCapacityPercent, last.workloadCpuPercent() / lastCapacityPercent,
                last.workloadCount(),
                diskSum / n, netSum / n,
                n, maxGap,
        };
        return new FeatureVector(values);
    }

    /** Whether the samples are in time order (ties keep their order, as a stable sort would). */
    public static boolean inTimeOrder(List<WindowSample> window) {
        for (int i = 1; i < window.size(); i++) {
            if (window.get(i - 1).timestampMs() > window.get(i).timestampMs()) {
                return false;
            }
        }
        return true;
    }

    /** CPU cores of the node, never zero (an agent that reports no capacity counts as one core). */
    public static double cpus(NodeMetrics sample) {
        double cpus = sample.getCapacity() == null ? 0 : sample.getCapacity().getCpus();
        return cpus > 0 ? cpus : 1.0;
    }

    /** Memory the node may use, in bytes: its configured capacity, else the host's total. */
    public static long memCapacityBytes(NodeMetrics sample) {
        long capacity = sample.getCapacity() == null ? 0 : sample.getCapacity().getMemBytes();
        return capacity > 0 ? capacity : Math.max(sample.getMemTotalBytes(), 1);
    }

    private static double mean(double[] values) {
        double sum = 0;
        for (double value : values) {
            sum += value;
        }
        return sum / values.length;
    }

    private static double max(double[] values) {
        double max = Double.NEGATIVE_INFINITY;
        for (double value : values) {
            max = Math.max(max, value);
        }
        return max;
    }

    private static double stddev(double[] values) {
        double mean = mean(values);
        double squares = 0;
        for (double value : values) {
            squares += (value - mean) * (value - mean);
        }
        return Math.sqrt(squares / values.length);
    }

    /** Nearest-rank percentile: the smallest value with at least fraction q of the values at or below it. */
    static double percentile(double[] values, double q) {
        double[] sorted = values.clone();
        java.util.Arrays.sort(sorted);
        int rank = (int) Math.ceil(q * sorted.length);
        return sorted[Math.max(rank, 1) - 1];
    }

    /** Least-squares slope of y over x; zero when x does not vary (a single sample). */
    static double slope(double[] x, double[] y) {
        double meanX = mean(x);
        double meanY = mean(y);
        double covariance = 0;
        double varianceX = 0;
        for (int i = 0; i < x.length; i++) {
            covariance += (x[i] - meanX) * (y[i] - meanY);
            varianceX += (x[i] - meanX) * (x[i] - meanX);
        }
        return varianceX == 0 ? 0 : covariance / varianceX;
    }
}
