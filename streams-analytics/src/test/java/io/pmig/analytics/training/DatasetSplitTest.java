package io.pmig.analytics.training;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.schemas.NodeMetrics;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DatasetSplitTest {

    @Test
    void noTrainingLabelLooksIntoTheHeldOutPartAndNoHeldOutWindowUsesTrainingSamples() {
        List<NodeMetrics> samples = new ArrayList<>();
        for (String node : List.of("a", "b", "c")) {
            samples.addAll(DatasetLabellingTest.series(node, 900, s -> (s / 60) % 3 == 2 ? 100 : 10));
        }
        OverloadDefinition overload = OverloadDefinition.defaults().withHorizon(15);
        Dataset data = Dataset.build(samples, AnalyticsConfig.defaults(), overload);
        Dataset.Split split = data.split(0.3);

        assertFalse(split.train().isEmpty());
        assertFalse(split.heldOut().isEmpty());
        long lastTrainLabelTime = split.train().stream().mapToLong(w -> w.endMs() + overload.horizonMs()).max().orElseThrow();
        long firstHeldOutSample = split.heldOut().stream().mapToLong(LabelledWindow::startMs).min().orElseThrow();
        assertTrue(lastTrainLabelTime <= split.cutMs(), "a training label looks past the cut");
        assertTrue(firstHeldOutSample >= split.cutMs(), "a held-out window uses samples before the cut");
        // The held-out part is the most recent ~30 % of the time range, and both parts see overloads.
        long first = data.windows().get(0).endMs();
        long last = data.windows().get(data.windows().size() - 1).endMs();
        assertTrue(Math.abs(split.cutMs() - (first + 0.7 * (last - first))) <= 1);
        assertTrue(split.train().stream().anyMatch(LabelledWindow::positive));
        assertTrue(split.heldOut().stream().anyMatch(LabelledWindow::positive));
    }
}
