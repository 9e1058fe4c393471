package io.pmig.analytics.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.training.OverloadModelTrainer.Criterion;
import io.pmig.analytics.training.OverloadModelTrainer.Policy;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** --select-by precision keeps the best alarm F1 among candidates that meet the goal, and tries the alarm policies. */
class AlarmSelectionCriterionTest {

    private static final Evaluation.Counts NONE = new Evaluation.Counts(0, 0, 0, 0);

    /** 20 onsets. */
    private static Evaluation alarms(int raised, int trueAlarms, int warned, double leadP50S) {
        return new Evaluation(NONE, NONE, 20, warned, leadP50S, new Evaluation.Alarms(raised, trueAlarms, 1.0, 20, warned),
                new Evaluation.LeadTimes(0, leadP50S, leadP50S));
    }

    @Test
    void keepsTheBestAlarmF1AmongCandidatesWithPrecisionAndLeadOfTheGoal() {
        List<Evaluation> scored = List.of(
                alarms(40, 30, 20, 12.0),  // warns early, precision 0.75: misses the goal, highest alarm F1 (0.857)
                alarms(30, 27, 16, 4.0),   // precise (0.9) but late
                alarms(30, 25, 17, 6.0),   // meets it: 0.833, alarm F1 0.840
                alarms(20, 19, 12, 9.0));  // meets it: 0.95, alarm F1 0.738

        assertEquals(2, OverloadModelTrainer.choose(Criterion.PRECISION, scored));
        assertEquals(0, OverloadModelTrainer.choose(Criterion.ALARMS, scored), "lead first, then alarm F1, precision aside");
        assertTrue(OverloadModelTrainer.why(Criterion.PRECISION, scored).startsWith("best validation alarm F1 with alarm precision"));
    }

    @Test
    void whenNoCandidateMeetsTheGoalItRanksByLeadThenAlarmF1() {
        List<Evaluation> scored = List.of(alarms(30, 27, 16, 4.0), alarms(40, 30, 20, 12.0), alarms(50, 30, 20, 13.0));

        assertEquals(1, OverloadModelTrainer.choose(Criterion.PRECISION, scored));
        assertTrue(OverloadModelTrainer.why(Criterion.PRECISION, scored).startsWith("no candidate reached"));
    }

    @Test
    void onlyPrecisionTriesAlarmPoliciesTheOthersKeepTheConfiguredOne() {
        Policy configured = Policy.of(AnalyticsConfig.of(Map.of(AnalyticsConfig.HYSTERESIS_WINDOWS, "2")));
        assertEquals(List.of(new Policy(0.5, 2)), OverloadModelTrainer.policies(Criterion.ALARMS, configured));
        List<Policy> tried = OverloadModelTrainer.policies(Criterion.PRECISION, configured);
        assertEquals(OverloadModelTrainer.POLICY_THRESHOLDS.length * OverloadModelTrainer.POLICY_CONSECUTIVE_WINDOWS.length, tried.size());
        assertTrue(tried.contains(new Policy(0.6, 2)) && tried.contains(new Policy(0.3, 1)) && tried.contains(new Policy(0.8, 4)));
    }
}
