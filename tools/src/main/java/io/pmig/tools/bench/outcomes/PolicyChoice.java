package io.pmig.tools.bench.outcomes;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.schemas.AlarmPolicy;
import io.pmig.schemas.ModelUpdate;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Chooses a model's alarm policy - score threshold ({@value AnalyticsConfig#MODEL_SCORE_THRESHOLD}) and windows in a
 * row ({@value AnalyticsConfig#HYSTERESIS_WINDOWS}) - by what the moves achieve on a trace: the model is replayed under
 * every policy of the grid ({@link OutcomeReplay}), and the one with the fewest overload node-seconds among those
 * with no more migrations than a budget (the tuned rule's on the same trace) is kept; ties go to fewer migrations,
 * then fewer needless ones. When none stays within the budget, the one with the fewest migrations is kept, and the
 * reason says so. Meant for a validation trace (another seed), never the trace the model is then measured on.
 */
final class PolicyChoice {

    static final double[] THRESHOLDS = {0.4, 0.5, 0.6, 0.7, 0.8};
    static final int[] CONSECUTIVE_WINDOWS = {1, 2, 3};

    /** One policy and what the model achieved under it. */
    record Tried(double threshold, int consecutiveWindows, Outcome outcome) {

        String describe() {
            return String.format(Locale.ROOT, "threshold %.2f, %d in a row", threshold, consecutiveWindows);
        }
    }

    /** Every policy tried, the one kept and why. */
    record Result(List<Tried> tried, Tried chosen, int budget, String why) {

        /** The model with the kept policy in its metadata. */
        ModelUpdate applyTo(ModelUpdate model, String trace) {
            return ModelUpdate.newBuilder(model).setAlarmPolicy(AlarmPolicy.newBuilder()
                    .setScoreThreshold(chosen.threshold())
                    .setConsecutiveWindows(chosen.consecutiveWindows())
                    .setChosenBy("pmig bench outcomes --choose-policy on " + trace + ": " + why)
                    .build()).build();
        }
    }

    private PolicyChoice() {
    }

    /**
     * @param budget   most migrations a kept policy may make (the tuned rule's on this trace)
     * @param progress told each policy's outcome
     */
    static Result choose(ClusterTrace replay, AnalyticsConfig config, int horizonS, ModelUpdate model, int budget,
                         Consumer<Tried> progress) {
        List<Tried> tried = new ArrayList<>();
        for (int consecutive : CONSECUTIVE_WINDOWS) {
            for (double threshold : THRESHOLDS) {
                // Given explicitly, so they override whatever policy the model already carries.
                AnalyticsConfig policy = config.with(Map.of(AnalyticsConfig.MODEL_SCORE_THRESHOLD, threshold,
                        AnalyticsConfig.HYSTERESIS_WINDOWS, consecutive));
                Outcome outcome = OutcomeReplay.run(replay, policy, horizonS, OutcomeReplay.threshold(policy), model);
                Tried t = new Tried(threshold, consecutive, outcome);
                tried.add(t);
                progress.accept(t);
            }
        }
        Comparator<Tried> fewestMoves = Comparator.comparingInt((Tried t) -> t.outcome().migrations())
                .thenComparingLong(t -> t.outcome().overloadNodeS());
        Comparator<Tried> leastOverload = Comparator.comparingLong((Tried t) -> t.outcome().overloadNodeS())
                .thenComparingInt(t -> t.outcome().migrations())
                .thenComparingInt(t -> t.outcome().needlessMigrations());
        List<Tried> within = tried.stream().filter(t -> t.outcome().migrations() <= budget).toList();
        if (within.isEmpty()) {
            Tried chosen = tried.stream().min(fewestMoves).orElseThrow();
            return new Result(List.copyOf(tried), chosen, budget, String.format(Locale.ROOT,
                    "no policy stayed within %d migrations (the tuned rule's); fewest migrations: %s, %d node-s, %d migrations",
                    budget, chosen.describe(), chosen.outcome().overloadNodeS(), chosen.outcome().migrations()));
        }
        Tried chosen = within.stream().min(leastOverload).orElseThrow();
        return new Result(List.copyOf(tried), chosen, budget, String.format(Locale.ROOT,
                "fewest overload node-s at <= %d migrations (the tuned rule's): %s, %d node-s, %d migrations (%d needless)",
                budget, chosen.describe(), chosen.outcome().overloadNodeS(), chosen.outcome().migrations(),
                chosen.outcome().needlessMigrations()));
    }
}
