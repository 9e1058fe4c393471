package io.pmig.analytics.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.features.WindowFeatures;
import io.pmig.analytics.scoring.ModelScorer;
import io.pmig.platform.config.ConfigException;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.NodeMetrics;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrainingFeatureSetTest {

    @Test
    void theDefaultNodeLocalSetLeavesOutEveryHostWideFigure() {
        FeatureSet set = FeatureSet.parse("node-local");
        assertEquals(FeatureSet.NODE_LOCAL, set);
        for (String hostWide : List.of("load1_per_cpu_last", "load1_slope", "load5_per_cpu_last", "process_count_last",
                "process_count_delta", "top_process_cpu_share", "disk_bytes_per_s_mean", "net_bytes_per_s_mean",
                "swap_fraction_last")) {
            assertTrue(!set.features().contains(hostWide), hostWide + " is a host figure in simulated mode");
        }
        assertTrue(WindowFeatures.NAMES.containsAll(set.features()));
        assertEquals(WindowFeatures.NAMES, FeatureSet.parse("all").features());
    }

    @Test
    void namedFeaturesAreKeptInTheTopologysOrderAndUnknownOnesAreRefusedByOption() {
        assertEquals(List.of("cpu_mean", "mem_slope"), FeatureSet.parse("mem_slope, cpu_mean").features());
        ConfigException e = assertThrows(ConfigException.class, () -> FeatureSet.parse("cpu_mean,cpu_median"));
        assertTrue(e.getMessage().contains("--features") && e.getMessage().contains("cpu_median"), e.getMessage());
    }

    @Test
    void aModelOverASubsetListsOnlyThatSubsetAndScoresTheTopologysFullVectors() {
        List<NodeMetrics> samples = new ArrayList<>();
        for (String node : List.of("a", "b")) {
            samples.addAll(DatasetLabellingTest.series(node, 600, s -> (s / 60) % 3 == 2 ? 100 : 10 + (s % 60)));
        }
        Dataset data = Dataset.build(samples, AnalyticsConfig.defaults(), OverloadDefinition.defaults());
        FeatureSet subset = FeatureSet.parse("cpu_last,cpu_slope,mem_fraction_last");
        ModelUpdate update = OverloadModelTrainer.train(data, AnalyticsConfig.defaults(),
                new OverloadModelTrainer.Options(10, 1, 0.3, subset, 0)).update();

        assertEquals(subset.features(), update.getFeatures().stream().map(Object::toString).toList());
        ModelScorer scorer = ModelScorer.load(update, 0.5);
        LabelledWindow hot = data.windows().stream().filter(LabelledWindow::alreadyOverloaded).findFirst().orElseThrow();
        LabelledWindow quiet = data.windows().stream().filter(w -> !w.positive()).findFirst().orElseThrow();
        assertTrue(scorer.score(hot.features()).score() > scorer.score(quiet.features()).score());
    }
}
