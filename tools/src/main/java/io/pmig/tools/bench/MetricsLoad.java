package io.pmig.tools.bench;

import io.pmig.schemas.NodeCapacity;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.ProcessSample;
import io.pmig.schemas.SamplingMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Synthetic but agent-shaped NodeMetrics: every field the agent fills, two managed workloads plus the five
 * busiest other processes per sample (as {@code NodeSampler} reports them), noisy CPU around a per-node
 * baseline, memory and load that follow it. An overloaded sample has CPU at 93-99 % of capacity, so the default
 * trend rule (CPU 90 %) flags the window it ends, and the threshold rule (p95 CPU 85 %) every window holding it.
 */
final class MetricsLoad {

    static final double CPUS = 4.0;
    static final long MEM_BYTES = 8L << 30;
    private static final String[] OTHER_PROCESSES = {"java", "postgres", "nginx", "kworker/0:1", "systemd-journal"};

    private final long agentStartMs;

    MetricsLoad(long agentStartMs) {
        this.agentStartMs = agentStartMs;
    }

    static String workloadId(String node, int index) {
        return node + "-w" + index;
    }

    /**
     * @param baselineCpu the node's calm CPU, percent of capacity
     * @param overloaded  whether this sample belongs to an overload episode
     */
    NodeMetrics sample(String node, long timestampMs, long sequence, double baselineCpu, boolean overloaded, Random random) {
        double cpu = overloaded ? 93 + random.nextDouble() * 6 : clamp(baselineCpu + random.nextGaussian() * 5, 1, 70);
        double cores = cpu / 100 * CPUS;
        long memUsed = (long) (MEM_BYTES * (0.45 + cpu / 100 * 0.2 + random.nextDouble() * 0.02));
        List<ProcessSample> processes = new ArrayList<>();
        // The workloads carry most of the node's CPU, so moving one relieves it.
        double workloadCores = cores * 0.7;
        processes.add(process(workloadId(node, 1), 1001, "stress-mem", workloadCores * 60, 256L << 20, true));
        processes.add(process(workloadId(node, 2), 1002, "ticker", workloadCores * 40, 64L << 20, true));
        double otherCores = cores - workloadCores;
        for (int i = 0; i < OTHER_PROCESSES.length; i++) {
            double share = otherCores * 100 / (i + 2);
            processes.add(process(null, 200 + i, OTHER_PROCESSES[i], share, (32L + 16 * i) << 20, false));
        }
        double load1 = cores * (1 + random.nextDouble() * 0.2);
        return NodeMetrics.newBuilder()
                .setNodeId(node)
                .setTimestampMs(timestampMs)
                .setSequence(sequence)
                .setAgentStartMs(agentStartMs)
                .setMode(SamplingMode.SIMULATED)
                .setCpuPercent(cpu)
                .setLoadAvg1(load1)
                .setLoadAvg5(load1 * 0.9)
                .setLoadAvg15(load1 * 0.8)
                .setMemUsedBytes(memUsed)
                .setMemTotalBytes(24L << 30)
                .setSwapUsedBytes(0)
                .setSwapTotalBytes(0)
                .setDiskUsedBytes(40L << 30)
                .setDiskTotalBytes(100L << 30)
                .setDiskReadBytesPerSec(random.nextDouble() * 1e6)
                .setDiskWriteBytesPerSec(random.nextDouble() * 4e6)
                .setNetRxBytesPerSec(random.nextDouble() * 2e6)
                .setNetTxBytesPerSec(random.nextDouble() * 2e6)
                .setProcessCount(180 + random.nextInt(5))
                .setCapacity(NodeCapacity.newBuilder().setCpus(CPUS).setMemBytes(MEM_BYTES).build())
                .setProcesses(processes)
                .build();
    }

    private static ProcessSample process(String workloadId, int pid, String name, double cpuPercentOfCore, long rss,
                                         boolean migratable) {
        return ProcessSample.newBuilder()
                .setWorkloadId(workloadId)
                .setPid(pid)
                .setName(name)
                .setCpuPercent(cpuPercentOfCore)
                .setRssBytes(rss)
                .setThreads(4)
                .setState("S")
                .setMigratable(migratable)
                .build();
    }

    private static double clamp(double value, double min, double max) {
        return Math.max(min, Math.min(max, value));
    }
}
