package io.pmig.analytics.windows;

import static io.pmig.analytics.Samples.MIB;
import static io.pmig.analytics.Samples.sample;
import static io.pmig.analytics.Samples.workload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.pmig.analytics.features.WindowFeatures;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.NodeState;
import io.pmig.schemas.features.FeatureLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

class NodeReportTest {

    private static final List<NodeMetrics> WINDOW = List.of(
            sample("n1", 1_000, 95, 0.5, workload("w-1", 150, 512 * MIB, true)),
            sample("n1", 2_000, 97, 0.5, workload("w-1", 170, 512 * MIB, true)));

    private static NodeScore score(boolean overloaded) {
        return FeatureLayout.setFeatures(NodeScore.newBuilder(), WindowFeatures.NAMES, WindowFeatures.compute(WINDOW).toArray())
                .setNodeId("n1").setWindowStartMs(0).setWindowEndMs(10_000).setScore(overloaded ? 0.9 : 0.2)
                .setOverloaded(overloaded).setState(overloaded ? NodeState.OVERLOADED : NodeState.UP)
                .setScorer("model").setModelVersion("rf-2").setTimestampMs(10_000).build();
    }

    @Test
    void anOverloadedNodesReportSaysWhyWithEveryFeatureByName() {
        NodeReport report = NodeReport.of(score(true), WINDOW);

        assertEquals(WindowFeatures.NAMES, List.copyOf(report.features().keySet()));
        assertEquals(WindowFeatures.compute(WINDOW).get("cpu_last"), report.features().get("cpu_last"), 0.0);
        assertEquals("model", report.scorer());
        assertEquals("rf-2", report.modelVersion());
    }

    @Test
    void aReportThatCannotBeAMovesSourceLeavesTheExplanationOutButKeepsTheFiguresThePlannerUses() {
        NodeReport report = NodeReport.of(score(false), WINDOW);

        assertNull(report.features());
        assertNull(report.scorer());
        assertNull(report.modelVersion());
        assertEquals(0.2, report.score(), 0.0);
        assertEquals(NodeState.UP, report.state());
        assertEquals(1.6, report.workloads().get(0).cpuCores(), 1e-9);
        assertEquals(1.7, report.workloads().get(0).cpuLastCores(), 1e-9, "the latest sample, for the planner's relief");
        assertEquals(0.2, report.workloads().get(0).cpuSlopeCores(), 1e-9, "150 % to 170 % of a core in one second");
        assertEquals(512 * MIB, report.workloads().get(0).rssBytes());
        assertEquals(0.96 * 4, report.cpuUsedCores(), 1e-9);

        NodeReport down = NodeReport.down(score(false));
        assertNull(down.features());
        assertEquals(NodeState.DOWN, down.state());
    }
}
