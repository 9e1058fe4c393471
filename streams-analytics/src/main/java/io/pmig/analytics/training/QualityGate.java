package io.pmig.analytics.training;

import io.pmig.analytics.scoring.OverloadScorer;
import java.util.List;
import java.util.Locale;

/**
 * Whether a newly trained model may replace the one in use: it must beat both the model in use (or, when none is
 * published, the threshold rule the app then runs) and the tuned trend rule on one fixed evaluation trace, by the
 * alarm-level criterion of {@link #beats}. Every contender is scored on the same windows, so the comparison does not
 * move with the data a replay happened to cover.
 */
public final class QualityGate {

    /** A scorer and its figures on the evaluation trace. */
    public record Contender(String name, OverloadScorer scorer, Evaluation evaluation) {

        String figures() {
            Evaluation.Alarms alarms = evaluation.alarms();
            return String.format(Locale.ROOT, "alarm F1 %.3f: precision %.3f, recall %.3f, lead p50 %.1f s",
                    alarms.f1(), alarms.precision(), alarms.recall(), evaluation.lead().p50S());
        }
    }

    /**
     * @param passed whether the candidate beat every other contender
     * @param reason one line: what it beat, or the first contender it did not beat and by what
     */
    public record Verdict(boolean passed, String reason, Contender candidate, List<Contender> others) {
    }

    private QualityGate() {
    }

    public static Contender contender(String name, OverloadScorer scorer, List<LabelledWindow> windows, Dataset dataset) {
        return new Contender(name, scorer, Evaluation.of(windows, dataset, scorer));
    }

    /** A contender acted on after {@code consecutiveWindows} flagged windows in a row, whatever the dataset's setting. */
    public static Contender contender(String name, OverloadScorer scorer, List<LabelledWindow> windows, Dataset dataset,
                                      int consecutiveWindows) {
        return new Contender(name, scorer, Evaluation.of(windows, dataset, scorer, consecutiveWindows));
    }

    /**
     * {@code a} beats {@code b} when it warns in time where {@code b} does not - a lead-time p50 of at least the goal's
     * {@value OverloadModelTrainer#WANTED_LEAD_S} s, against less - or, both or neither warning in time, when its alarms
     * are worth more: a higher alarm F1, the harmonic mean of alarm precision (rising edges followed by an overload within
     * the horizon) and alarm recall (onsets warned before they happen). The same shape as the forest's selection
     * criterion (lead time first, then F1), on alarms. A precise rule that reacts only as the overload begins is thus
     * beaten by a model that warns in time; the tuned rule, which warns in time, is beaten only by fewer false alarms or
     * more onsets warned.
     */
    public static boolean beats(Evaluation a, Evaluation b) {
        boolean aInTime = a.lead().p50S() >= OverloadModelTrainer.WANTED_LEAD_S;
        boolean bInTime = b.lead().p50S() >= OverloadModelTrainer.WANTED_LEAD_S;
        if (aInTime != bInTime) {
            return aInTime;
        }
        return a.alarms().f1() > b.alarms().f1();
    }

    /** @param evaluationName what the windows are, for the reason line */
    public static Verdict check(Contender candidate, List<Contender> others, String evaluationName) {
        for (Contender other : others) {
            if (!beats(candidate.evaluation(), other.evaluation())) {
                return new Verdict(false, String.format(Locale.ROOT, "%s (%s) does not beat %s (%s) on %s", candidate.name(),
                        candidate.figures(), other.name(), other.figures(), evaluationName), candidate, others);
            }
        }
        StringBuilder beaten = new StringBuilder();
        for (Contender other : others) {
            beaten.append(beaten.isEmpty() ? "" : " and ").append(other.name()).append(" (").append(other.figures()).append(')');
        }
        return new Verdict(true, String.format(Locale.ROOT, "%s (%s) beats %s on %s", candidate.name(), candidate.figures(),
                beaten, evaluationName), candidate, others);
    }
}
