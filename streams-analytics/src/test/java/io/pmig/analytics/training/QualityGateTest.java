package io.pmig.analytics.training;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class QualityGateTest {

    private static final Evaluation.Counts NONE = new Evaluation.Counts(0, 0, 0, 0);

    /** 28 onsets, 1 node-hour of windows. */
    private static Evaluation alarms(int raised, int trueAlarms, int warned, double leadP50S) {
        return new Evaluation(NONE, NONE, 28, warned, leadP50S, new Evaluation.Alarms(raised, trueAlarms, 1.0, 28, warned),
                new Evaluation.LeadTimes(0, leadP50S, leadP50S));
    }

    @Test
    void warningInTimeComesFirstThenFewerFalseAlarmsOrMoreOnsetsWarned() {
        Evaluation earlyNoisy = alarms(57, 26, 28, 13.5);
        Evaluation earlyPrecise = alarms(56, 34, 27, 10.7);
        Evaluation lateAndPrecise = alarms(28, 26, 15, 1.7);

        assertTrue(QualityGate.beats(earlyPrecise, earlyNoisy), "both in time: alarm F1 decides");
        assertFalse(QualityGate.beats(earlyNoisy, earlyPrecise));
        assertTrue(QualityGate.beats(earlyNoisy, lateAndPrecise), "a rule that reacts as the overload begins warns too late");
        assertFalse(QualityGate.beats(lateAndPrecise, earlyNoisy));
        assertFalse(QualityGate.beats(earlyNoisy, earlyNoisy), "a tie is no improvement");
    }

    @Test
    void theVerdictNamesTheFirstContenderNotBeatenInOneLine() {
        QualityGate.Contender candidate = new QualityGate.Contender("model new", null, alarms(57, 26, 28, 13.5));
        QualityGate.Verdict verdict = QualityGate.check(candidate, List.of(
                new QualityGate.Contender("model in use old", null, alarms(28, 26, 15, 1.7)),
                new QualityGate.Contender("the tuned rule r", null, alarms(56, 34, 27, 10.7))), "trace");
        assertFalse(verdict.passed());
        assertTrue(verdict.reason().startsWith("model new (alarm F1 0.627"), verdict.reason());
        assertTrue(verdict.reason().contains("does not beat the tuned rule r (alarm F1 0.745"), verdict.reason());
        assertFalse(verdict.reason().contains("\n"));
    }
}
