package io.pmig.analytics.features;

import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.ProcessSample;
import io.pmig.schemas.SamplingMode;
import java.util.Arrays;
import java.util.List;

/**
 * What the window stage needs of one NodeMetrics, as primitives: the per-sample terms of {@link WindowFeatures} and
 * {@link io.pmig.analytics.windows.NodeReport}, computed with the same arithmetic, so features from these are
 * bit-identical to features from the samples themselves.
 *
 * <p>Why: the window stage holds every sample for a window length (about 11 s at 1 Hz), long enough for G1 to promote
 * it. A decoded NodeMetrics with its processes is ~1.9 KB in ~30 objects (strings, ProcessSamples); at 10,000 nodes
 * that was ~19 MB/s of old-generation garbage, which G1 collected only late and all at once (the 10,000-agent bench's
 * mid-run lag). This is ~200 B, and a node's workload ids and flags are shared with its previous sample while unchanged.
 */
public final class WindowSample {

    private static final String[] NO_IDS = new String[0];
    private static final double[] NO_DOUBLES = new double[0];
    private static final long[] NO_LONGS = new long[0];
    private static final boolean[] NO_FLAGS = new boolean[0];

    private final long timestampMs;
    private final double cpuPercent;
    private final double memFraction;
    private final double load1PerCpu;
    private final double load5PerCpu;
    private final double swapFraction;
    private final double cpus;
    private final long memUsedBytes;
    private final long memCapacityBytes;
    private final double diskBytesPerSec;
    private final double netBytesPerSec;
    private final int processCount;
    private final double topProcessCpuPercent;
    private final double workloadCpuPercent;
    private final boolean simulated;
    /** The processes with a workload id, in the sample's order. */
    private final String[] workloadIds;
    private final double[] workloadCpuPercents;
    private final long[] workloadRssBytes;
    private final boolean[] workloadMigratable;

    private WindowSample(NodeMetrics sample, WindowSample previous) {
        timestampMs = sample.getTimestampMs();
        cpuPercent = sample.getCpuPercent();
        cpus = WindowFeatures.cpus(sample);
        memUsedBytes = sample.getMemUsedBytes();
        memCapacityBytes = WindowFeatures.memCapacityBytes(sample);
        memFraction = (double) memUsedBytes / memCapacityBytes;
        load1PerCpu = sample.getLoadAvg1() / cpus;
        load5PerCpu = sample.getLoadAvg5() / cpus;
        swapFraction = sample.getSwapTotalBytes() > 0 ? (double) sample.getSwapUsedBytes() / sample.getSwapTotalBytes() : 0;
        diskBytesPerSec = sample.getDiskReadBytesPerSec() + sample.getDiskWriteBytesPerSec();
        netBytesPerSec = sample.getNetRxBytesPerSec() + sample.getNetTxBytesPerSec();
        processCount = sample.getProcessCount();
        simulated = sample.getMode() == SamplingMode.SIMULATED;
        List<ProcessSample> processes = sample.getProcesses();
        int workloads = 0;
        double top = 0;
        double workloadCpu = 0;
        for (ProcessSample process : processes) {
            top = Math.max(top, process.getCpuPercent());
            if (process.getWorkloadId() != null) {
                workloadCpu += process.getCpuPercent();
                workloads++;
            }
        }
        topProcessCpuPercent = top;
        workloadCpuPercent = workloadCpu;
        String[] ids = workloads == 0 ? NO_IDS : new String[workloads];
        double[] cpu = workloads == 0 ? NO_DOUBLES : new double[workloads];
        long[] rss = workloads == 0 ? NO_LONGS : new long[workloads];
        boolean[] migratable = workloads == 0 ? NO_FLAGS : new boolean[workloads];
        int i = 0;
        for (ProcessSample process : processes) {
            if (process.getWorkloadId() != null) {
                ids[i] = process.getWorkloadId();
                cpu[i] = process.getCpuPercent();
                rss[i] = process.getRssBytes();
                migratable[i] = process.getMigratable();
                i++;
            }
        }
        // unchanged since the node's previous sample (the usual case): share, so only the numbers are new objects
        boolean sameIds = previous != null && Arrays.equals(ids, previous.workloadIds);
        workloadIds = sameIds ? previous.workloadIds : ids;
        workloadMigratable = sameIds && Arrays.equals(migratable, previous.workloadMigratable) ? previous.workloadMigratable : migratable;
        workloadCpuPercents = cpu;
        workloadRssBytes = sameIds && Arrays.equals(rss, previous.workloadRssBytes) ? previous.workloadRssBytes : rss;
    }

    public static WindowSample of(NodeMetrics sample) {
        return new WindowSample(sample, null);
    }

    /** @param previous the same node's sample before, whose unchanged workload ids and flags this one shares; or null */
    public static WindowSample of(NodeMetrics sample, WindowSample previous) {
        return new WindowSample(sample, previous);
    }

    public long timestampMs() {
        return timestampMs;
    }

    public double cpuPercent() {
        return cpuPercent;
    }

    /** Memory in use over {@link WindowFeatures#memCapacityBytes}. */
    public double memFraction() {
        return memFraction;
    }

    public double load1PerCpu() {
        return load1PerCpu;
    }

    public double load5PerCpu() {
        return load5PerCpu;
    }

    public double swapFraction() {
        return swapFraction;
    }

    /** {@link WindowFeatures#cpus}: never zero. */
    public double cpus() {
        return cpus;
    }

    public long memUsedBytes() {
        return memUsedBytes;
    }

    public long memCapacityBytes() {
        return memCapacityBytes;
    }

    /** Disk read plus write. */
    public double diskBytesPerSec() {
        return diskBytesPerSec;
    }

    /** Network received plus sent. */
    public double netBytesPerSec() {
        return netBytesPerSec;
    }

    public int processCount() {
        return processCount;
    }

    /** The busiest process's CPU, percent of one core (0 without processes). */
    public double topProcessCpuPercent() {
        return topProcessCpuPercent;
    }

    /** The workloads' CPU summed in the sample's order, percent of one core. */
    public double workloadCpuPercent() {
        return workloadCpuPercent;
    }

    public boolean simulated() {
        return simulated;
    }

    /** Processes that carry a workload id. */
    public int workloadCount() {
        return workloadIds.length;
    }

    public String workloadId(int i) {
        return workloadIds[i];
    }

    public double workloadCpuPercent(int i) {
        return workloadCpuPercents[i];
    }

    public long workloadRssBytes(int i) {
        return workloadRssBytes[i];
    }

    public boolean workloadMigratable(int i) {
        return workloadMigratable[i];
    }
}
