package io.pmig.analytics;

import io.pmig.schemas.NodeCapacity;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.ProcessSample;
import io.pmig.schemas.SamplingMode;
import java.util.ArrayList;
import java.util.List;

/** Builds NodeMetrics samples for tests: a node of 4 cores and 8 GiB, SIMULATED, with the given load and workloads. */
public final class Samples {

    public static final long GIB = 1L << 30;
    public static final long MIB = 1L << 20;

    private Samples() {
    }

    public static ProcessSample workload(String id, double cpuPercentOfOneCore, long rssBytes, boolean migratable) {
        return ProcessSample.newBuilder().setWorkloadId(id).setPid(Math.abs(id.hashCode() % 30000) + 100).setName(id)
                .setCpuPercent(cpuPercentOfOneCore).setRssBytes(rssBytes).setThreads(2).setState("R")
                .setMigratable(migratable).build();
    }

    public static NodeMetrics sample(String node, long timestampMs, double cpuPercent, double memFraction, ProcessSample... processes) {
        return sample(node, timestampMs, cpuPercent, memFraction, 0.5, processes);
    }

    public static NodeMetrics sample(String node, long timestampMs, double cpuPercent, double memFraction, double loadAvg1,
                                     ProcessSample... processes) {
        return NodeMetrics.newBuilder()
                .setNodeId(node)
                .setTimestampMs(timestampMs)
                .setSequence(timestampMs / 1000)
                .setAgentStartMs(0)
                .setMode(SamplingMode.SIMULATED)
                .setCpuPercent(cpuPercent)
                .setLoadAvg1(loadAvg1)
                .setLoadAvg5(loadAvg1)
                .setLoadAvg15(loadAvg1)
                .setMemUsedBytes((long) (memFraction * 8 * GIB))
                .setMemTotalBytes(8 * GIB)
                .setProcessCount(processes.length + 10)
                .setCapacity(NodeCapacity.newBuilder().setCpus(4).setMemBytes(8 * GIB).build())
                .setProcesses(new ArrayList<>(List.of(processes)))
                .build();
    }
}
