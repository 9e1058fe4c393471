package io.pmig.tools.bench.outcomes;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.features.FeatureVector;
import io.pmig.analytics.scoring.OverloadScore;
import io.pmig.analytics.scoring.OverloadScorer;
import io.pmig.analytics.training.Dataset;
import io.pmig.analytics.training.Evaluation;
import io.pmig.analytics.training.OverloadDefinition;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.Trigger;
import java.util.List;
import java.util.Locale;

/**
 * A simple extrapolating rule: a window is overloaded when {@code cpu_last + k * cpu_slope >= cpuPercent} or
 * {@code mem_fraction_last + h * mem_slope >= memFraction}. {@link #tune} picks its four numbers by a grid search
 * with the forest's own selection criterion ({@code OverloadModelTrainer}): the best window F1 among the settings
 * whose mean lead time is at least 5 s, else the best F1, on labelled windows built by the training code
 * ({@link Dataset}, {@link Evaluation}).
 */
record TunedRule(double k, double cpuPercent, double h, double memFraction) implements OverloadScorer {

    static final String NAME = "tuned_rule";
    static final double WANTED_LEAD_S = 5.0;
    private static final double[] KS = {0, 2, 5, 10, 15};
    private static final double[] CPU_PERCENTS = {65, 70, 75, 80, 85, 90, 95};
    private static final double[] HS = {0, 5, 10, 15};
    private static final double[] MEM_FRACTIONS = {0.85, 0.9};

    /** The tuned rule with its validation figures. */
    record Tuning(TunedRule rule, double f1, double precision, double recall, double leadS, int windows, int onsets) {

        String describe() {
            return String.format(Locale.ROOT, "%s (validation: %d windows, %d onsets, F1 %.3f, precision %.3f, recall %.3f, lead %.1f s)",
                    rule, windows, onsets, f1, precision, recall, leadS);
        }
    }

    @Override
    public OverloadScore score(FeatureVector features) {
        double cpu = features.get("cpu_last") + k * features.get("cpu_slope");
        double mem = features.get("mem_fraction_last") + h * features.get("mem_slope");
        double ratio = Math.max(cpu / cpuPercent, mem / memFraction);
        return new OverloadScore(Math.min(1.0, Math.max(0.0, ratio / 2)), ratio >= 1.0, NAME, null, Trigger.THRESHOLD);
    }

    static Tuning tune(List<NodeMetrics> validation, AnalyticsConfig config, OverloadDefinition overload) {
        Dataset dataset = Dataset.build(validation, config, overload);
        Tuning best = null;
        boolean bestMeetsLead = false;
        for (double k : KS) {
            for (double cpu : CPU_PERCENTS) {
                for (double h : HS) {
                    for (double mem : MEM_FRACTIONS) {
                        TunedRule rule = new TunedRule(k, cpu, h, mem);
                        // Under the run's settings, analytics.decision.hysteresis.windows included: tuned as it will run.
                        Evaluation e = Evaluation.of(dataset.windows(), dataset, rule);
                        Tuning t = new Tuning(rule, e.all().f1(), e.all().precision(), e.all().recall(), e.meanLeadS(),
                                dataset.windows().size(), e.onsets());
                        boolean meetsLead = t.leadS() >= WANTED_LEAD_S;
                        if (best == null || (meetsLead && !bestMeetsLead) || (meetsLead == bestMeetsLead && t.f1() > best.f1())) {
                            best = t;
                            bestMeetsLead = meetsLead;
                        }
                    }
                }
            }
        }
        return best;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "cpu_last + %.0f*cpu_slope >= %.0f or mem_fraction_last + %.0f*mem_slope >= %.2f",
                k, cpuPercent, h, memFraction);
    }
}
