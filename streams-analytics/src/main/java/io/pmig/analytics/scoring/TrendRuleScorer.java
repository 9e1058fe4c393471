package io.pmig.analytics.scoring;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.features.FeatureVector;
import io.pmig.schemas.Trigger;
import java.util.Locale;

/**
 * A rule that extrapolates the window's last CPU and memory figures along their slopes: a window is overloaded when
 * {@code cpu_last + cpuLeadS * cpu_slope >= cpuPercent} or {@code mem_fraction_last + memLeadS * mem_slope >= memFraction}
 * (slopes are per second, so the leads are seconds looked ahead). With both leads 0 and the overload thresholds it is
 * the "hot now" rule: the node is overloaded already. {@code pmig train} tunes the four numbers on the same validation
 * split and by the same criterion as the forest's settings, so the model is compared with a rule tuned as carefully.
 * The score is half the larger ratio, capped at 1, as for {@link ThresholdScorer}. It is the app's default scorer
 * ({@value AnalyticsConfig#SCORER}), with the {@code analytics.trend.*} settings: {@link #from}.
 */
public record TrendRuleScorer(double cpuLeadS, double cpuPercent, double memLeadS, double memFraction)
        implements OverloadScorer {

    public static final String NAME = "trend-rule";

    /** The rule the app runs with {@value AnalyticsConfig#SCORER} = trend-rule (the default), or model until one is published. */
    public static TrendRuleScorer from(AnalyticsConfig config) {
        return new TrendRuleScorer(config.trendCpuLeadS(), config.trendCpuPercent(), config.trendMemLeadS(), config.trendMemFraction());
    }

    /** The node is overloaded now: its last CPU or memory figure is at the overload level. */
    public static TrendRuleScorer hotNow(double cpuPercent, double memFraction) {
        return new TrendRuleScorer(0, cpuPercent, 0, memFraction);
    }

    @Override
    public OverloadScore score(FeatureVector features) {
        double cpu = features.get("cpu_last") + cpuLeadS * features.get("cpu_slope");
        double mem = features.get("mem_fraction_last") + memLeadS * features.get("mem_slope");
        double ratio = Math.max(cpu / cpuPercent, mem / memFraction);
        double score = Math.min(1.0, Math.max(0.0, ratio / 2));
        return new OverloadScore(score, ratio >= 1.0, NAME, null, Trigger.THRESHOLD);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "cpu_last + %s*cpu_slope >= %s or mem_fraction_last + %s*mem_slope >= %s",
                trim(cpuLeadS), trim(cpuPercent), trim(memLeadS), trim(memFraction));
    }

    private static String trim(double value) {
        return value == Math.rint(value) ? String.valueOf((long) value) : String.valueOf(value);
    }
}
