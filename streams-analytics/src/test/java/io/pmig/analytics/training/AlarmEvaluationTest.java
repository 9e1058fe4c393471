package io.pmig.analytics.training;

import static io.pmig.analytics.training.DatasetLabellingTest.H10;
import static io.pmig.analytics.training.DatasetLabellingTest.series;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.scoring.OverloadScore;
import io.pmig.analytics.scoring.OverloadScorer;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.Trigger;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Alarms are rising edges of the verdict; each is worth what follows it within the horizon. */
class AlarmEvaluationTest {

    private static OverloadScorer cpuLastAtLeast(double percent) {
        return f -> new OverloadScore(0, f.get("cpu_last") >= percent, "test", null, Trigger.MODEL);
    }

    @Test
    void anAlarmFollowedByAnOverloadIsTrueAndANearMissIsAFalseAlarm() {
        // Second 40-69: a ramp 5 %/s to 100 % at 59, held to 69 (an overload, onset 57 at >= 90 %). Second 150-169: a
        // near miss, 60 % flat. Seconds 400 on: quiet, so every window of the near miss is labelled.
        List<NodeMetrics> samples = series("n", 400, s -> s >= 40 && s < 70 ? Math.min(100, 5 + 5 * (s - 40))
                : s >= 150 && s < 170 ? 60 : 5);
        Dataset data = Dataset.build(samples, AnalyticsConfig.defaults(), H10);
        assertEquals(1, data.onsets());

        Evaluation fires50 = Evaluation.of(data.windows(), data, cpuLastAtLeast(50));

        // Fires from the window whose last sample is second 49 (50 %) through the overload, and through the near miss.
        assertEquals(2, fires50.alarms().raised());
        assertEquals(1, fires50.alarms().trueAlarms());
        assertEquals(0.5, fires50.alarms().precision(), 1e-9);
        assertEquals(1.0, fires50.alarms().recall(), 1e-9);
        double nodeHours = data.windows().size() / 3600.0;
        assertEquals(1 / nodeHours, fires50.alarms().falsePerNodeHour(), 1e-9);
        long onset = data.episodes().get("n").get(0).onsetMs();
        assertEquals((onset - DatasetLabellingTest.at(50)) / 1000.0, fires50.lead().p50S(), 1e-9);

        // "Hot now" fires only once the node is overloaded: a true alarm, but no warning.
        Evaluation hotNow = Evaluation.of(data.windows(), data, cpuLastAtLeast(90));
        assertEquals(1, hotNow.alarms().raised());
        assertEquals(1.0, hotNow.alarms().precision(), 1e-9);
        assertEquals(0.0, hotNow.alarms().recall(), 1e-9);
        assertEquals(0.0, hotNow.lead().p50S(), 1e-9);
    }

    @Test
    void aMissedOnsetCountsZeroInTheLeadTimePercentiles() {
        // Two overloads: a slow ramp the scorer warns of, and a jump from 5 % to 100 % it cannot warn of.
        List<NodeMetrics> samples = series("n", 300, s -> s >= 40 && s < 70 ? Math.min(100, 5 + 5 * (s - 40))
                : s >= 150 && s < 170 ? 100 : 5);
        Dataset data = Dataset.build(samples, AnalyticsConfig.defaults(), H10);
        Evaluation evaluation = Evaluation.of(data.windows(), data, cpuLastAtLeast(50));
        assertEquals(2, evaluation.onsets());
        assertEquals(1, evaluation.onsetsWarned());
        assertEquals(0.0, evaluation.lead().p10S(), 1e-9);
        assertEquals(0.0, evaluation.lead().p50S(), 1e-9);
        assertEquals(0.5, evaluation.alarms().recall(), 1e-9);
    }
}
