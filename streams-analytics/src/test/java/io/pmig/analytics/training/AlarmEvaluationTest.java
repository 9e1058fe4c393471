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

    @Test
    void actingOnlyAfterKWindowsInARowDropsABlipsAlarmAndDelaysARampsByKMinusOneAdvances() {
        // A ramp 5 %/s to 100 % (seconds 40-69, an overload) and, at second 150, a one-second blip to 60 %: the blip's
        // sample is the last of exactly one window, so a scorer on cpu_last flags that one window only.
        List<NodeMetrics> samples = series("n", 400, s -> s >= 40 && s < 70 ? Math.min(100, 5 + 5 * (s - 40))
                : s == 150 ? 60 : 5);
        Dataset data = Dataset.build(samples, AnalyticsConfig.defaults(), H10);

        Evaluation single = Evaluation.of(data.windows(), data, cpuLastAtLeast(50), 1);
        Evaluation threeInARow = Evaluation.of(data.windows(), data, cpuLastAtLeast(50), 3);

        assertEquals(2, single.alarms().raised());
        assertEquals(1, single.alarms().falseAlarms(), "the blip");
        assertEquals(1, threeInARow.alarms().raised());
        assertEquals(0, threeInARow.alarms().falseAlarms());
        assertEquals(1.0, threeInARow.alarms().precision(), 1e-9);
        assertEquals(single.lead().p50S() - 2.0, threeInARow.lead().p50S(), 1e-9, "two more windows of one second each");
        // The dataset's own setting is the app's analytics.decision.hysteresis.windows.
        Dataset configured = Dataset.build(samples,
                AnalyticsConfig.of(java.util.Map.of(AnalyticsConfig.HYSTERESIS_WINDOWS, "3")), H10);
        assertEquals(threeInARow.alarms(), Evaluation.of(configured.windows(), configured, cpuLastAtLeast(50)).alarms());
    }

    @Test
    void aGapStartsTheCountAgain() {
        // Seven windows in a row flagged (last samples at 60 %, seconds 40-46); the middle three are missing (a gap, as
        // censoring leaves): two and two in a row, never three.
        Dataset data = Dataset.build(series("n", 300, s -> s >= 40 && s < 47 ? 60 : 5), AnalyticsConfig.defaults(), H10);
        List<LabelledWindow> flagged = data.windows().stream().filter(w -> w.features().get("cpu_last") >= 50).toList();
        assertEquals(7, flagged.size());
        List<LabelledWindow> withGap = data.windows().stream()
                .filter(w -> !flagged.subList(2, 5).contains(w)).toList();

        assertEquals(0, Evaluation.of(withGap, data, cpuLastAtLeast(50), 3).alarms().raised());
        assertEquals(1, Evaluation.of(data.windows(), data, cpuLastAtLeast(50), 3).alarms().raised());
    }
}
