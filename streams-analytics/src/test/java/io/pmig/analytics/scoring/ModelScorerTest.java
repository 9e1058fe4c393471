package io.pmig.analytics.scoring;

import static io.pmig.analytics.Samples.sample;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.TestModels;
import io.pmig.analytics.training.DefaultModel;
import io.pmig.analytics.features.FeatureVector;
import io.pmig.analytics.features.WindowFeatures;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.Trigger;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ModelScorerTest {

    private static final ModelUpdate MODEL = TestModels.trainedModel("v1");

    private static FeatureVector windowAt(double cpu) {
        List<io.pmig.schemas.NodeMetrics> window = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            window.add(sample("n", i * 1000L, cpu, 0.3));
        }
        return WindowFeatures.compute(window);
    }

    @Test
    void aDeserializedForestScoresWithItsVersion() {
        ModelScorer scorer = ModelScorer.load(MODEL, 0.5);
        OverloadScore high = scorer.score(windowAt(80));
        OverloadScore low = scorer.score(windowAt(20));
        assertTrue(high.overloaded());
        assertFalse(low.overloaded());
        assertTrue(high.score() > low.score());
        assertEquals("v1", high.modelVersion());
        assertEquals(Trigger.MODEL, high.trigger());
    }

    @Test
    void aModelNeedingAFeaturePmigDoesNotComputeIsRejected() {
        ModelUpdate update = ModelUpdate.newBuilder(MODEL).setFeatures(List.of("cpu_mean", "gpu_temperature")).build();
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> ModelScorer.load(update, 0.5));
        assertTrue(error.getMessage().contains("gpu_temperature"));
    }

    @Test
    void bytesThatAreNotASmileModelAreRejected() {
        ModelUpdate notSmile = ModelUpdate.newBuilder(MODEL).setModelBytes(ByteBuffer.wrap(new byte[] {1, 2, 3})).build();
        assertThrows(IllegalArgumentException.class, () -> ModelScorer.load(notSmile, 0.5));
    }

    @Test
    void theThresholdRuleIsUsedUntilAModelIsInstalledAndAfterItIsWithdrawn() {
        CurrentScorer current = new CurrentScorer(new ThresholdScorer(85, 0.9, 2));
        assertEquals("threshold", current.score(windowAt(70)).scorer());
        current.use(ModelScorer.load(MODEL, 0.5));
        assertEquals("v1", current.score(windowAt(70)).modelVersion());
        current.use(null);
        assertEquals("threshold", current.score(windowAt(70)).scorer());
    }

    @Test
    void theShippedForestScoresByItsCompiledFormExactlyAsSmileDoes() {
        ModelUpdate shipped = DefaultModel.load();
        ModelScorer compiled = ModelScorer.load(shipped, 0.5);
        ModelScorer smile = ModelScorer.load(shipped, 0.5, false);
        assertTrue(compiled.compiled(), "the shipped forest should compile");
        assertFalse(smile.compiled());
        Random random = new Random(3);
        int overloaded = 0;
        for (int w = 0; w < 2_000; w++) {
            // Windows from calm to saturated, with trends, so that every part of the trees is reached.
            double cpu = random.nextDouble() * 100;
            double cpuStep = (random.nextDouble() - 0.5) * 10;
            double mem = random.nextDouble();
            double memStep = (random.nextDouble() - 0.5) * 0.05;
            List<io.pmig.schemas.NodeMetrics> window = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                window.add(sample("n", i * 1000L, Math.max(0, Math.min(100, cpu + i * cpuStep)),
                        Math.max(0, Math.min(1, mem + i * memStep)), random.nextDouble() * 8));
            }
            FeatureVector features = WindowFeatures.compute(window);
            OverloadScore expected = smile.score(features);
            assertEquals(expected, compiled.score(features), "window " + w + ": " + features);
            overloaded += expected.overloaded() ? 1 : 0;
        }
        assertTrue(overloaded > 100 && overloaded < 1_900, overloaded + " of 2000 windows overloaded: too few kinds of window");
    }
}
