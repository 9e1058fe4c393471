package io.pmig.analytics.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.schemas.NodeMetrics;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ModelSelectionTest {

    /** Ramps of 30 s to overload every 90 s, with near-misses in between, on three nodes. */
    static Dataset rampsAndNearMisses() {
        List<NodeMetrics> samples = new ArrayList<>();
        for (String node : List.of("a", "b", "c")) {
            int offset = node.charAt(0) * 7;
            samples.addAll(DatasetLabellingTest.series(node, 1500, s -> {
                int t = (s + offset) % 90;
                boolean nearMiss = ((s + offset) / 90) % 3 == 1;
                return t < 30 ? 5 + t * (nearMiss ? 2 : 3.5) : t < 50 ? (nearMiss ? 65 : 100) : 5;
            }));
        }
        return Dataset.build(samples, AnalyticsConfig.defaults(), OverloadDefinition.defaults());
    }

    @Test
    void choosingTheSettingsNeverLooksAtTheHeldOutPart() {
        Dataset data = rampsAndNearMisses();
        Dataset.Split split = data.split(0.3);
        // The same data with every held-out label turned round: a selection that peeked would change.
        List<LabelledWindow> flipped = data.windows().stream()
                .map(w -> w.startMs() >= split.cutMs()
                        ? new LabelledWindow(w.nodeId(), w.startMs(), w.endMs(), w.features(), !w.positive(), w.alreadyOverloaded(), w.sharedHost())
                        : w)
                .toList();
        Dataset tampered = new Dataset(flipped, data.episodes(), data.overload(), data.windowConfig(),
                data.firstSampleMs(), data.lastSampleMs(), data.samples());
        OverloadModelTrainer.Options options = new OverloadModelTrainer.Options(10, 3, 0.3, FeatureSet.NODE_LOCAL, 0.25);

        OverloadModelTrainer.Result honest = OverloadModelTrainer.train(data, AnalyticsConfig.defaults(), options);
        OverloadModelTrainer.Result other = OverloadModelTrainer.train(tampered, AnalyticsConfig.defaults(), options);

        assertFalse(honest.selection().candidates().isEmpty());
        assertEquals(OverloadModelTrainer.CANDIDATES.size(), honest.selection().candidates().size());
        assertEquals(honest.selection(), other.selection());
        // Choosing the alarm policy (score threshold, windows in a row) and the rule's too never looks at it either.
        OverloadModelTrainer.Options byPrecision = new OverloadModelTrainer.Options(10, 3, 0.3, FeatureSet.NODE_LOCAL, 0.25,
                OverloadModelTrainer.Criterion.PRECISION);
        OverloadModelTrainer.Result honestPolicy = OverloadModelTrainer.train(data, AnalyticsConfig.defaults(), byPrecision);
        OverloadModelTrainer.Result otherPolicy = OverloadModelTrainer.train(tampered, AnalyticsConfig.defaults(), byPrecision);
        assertEquals(honestPolicy.selection(), otherPolicy.selection());
        assertEquals(honestPolicy.ruleSelection(), otherPolicy.ruleSelection());
        assertTrue(honest.selection().fitWindows() + honest.selection().validationWindows() <= split.train().size());
        assertNotEquals(honest.model().all(), other.model().all(), "the held-out evaluation does read the held-out labels");
    }

    @Test
    void withoutValidationTheFirstCandidateIsKept() {
        OverloadModelTrainer.Result result = OverloadModelTrainer.train(rampsAndNearMisses(), AnalyticsConfig.defaults(),
                new OverloadModelTrainer.Options(10, 3, 0.3, FeatureSet.NODE_LOCAL, 0));
        assertTrue(result.selection().candidates().isEmpty());
        assertEquals(OverloadModelTrainer.CANDIDATES.get(0), result.selection().chosen());
        assertEquals(1.0, result.update().getMetrics().get("quiet_downsampling"));
    }
}
