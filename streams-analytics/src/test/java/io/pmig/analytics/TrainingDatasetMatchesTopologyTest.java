package io.pmig.analytics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.features.WindowFeatures;
import io.pmig.analytics.training.TraceFile;
import io.pmig.analytics.windows.HoppingWindows;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.features.FeatureLayout;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Training sees exactly the windows and features the live topology scores: same bounds, same numbers. */
class TrainingDatasetMatchesTopologyTest {

    @Test
    void offlineWindowsOfTheRecordedTraceEqualTheTopologysScoredWindows() {
        List<NodeMetrics> trace = TraceFile.readDefault();
        long from = trace.stream().mapToLong(NodeMetrics::getTimestampMs).min().orElseThrow();
        List<NodeMetrics> slice = new ArrayList<>(trace.stream().filter(s -> s.getTimestampMs() < from + 180_000).toList());
        slice.sort(Comparator.comparingLong(NodeMetrics::getTimestampMs));

        Map<String, Map<String, Double>> live = new HashMap<>();
        try (TopologyHarness harness = new TopologyHarness(Map.of())) {
            slice.forEach(harness::publish); // the wall clock stands still: only sample time closes windows
            for (NodeScore score : harness.scores.readValuesToList()) {
                Map<String, Double> features = new HashMap<>(FeatureLayout.byName(score));
                live.put(score.getNodeId() + "@" + score.getWindowStartMs() + "-" + score.getWindowEndMs(), features);
            }
        }

        Map<String, List<NodeMetrics>> byNode = new HashMap<>();
        slice.forEach(s -> byNode.computeIfAbsent(s.getNodeId().toString(), n -> new ArrayList<>()).add(s));
        Map<String, Map<String, Double>> offline = new HashMap<>();
        byNode.forEach((node, samples) -> HoppingWindows.of(samples, AnalyticsConfig.defaults()).forEach(w ->
                offline.put(node + "@" + w.startMs() + "-" + w.endMs(), WindowFeatures.compute(w.samples()).toMap())));

        assertTrue(live.size() > 100 * byNode.size(), "too few windows scored: " + live.size());
        for (Map.Entry<String, Map<String, Double>> window : live.entrySet()) {
            assertEquals(window.getValue(), offline.get(window.getKey()), "window " + window.getKey());
        }
        // The topology holds back the windows whose grace has not passed yet; offline closes those too.
        assertTrue(offline.size() - live.size() <= byNode.size(), offline.size() + " offline vs " + live.size() + " live");
    }
}
