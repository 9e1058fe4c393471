package io.pmig.analytics.windows;

import io.pmig.analytics.features.WindowFeatures;
import io.pmig.analytics.features.WindowSample;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.NodeState;
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
        List<WindowSample> samples = new ArrayList<>(window.size());
        for (NodeMetrics sample : window) {
            samples.add(WindowSample.of(sample));
        }
        return ofSamples(score, samples);
    }

    /** The same from the samples' {@link WindowSample} terms, as the window stage holds them. */
    public static NodeReport ofSamples(NodeScore score, List<WindowSample> window) {
        List<WindowSample> samples = window;
        if (!WindowFeatures.inTimeOrder(window)) { // the window stage's windows are; a copy only for other callers
            samples = new ArrayList<>(window);
            samples.sort(Comparator.comparingLong(WindowSample::timestampMs));
        }
        WindowSample latest = samples.get(samples.size() - 1);
        double cpus = latest.cpus();
        double meanCpuPercent = samples.stream().mapToDouble(WindowSample::cpuPercent).average().orElse(0);

        // Mean CPU over the samples the workload appears in: one busy second should not decide a move. Its latest CPU
        // and slope too (sums of a least-squares fit over the same samples), for the planner to size a move's relief
        // by the measure it sizes the source's excess by.
        long t0 = samples.get(0).timestampMs();
        Map<String, double[]> cpuSums = new TreeMap<>();
        for (WindowSample sample : samples) {
            double t = (sample.timestampMs() - t0) / 1000.0;
            for (int i = 0; i < sample.workloadCount(); i++) {
                double[] sum = cpuSums.computeIfAbsent(sample.workloadId(i), id -> new double[6]);
                double cpu = sample.workloadCpuPercent(i);
                sum[0] += cpu;
                sum[1]++;
                sum[2] += t;
                sum[3] += t * t;
                sum[4] += t * cpu;
                sum[5] = cpu;
            }
        }
        List<WorkloadLoad> workloads = new ArrayList<>();
        for (int i = 0; i < latest.workloadCount(); i++) {
            double[] sum = cpuSums.get(latest.workloadId(i));
            double n = sum[1];
            double varianceT = n * sum[3] - sum[2] * sum[2];
            double slope = varianceT > 1e-9 ? (n * sum[4] - sum[2] * sum[0]) / varianceT : 0;
            workloads.add(new WorkloadLoad(latest.workloadId(i), sum[0] / n / 100.0, latest.workloadRssBytes(i),
                    latest.workloadMigratable(i), sum[5] / 100.0, slope / 100.0));
        }
        boolean explained = score.getOverloaded();
        return new NodeReport(score.getNodeId(), score.getWindowStartMs(), score.getWindowEndMs(),
                score.getState(), score.getScore(), score.getOverloaded(), explained ? score.getScorer() : null,
                explained ? score.getModelVersion() : null, explained ? features(score) : null,
                cpus, latest.memCapacityBytes(), meanCpuPercent / 100.0 * cpus,
                latest.memUsedBytes(), workloads);
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
