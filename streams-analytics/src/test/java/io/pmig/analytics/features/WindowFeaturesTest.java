package io.pmig.analytics.features;

import static io.pmig.analytics.Samples.GIB;
import static io.pmig.analytics.Samples.MIB;
import static io.pmig.analytics.Samples.sample;
import static io.pmig.analytics.Samples.workload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.features.FeatureLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class WindowFeaturesTest {

    /** CPU 10, 20, ..., 100 one second apart; memory 0.2 .. 0.2+0.09; load 1.0 .. 1.9 on 4 cores. */
    private static List<NodeMetrics> rampWindow() {
        List<NodeMetrics> window = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            window.add(sample("n", 1000L * i, 10 * (i + 1), 0.2 + 0.01 * i, 1.0 + 0.1 * i,
                    workload("w1", 50, 100 * MIB, true), workload("w2", 150, 200 * MIB, false)));
        }
        return window;
    }

    @Test
    void cpuStatisticsOverTheWindow() {
        FeatureVector features = WindowFeatures.compute(rampWindow());
        assertEquals(55.0, features.get("cpu_mean"), 1e-9);
        assertEquals(100.0, features.get("cpu_max"), 1e-9);
        assertEquals(100.0, features.get("cpu_p95"), 1e-9, "nearest rank: ceil(0.95 * 10) = 10th value");
        assertEquals(100.0, features.get("cpu_last"), 1e-9);
        assertEquals(10.0, features.get("cpu_slope"), 1e-9, "percent per second");
    }

    @Test
    void memoryIsAFractionOfCapacityAndLoadIsPerCpu() {
        FeatureVector features = WindowFeatures.compute(rampWindow());
        assertEquals(0.29, features.get("mem_fraction_last"), 1e-6);
        assertEquals(0.01, features.get("mem_slope"), 1e-6);
        assertEquals(1.9 / 4, features.get("load1_per_cpu_last"), 1e-9);
        assertEquals(0.1 / 4, features.get("load1_slope"), 1e-9);
    }

    @Test
    void processStatisticsComeFromTheLatestSample() {
        FeatureVector features = WindowFeatures.compute(rampWindow());
        assertEquals(2.0, features.get("workload_count"));
        assertEquals(200.0 / 400, features.get("workload_cpu_share"), 1e-9, "2 cores of workloads on a 4-core node");
        assertEquals(150.0 / 400, features.get("top_process_cpu_share"), 1e-9);
        assertEquals(10.0, features.get("sample_count"));
        assertEquals(1.0, features.get("sample_gap_max_s"));
    }

    @Test
    void sampleOrderDoesNotMatter() {
        List<NodeMetrics> shuffled = rampWindow();
        Collections.reverse(shuffled);
        assertEquals(WindowFeatures.compute(rampWindow()), WindowFeatures.compute(shuffled));
    }

    @Test
    void aSingleSampleHasNoSlope() {
        FeatureVector features = WindowFeatures.compute(List.of(sample("n", 0, 40, 0.5)));
        assertEquals(0.0, features.get("cpu_slope"));
        assertEquals(40.0, features.get("cpu_p95"));
        assertEquals(0.5, features.get("mem_fraction_mean"), 1e-9);
    }

    @Test
    void memoryCapacityFallsBackToTheHostTotal() {
        NodeMetrics sample = sample("n", 0, 40, 0.5);
        sample.getCapacity().setMemBytes(0);
        sample.setMemTotalBytes(16 * GIB);
        assertEquals(0.25, WindowFeatures.compute(List.of(sample)).get("mem_fraction_last"), 1e-9);
    }

    @Test
    void namesAndMapRoundTrip() {
        FeatureVector features = WindowFeatures.compute(rampWindow());
        assertEquals(WindowFeatures.NAMES, List.copyOf(features.toMap().keySet()));
        assertEquals(features, FeatureVector.fromMap(features.toMap()));
    }

    @Test
    void anEmptyWindowIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> WindowFeatures.compute(List.of()));
    }

    @Test
    void theWindowFeaturesAreAReleasedLayoutOfPmigScores() {
        // A changed list needs a new FeatureLayout version in schemas/: until then pmig.scores carries the names again.
        assertEquals(WindowFeatures.NAMES, FeatureLayout.listing(WindowFeatures.NAMES).names(),
                "WindowFeatures.NAMES changed: add a FeatureLayout version for it");
    }
}
