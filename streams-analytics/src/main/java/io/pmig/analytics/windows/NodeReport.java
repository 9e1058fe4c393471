package io.pmig.analytics.windows;

import io.pmig.analytics.features.WindowFeatures;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.NodeState;
import io.pmig.schemas.ProcessSample;
import io.pmig.schemas.features.FeatureLayout;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One node window as the decision stage sees it: the verdict plus the capacity, usage and workloads it
 * needs to choose what to move where. Travels on the internal decision topic in the binary form of
 * {@link io.pmig.analytics.decisions.DecisionCodec}.
 *
 * <p>Only an overloaded node's report says why ({@code scorer}, {@code modelVersion}, {@code features}): only an
 * overloaded node can be a migration's source, and only a source's explanation goes onto its command (the planner reads
 * four of its features, the command's reason carries them all). Every other report leaves them null, which is about half
 * of its bytes on the decision topic and in the decision stage's store; its score and state stay.
 *
 * @param cpuUsedCores mean node CPU over the window, in cores
 * @param memUsedBytes node memory in use in the window's latest sample
 */
public record NodeReport(String nodeId, long windowStartMs, long windowEndMs, NodeState state, double score,
                         boolean overloaded, String scorer, String modelVersion, Map<String, Double> features,
                         double cpuCapacity, long memCapacityBytes, double cpuUsedCores, long memUsedBytes,
                         List<WorkloadLoad> workloads) {

    public static NodeReport of(NodeScore score, List<NodeMetrics> window) {
        List<NodeMetrics> samples = window;
        if (!inTimeOrder(window)) { // the window stage's windows are; a copy only for other callers
            samples = new ArrayList<>(window);
            samples.sort(Comparator.comparingLong(NodeMetrics::getTimestampMs));
        }
        NodeMetrics latest = samples.get(samples.size() - 1);
        double cpus = WindowFeatures.cpus(latest);
        double meanCpuPercent = samples.stream().mapToDouble(NodeMetrics::getCpuPercent).average().orElse(0);

        // Mean CPU over the samples the workload appears in: one busy second should not decide a move. Its latest CPU
        // and slope too (sums of a least-squares fit over the same samples), for the planner to size a move's relief
        // by the measure it sizes the source's excess by.
        long t0 = samples.get(0).getTimestampMs();
        Map<String, double[]> cpuSums = new TreeMap<>();
        for (NodeMetrics sample : samples) {
            double t = (sample.getTimestampMs() - t0) / 1000.0;
            for (ProcessSample process : sample.getProcesses()) {
                if (process.getWorkloadId() != null) {
                    double[] sum = cpuSums.computeIfAbsent(process.getWorkloadId().toString(), id -> new double[6]);
                    double cpu = process.getCpuPercent();
                    sum[0] += cpu;
                    sum[1]++;
                    sum[2] += t;
                    sum[3] += t * t;
                    sum[4] += t * cpu;
                    sum[5] = cpu;
                }
            }
        }
        List<WorkloadLoad> workloads = new ArrayList<>();
        for (ProcessSample process : latest.getProcesses()) {
            if (process.getWorkloadId() != null) {
                double[] sum = cpuSums.get(process.getWorkloadId().toString());
                double n = sum[1];
                double varianceT = n * sum[3] - sum[2] * sum[2];
                double slope = varianceT > 1e-9 ? (n * sum[4] - sum[2] * sum[0]) / varianceT : 0;
                workloads.add(new WorkloadLoad(process.getWorkloadId().toString(), sum[0] / n / 100.0,
                        process.getRssBytes(), process.getMigratable(), sum[5] / 100.0, slope / 100.0));
            }
        }
        boolean explained = score.getOverloaded();
        return new NodeReport(score.getNodeId(), score.getWindowStartMs(), score.getWindowEndMs(),
                score.getState(), score.getScore(), score.getOverloaded(), explained ? score.getScorer() : null,
                explained ? score.getModelVersion() : null, explained ? features(score) : null,
                cpus, WindowFeatures.memCapacityBytes(latest), meanCpuPercent / 100.0 * cpus,
                latest.getMemUsedBytes(), workloads);
    }

    private static boolean inTimeOrder(List<NodeMetrics> window) {
        for (int i = 1; i < window.size(); i++) {
            if (window.get(i - 1).getTimestampMs() > window.get(i).getTimestampMs()) {
                return false;
            }
        }
        return true;
    }

    /** A node that stopped reporting: nothing may be moved to or from it. */
    public static NodeReport down(NodeScore score) {
        return new NodeReport(score.getNodeId(), score.getWindowStartMs(), score.getWindowEndMs(),
                NodeState.DOWN, score.getScore(), false, null, null, null, 0, 0, 0, 0, List.of());
    }

    private static Map<String, Double> features(NodeScore score) {
        return new LinkedHashMap<>(FeatureLayout.byName(score));
    }

    public double cpuFraction() {
        return cpuCapacity > 0 ? cpuUsedCores / cpuCapacity : 1.0;
    }

    public double memFraction() {
        return memCapacityBytes > 0 ? (double) memUsedBytes / memCapacityBytes : 1.0;
    }
}
