package io.pmig.analytics.training;

import static io.pmig.analytics.Samples.MIB;
import static io.pmig.analytics.Samples.sample;
import static io.pmig.analytics.Samples.workload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.schemas.NodeMetrics;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code train --label preventable}: a window is positive only when an overload is coming and one move of one of the
 * node's workloads would prevent it - the outcome benchmark's oracle - so an overload no move can end teaches nothing.
 */
class PreventableLabelTest {

    private static final long T0 = 1_700_000_000_000L;
    private static final int SECONDS = 90;
    private static final int ONSET_S = 40;
    private static final int END_S = 60;

    /** A node of 4 cores, hot (95 %) from ONSET_S to END_S; the hot part is a movable workload plus a pinned one. */
    private static List<NodeMetrics> node(String id, double movableCores) {
        List<NodeMetrics> samples = new ArrayList<>();
        for (int s = 0; s < SECONDS; s++) {
            boolean hot = s >= ONSET_S && s < END_S;
            double movable = hot ? movableCores : 0.2;
            double pinned = hot ? 3.8 - movableCores : 1.0;
            samples.add(sample(id, T0 + s * 1000L, (movable + pinned) / 4 * 100, 0.3,
                    workload(id + "-app", movable * 100, 64 * MIB, true),
                    workload(id + "-pinned", pinned * 100, 64 * MIB, false)));
        }
        return samples;
    }

    private static List<LabelledWindow> positives(List<LabelledWindow> windows, String node) {
        return windows.stream().filter(w -> w.nodeId().equals(node) && w.positive()).toList();
    }

    @Test
    void onlyOverloadsOneMoveWouldPreventArePositive() {
        List<NodeMetrics> samples = new ArrayList<>(node("movable", 1.5));
        samples.addAll(node("stuck", 0.1)); // without the app it still runs 3.7 of 4 cores: 92 %, hot
        AnalyticsConfig config = AnalyticsConfig.defaults();
        OverloadDefinition overload = OverloadDefinition.defaults();

        Dataset plain = Dataset.build(samples, config, overload, Censoring.NONE, Dataset.Label.OVERLOAD);
        Dataset preventable = Dataset.build(samples, config, overload, Censoring.NONE, Dataset.Label.PREVENTABLE);

        assertEquals(plain.windows().size(), preventable.windows().size(), "the same windows, only the labels differ");
        assertTrue(!positives(plain.windows(), "stuck").isEmpty(), "the plain label calls the stuck node's run-up positive");
        // No move ends the stuck node's overload; only at its very end (a move landing after it ended by itself, as the
        // benchmark's oracle counts it) is a window positive.
        assertTrue(positives(preventable.windows(), "stuck").stream().allMatch(w -> w.endMs() >= T0 + (END_S - 1) * 1000L),
                positives(preventable.windows(), "stuck").toString());
        assertTrue(positives(plain.windows(), "stuck").stream().anyMatch(w -> w.endMs() < T0 + ONSET_S * 1000L),
                "the plain label warns of the stuck node's overload before its onset");
        List<LabelledWindow> moved = positives(preventable.windows(), "movable");
        assertTrue(!moved.isEmpty(), "moving the 1.5-core app off the movable node prevents its overload");
        List<LabelledWindow> beforeTheTail = moved.stream().filter(w -> w.endMs() < T0 + (END_S - 1) * 1000L).toList();
        assertTrue(!beforeTheTail.isEmpty() && plain.windows().stream().filter(LabelledWindow::positive).toList().containsAll(beforeTheTail),
                "up to the overload's last seconds, preventable is a subset of overloaded-within-horizon");
        long earliest = moved.stream().mapToLong(LabelledWindow::endMs).min().orElseThrow();
        assertTrue(earliest < T0 + ONSET_S * 1000L, "windows before the onset are positive: the move can still prevent it");
        assertTrue(earliest >= T0 + (ONSET_S - overload.horizonS()) * 1000L - 1000, "... but not more than the horizon before it");
    }
}
