package io.pmig.analytics;

import static io.pmig.analytics.Samples.MIB;
import static io.pmig.analytics.Samples.sample;
import static io.pmig.analytics.Samples.workload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.scoring.ModelScorer;
import io.pmig.schemas.AlarmPolicy;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.NodeMetrics;
import java.util.Map;
import java.util.function.LongFunction;
import org.junit.jupiter.api.Test;

/**
 * A model carries the alarm policy chosen with it (ModelUpdate.alarmPolicy); the app's topology acts on it unless the
 * operator set analytics.model.score.threshold or analytics.decision.hysteresis.windows.
 */
class ModelAlarmPolicyTest {

    /** 70 % CPU, flat: the test model (cut at 50 %) flags every window, the trend rule none. */
    private static final LongFunction<NodeMetrics[]> MODERATE = t -> new NodeMetrics[] {
            sample("n1", t, 70, 0.30, workload("w-big", 150, 512 * MIB, true)),
            sample("n2", t, 10, 0.30),
    };
    /**
     * Steps after which a node loaded from the start has completed exactly k windows (AnalyticsTopologyTest). The first
     * window is planned before n2 has reported one, with no destination known: a move needs the second.
     */
    private static int stepsForWindows(int k) {
        return 11 + k;
    }

    private static ModelUpdate carrying(double threshold, int consecutiveWindows) {
        return ModelUpdate.newBuilder(TestModels.trainedModel("rf-policy"))
                .setAlarmPolicy(AlarmPolicy.newBuilder().setScoreThreshold(threshold).setConsecutiveWindows(consecutiveWindows)
                        .setChosenBy("test").build())
                .build();
    }

    @Test
    void theDecisionStageWaitsForTheWindowsInARowTheModelCarries() {
        try (TopologyHarness harness = new TopologyHarness(Map.of(AnalyticsConfig.SCORER, "model"))) {
            harness.publishModel("overload", carrying(0.5, 4));
            harness.run(stepsForWindows(3), MODERATE);
            var n1 = harness.scores.readValuesToList().stream().filter(s -> s.getNodeId().toString().equals("n1")).toList();
            assertEquals(3, n1.size());
            assertTrue(n1.stream().allMatch(s -> s.getOverloaded() && "rf-policy".equals(String.valueOf(s.getModelVersion()))),
                    "the model flags n1: " + n1);
            assertTrue(harness.commands().isEmpty(), "3 flagged windows: the configured 1 would have moved, the model asks for 4");
            harness.run(1, MODERATE);
            assertEquals(1, harness.commands().size(), "the 4th flagged window in a row moves");
            assertEquals("n1", harness.commands().get(0).getSourceNode().toString());
        }
    }

    @Test
    void windowsInARowSetByTheOperatorOverrideTheModels() {
        try (TopologyHarness harness = new TopologyHarness(Map.of(AnalyticsConfig.SCORER, "model",
                AnalyticsConfig.HYSTERESIS_WINDOWS, "1"))) {
            harness.publishModel("overload", carrying(0.5, 4));
            harness.run(stepsForWindows(2), MODERATE);
            assertEquals(1, harness.commands().size(), "analytics.decision.hysteresis.windows=1 was given: a flagged window moves");
        }
    }

    @Test
    void aModelWithoutAPolicyRunsUnderTheConfiguredOne() {
        try (TopologyHarness harness = new TopologyHarness(Map.of(AnalyticsConfig.SCORER, "model"))) {
            harness.publishModel("overload", TestModels.trainedModel("rf-old"));
            harness.run(stepsForWindows(2), MODERATE);
            assertEquals(1, harness.commands().size(), "the default of 1 window: moved before the 4 a carried policy would wait for");
        }
    }

    @Test
    void theScoreThresholdIsTheModelsUnlessTheOperatorSetIt() {
        ModelUpdate model = carrying(0.8, 2);
        assertEquals(0.8, ModelScorer.load(model, AnalyticsConfig.defaults()).threshold());
        assertEquals(2, ModelScorer.load(model, AnalyticsConfig.defaults()).consecutiveWindows());
        AnalyticsConfig given = AnalyticsConfig.of(Map.of(AnalyticsConfig.MODEL_SCORE_THRESHOLD, "0.5"));
        assertEquals(0.5, ModelScorer.load(model, given).threshold(), "given explicitly, even at its default value");
        assertEquals(2, ModelScorer.load(model, given).consecutiveWindows(), "the other key stays the model's");
        ModelScorer old = ModelScorer.load(TestModels.trainedModel("rf-old"),
                AnalyticsConfig.of(Map.of(AnalyticsConfig.MODEL_SCORE_THRESHOLD, "0.7")));
        assertEquals(0.7, old.threshold());
        assertEquals(0, old.consecutiveWindows(), "no carried count: the configured one applies");
        assertTrue(AnalyticsConfig.defaults().with(Map.of(AnalyticsConfig.SEED, "3")).isGiven(AnalyticsConfig.SEED));
        assertTrue(!AnalyticsConfig.defaults().with(Map.of(AnalyticsConfig.SEED, "3")).isGiven(AnalyticsConfig.HYSTERESIS_WINDOWS),
                "with() marks only what it was given");
    }
}
