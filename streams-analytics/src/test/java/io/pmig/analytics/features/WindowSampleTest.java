package io.pmig.analytics.features;

import static io.pmig.analytics.Samples.GIB;
import static io.pmig.analytics.Samples.MIB;
import static io.pmig.analytics.Samples.sample;
import static io.pmig.analytics.Samples.workload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.pmig.analytics.windows.NodeReport;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.NodeState;
import io.pmig.schemas.ProcessSample;
import io.pmig.schemas.serde.AvroSerde;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The window stage holds compact samples; what it computes from them must equal what the samples themselves give. */
class WindowSampleTest {

    private final AvroSerde<NodeMetrics> serde = AvroSerde.of(NodeMetrics.class);

    private static List<NodeMetrics> window() {
        List<NodeMetrics> window = new ArrayList<>();
        for (int i = 0; i < 11; i++) {
            ProcessSample other = ProcessSample.newBuilder().setPid(7).setName("sshd").setCpuPercent(90 - i).setRssBytes(MIB).build();
            // a workload leaves half-way: ids change, and the later samples carry one workload
            List<ProcessSample> processes = i < 6
                    ? List.of(workload("a", 30 + i * 7.3, 256 * MIB, true), other, workload("b", 11.1 * i, 64 * MIB, false))
                    : List.of(workload("a", 30 + i * 7.3, 256 * MIB + i, true), other);
            NodeMetrics sample = sample("n", 1_000L * i + i % 3, 20 + i * 6.7, 0.4 + i * 0.013, 1.5 + i * 0.1,
                    processes.toArray(ProcessSample[]::new));
            sample.setSwapUsedBytes(i * MIB);
            sample.setSwapTotalBytes(GIB);
            sample.setDiskReadBytesPerSec(i * 1.7e5);
            sample.setNetTxBytesPerSec(i * 3.1e5);
            window.add(sample);
        }
        return window;
    }

    /** As the window stage builds them: decoded one by one, each sharing what it can with the one before. */
    private List<WindowSample> asHeld(List<NodeMetrics> window) {
        List<WindowSample> held = new ArrayList<>();
        WindowSample previous = null;
        for (NodeMetrics sample : window) {
            previous = WindowSample.of(serde.decode(serde.encode(sample)), previous);
            held.add(previous);
        }
        return held;
    }

    @Test
    void featuresAndReportEqualThoseOfTheSamples() {
        List<NodeMetrics> window = window();
        List<WindowSample> held = asHeld(window);
        FeatureVector features = WindowFeatures.compute(window);
        assertEquals(features, WindowFeatures.of(held));
        List<WindowSample> shuffled = new ArrayList<>(held);
        java.util.Collections.reverse(shuffled);
        assertEquals(features, WindowFeatures.of(shuffled));

        NodeScore score = NodeScore.newBuilder().setNodeId("n").setWindowStartMs(0).setWindowEndMs(11_000).setScore(0.9)
                .setOverloaded(true).setState(NodeState.OVERLOADED).setScorer("trend-rule").setTimestampMs(11_000).build();
        assertEquals(NodeReport.of(score, window), NodeReport.ofSamples(score, held));
        assertEquals(1, NodeReport.ofSamples(score, held).workloads().size());
    }

    @Test
    void aNodesUnchangedWorkloadIdsAreHeldOnce() {
        List<WindowSample> held = asHeld(window());
        assertSame(held.get(0).workloadId(0), held.get(5).workloadId(0));
        assertSame(held.get(0).workloadId(1), held.get(5).workloadId(1));
        assertNotSame(held.get(5).workloadId(0), held.get(6).workloadId(0)); // the set changed
        assertSame(held.get(6).workloadId(0), held.get(10).workloadId(0));
        assertEquals("a", held.get(10).workloadId(0));
        assertEquals(256 * MIB + 10, held.get(10).workloadRssBytes(0));
        assertEquals(30 + 10 * 7.3, held.get(10).workloadCpuPercent(0));
    }
}
