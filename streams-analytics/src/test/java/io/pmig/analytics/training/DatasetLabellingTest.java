package io.pmig.analytics.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.Samples;
import io.pmig.analytics.training.OverloadDefinition.Episode;
import io.pmig.schemas.NodeMetrics;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.IntToDoubleFunction;
import org.junit.jupiter.api.Test;

/** Labels on hand-made one-sample-a-second series in the agents' own record format. */
class DatasetLabellingTest {

    static final long T0 = 1_700_000_000_000L;
    static final OverloadDefinition H10 = OverloadDefinition.defaults().withHorizon(10);

    /** cpu(second) for seconds 0..n-1 of one node, memory at 20 %. */
    static List<NodeMetrics> series(String node, int seconds, IntToDoubleFunction cpu) {
        List<NodeMetrics> samples = new ArrayList<>();
        for (int s = 0; s < seconds; s++) {
            samples.add(Samples.sample(node, T0 + s * 1000L, cpu.applyAsDouble(s), 0.2));
        }
        return samples;
    }

    static long at(int second) {
        return T0 + second * 1000L;
    }

    @Test
    void aSustainedRunOfHotSamplesIsOneEpisodeFromItsFirstToItsLastSample() {
        // idle, ramp 20 %/s from second 40 to 100 % at 44, held to 59, idle again
        List<NodeMetrics> samples = series("n", 90, s -> s < 40 ? 5 : s < 60 ? Math.min(100, 20 + 20 * (s - 40)) : 5);
        assertEquals(List.of(new Episode(at(44), at(59))), H10.episodes(samples));
    }

    @Test
    void aBlipShorterThanTheSustainTimeIsNoEpisode() {
        List<NodeMetrics> samples = series("n", 60, s -> s == 30 || s == 31 || s == 32 ? 100 : 5); // 2 s apart < 3 s
        assertTrue(H10.episodes(samples).isEmpty());
        assertTrue(Dataset.build(samples, AnalyticsConfig.defaults(), H10).windows().stream().noneMatch(LabelledWindow::positive));
    }

    @Test
    void memoryAtNinetyPercentOfCapacityIsOverloadToo() {
        List<NodeMetrics> samples = new ArrayList<>();
        for (int s = 0; s < 40; s++) {
            samples.add(Samples.sample("n", at(s), 5, s < 20 ? 0.5 : 0.95));
        }
        assertEquals(List.of(new Episode(at(20), at(39))), H10.episodes(samples));
    }

    @Test
    void windowsArePositiveWhenTheNodeIsOverloadedWithinTheHorizonAfterThem() {
        List<NodeMetrics> samples = series("n", 120, s -> s >= 50 && s < 70 ? 100 : 5); // episode [50, 69]
        Dataset data = Dataset.build(samples, AnalyticsConfig.defaults(), H10);
        Map<Long, LabelledWindow> byEnd = new java.util.HashMap<>();
        data.windows().forEach(w -> byEnd.put(w.endMs(), w));

        assertFalse(byEnd.get(at(39)).positive(), "onset 11 s later: beyond the horizon");
        assertTrue(byEnd.get(at(40)).positive(), "onset exactly 10 s later");
        assertFalse(byEnd.get(at(40)).alreadyOverloaded());
        assertTrue(byEnd.get(at(50)).positive(), "the window ends at the onset sample (exclusive): still a prediction");
        assertFalse(byEnd.get(at(50)).alreadyOverloaded());
        assertTrue(byEnd.get(at(60)).positive(), "mid-episode: overloaded in the next seconds");
        assertTrue(byEnd.get(at(60)).alreadyOverloaded());
        assertTrue(byEnd.get(at(68)).positive());
        assertFalse(byEnd.get(at(69)).positive(), "the last hot sample is at 69: nothing overloaded after it");
        assertFalse(byEnd.get(at(80)).positive());
    }

    @Test
    void windowsWhoseHorizonRunsPastTheDataAreLeftOut() {
        List<NodeMetrics> samples = series("n", 60, s -> 5); // samples 0..59
        Dataset data = Dataset.build(samples, AnalyticsConfig.defaults(), H10);
        // windows end at 10 s (first full window) .. 49 s (49 + 10 = last sample)
        assertEquals(at(10), data.windows().get(0).endMs());
        assertEquals(at(49), data.windows().get(data.windows().size() - 1).endMs());
        assertEquals(40, data.windows().size());
    }

    @Test
    void eachNodeIsLabelledFromItsOwnEpisodes() {
        List<NodeMetrics> samples = new ArrayList<>(series("hot", 80, s -> s >= 40 ? 100 : 5));
        samples.addAll(series("cold", 80, s -> 5));
        Dataset data = Dataset.build(samples, AnalyticsConfig.defaults(), H10);
        assertTrue(data.windows().stream().filter(w -> w.nodeId().equals("hot")).anyMatch(LabelledWindow::positive));
        assertTrue(data.windows().stream().filter(w -> w.nodeId().equals("cold")).noneMatch(LabelledWindow::positive));
        assertEquals(1, data.onsets());
    }

    @Test
    void leadTimeIsHowLongBeforeTheOnsetTheScorerFirstFires() {
        List<NodeMetrics> samples = series("n", 120, s -> s < 40 ? 5 : s < 80 ? Math.min(100, 5 + 3 * (s - 40)) : 5);
        Dataset data = Dataset.build(samples, AnalyticsConfig.defaults(), H10);
        long onset = data.episodes().get("n").get(0).onsetMs(); // first sample >= 90: second 69
        assertEquals(at(69), onset);
        // A scorer that fires once the window's last CPU reaches 70 %: from the window ending at 63 (last sample 62 = 71 %).
        Evaluation evaluation = Evaluation.of(data.windows(), data.episodes(), H10,
                f -> new io.pmig.analytics.scoring.OverloadScore(0, f.get("cpu_last") >= 70, "test", null, io.pmig.schemas.Trigger.MODEL));
        assertEquals(1, evaluation.onsets());
        assertEquals(1, evaluation.onsetsWarned());
        assertEquals(6.0, evaluation.meanLeadS(), 1e-9);
    }
}
