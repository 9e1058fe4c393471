package io.pmig.analytics.decisions;

import static io.pmig.analytics.Samples.GIB;
import static io.pmig.analytics.Samples.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.windows.NodeReport;
import io.pmig.analytics.windows.WorkloadLoad;
import io.pmig.schemas.NodeState;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MigrationPlannerTest {

    private static final long NOW = 1_000_000;
    private final AnalyticsConfig config = AnalyticsConfig.defaults();
    private final MigrationPlanner planner = new MigrationPlanner(config);

    private static NodeView node(String id, NodeState state, double cpuCores, WorkloadLoad... workloads) {
        NodeReport report = new NodeReport(id, NOW - 10_000, NOW, state, 0.9, state == NodeState.OVERLOADED, "threshold", null,
                Map.of(), 4, 8 * GIB, cpuCores, 2 * GIB, List.of(workloads));
        return new NodeView(report, state == NodeState.OVERLOADED ? 3 : 0, -1);
    }

    private final WorkloadLoad web = new WorkloadLoad("web", 1.5, 512 * MIB, true);
    private final NodeView source = node("a", NodeState.OVERLOADED, 3.8, web);

    @Test
    void aWorkloadIsNotMovedBackToTheNodeItLeftWithinTheReturnCooldown() {
        NodeView back = node("b", NodeState.UP, 0.4);
        Map<String, WorkloadHistory> history = Map.of("web", new WorkloadHistory(NOW - config.workloadCooldownMs() - 1, "b"));
        MigrationPlan plan = planner.plan(source, List.of(source, back), List.of(), history, NOW);
        assertFalse(plan.isMove(), "b is the node web left " + (config.workloadCooldownMs() + 1) + " ms ago");

        Map<String, WorkloadHistory> longAgo = Map.of("web", new WorkloadHistory(NOW - config.returnCooldownMs(), "b"));
        assertEquals("b", planner.plan(source, List.of(source, back), List.of(), longAgo, NOW).destinationNode());
    }

    @Test
    void aRecentlyMovedWorkloadStaysPut() {
        Map<String, WorkloadHistory> history = Map.of("web", new WorkloadHistory(NOW - 1_000, "z"));
        MigrationPlan plan = planner.plan(source, List.of(source, node("b", NodeState.UP, 0.4)), List.of(), history, NOW);
        assertFalse(plan.isMove());
        assertTrue(plan.rejection().contains("cooldown"), plan.rejection());
    }

    @Test
    void inFlightMovesReserveRoomOnTheirDestination() {
        NodeView b = node("b", NodeState.UP, 0.4);
        NodeView c = node("c", NodeState.UP, 0.8);
        assertEquals("b", planner.plan(source, List.of(source, b, c), List.of(), Map.of(), NOW).destinationNode());
        InFlightMove toB = new InFlightMove("m1", "other", "x", "b", NOW - 1_000, 1.0, 0);
        assertEquals("c", planner.plan(source, List.of(source, b, c), List.of(toB), Map.of(), NOW).destinationNode());
    }

    @Test
    void downAndOverloadedNodesAreNeverDestinations() {
        MigrationPlan plan = planner.plan(source, List.of(source, node("b", NodeState.DOWN, 0), node("c", NodeState.OVERLOADED, 0.1)),
                List.of(), Map.of(), NOW);
        assertFalse(plan.isMove());
    }

    @Test
    void unmigratableWorkloadsAreNotCandidates() {
        NodeView pinned = node("a", NodeState.OVERLOADED, 3.8, new WorkloadLoad("db", 1.5, 512 * MIB, false));
        assertFalse(planner.plan(pinned, List.of(pinned, node("b", NodeState.UP, 0.4)), List.of(), Map.of(), NOW).isMove());
    }
}
