package io.pmig.analytics.scoring;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.features.FeatureVector;
import io.pmig.schemas.Trigger;

/**
 * The rule used until a model is published, and whenever the model is withdrawn. A window is overloaded
 * when any of these reaches its configured threshold:
 * <ul>
 *   <li>{@code cpu_p95} (percent of capacity) vs {@value AnalyticsConfig#THRESHOLD_CPU_PERCENT},</li>
 *   <li>{@code mem_fraction_last} vs {@value AnalyticsConfig#THRESHOLD_MEM_FRACTION},</li>
 *   <li>{@code load1_per_cpu_last} vs {@value AnalyticsConfig#THRESHOLD_LOAD_PER_CPU}.</li>
 * </ul>
 * The score is half the largest of the three ratios, capped at 1: 0.5 means exactly at a threshold, so it
 * reads like a model's probability with the usual 0.5 cut. Nodes that share a host leave the load rule out: the load
 * average is the host's, which every such node reports, so one busy node (or anything else on the host) would mark them
 * all overloaded and leave no destination.
 */
public final class ThresholdScorer implements OverloadScorer {

    public static final String NAME = "threshold";

    private final double cpuPercent;
    private final double memFraction;
    private final double loadPerCpu;

    public ThresholdScorer(double cpuPercent, double memFraction, double loadPerCpu) {
        this.cpuPercent = cpuPercent;
        this.memFraction = memFraction;
        this.loadPerCpu = loadPerCpu;
    }

    public static ThresholdScorer from(AnalyticsConfig config) {
        return new ThresholdScorer(config.thresholdCpuPercent(), config.thresholdMemFraction(), config.thresholdLoadPerCpu());
    }

    @Override
    public OverloadScore score(FeatureVector features) {
        return score(features, false);
    }

    @Override
    public OverloadScore score(FeatureVector features, boolean sharedHost) {
        double ratio = Math.max(features.get("cpu_p95") / cpuPercent, features.get("mem_fraction_last") / memFraction);
        if (!sharedHost) {
            ratio = Math.max(ratio, features.get("load1_per_cpu_last") / loadPerCpu);
        }
        double score = Math.min(1.0, Math.max(0.0, ratio / 2));
        return new OverloadScore(score, ratio >= 1.0, NAME, null, Trigger.THRESHOLD);
    }
}
