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
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
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

    /** An overloaded 4-core, 8 GiB source whose latest CPU and memory (percent, fraction) and their slopes are given. */
    private static NodeView source(double cpuLast, double cpuSlope, double memLast, double memSlope, WorkloadLoad... workloads) {
        Map<String, Double> features = Map.of("cpu_last", cpuLast, "cpu_slope", cpuSlope, "mem_fraction_last", memLast,
                "mem_slope", memSlope);
        NodeReport report = new NodeReport("a", NOW - 10_000, NOW, NodeState.OVERLOADED, 0.9, true, "model", "rf-1", features,
                4, 8 * GIB, cpuLast / 100 * 4, (long) (memLast * 8 * GIB), List.of(workloads));
        return new NodeView(report, 1, -1);
    }

    private static NodeView idle(String id) {
        return node(id, NodeState.UP, 0.4);
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

    @Test
    void aMoveThatCannotRelieveTheSourceIsNotMadeAndTheReasonSaysWhy() {
        // The case: a pinned CPU fault on the node, and only idle migratable workloads (0.00 cores).
        NodeView faulted = source(97, 0, 0.3, 0, new WorkloadLoad("outfile", 0.0, 3 * MIB, true),
                new WorkloadLoad("redis", 0.0, 17 * MIB, true), new WorkloadLoad("fault", 3.9, 10 * MIB, false));
        MigrationPlan plan = planner.plan(faulted, List.of(faulted, idle("b")), List.of(), Map.of(), NOW);
        assertFalse(plan.isMove());
        assertTrue(plan.rejection().contains("no move would help"), plan.rejection());
        assertTrue(plan.rejection().contains(">= 0.48 cores"), "97 % of 4 cores is 0.48 over the 85 % threshold: " + plan.rejection());
    }

    @Test
    void aPredictedOverloadStillNeedsAMoveThatRelievesTheSourceByTheMinimumShare() {
        // The model flags the node at 70 %, under the threshold: no excess yet, but a 0.01-core move is still no help.
        NodeView predicted = source(70, 0, 0.3, 0, new WorkloadLoad("tiny", 0.01, 3 * MIB, true));
        assertFalse(planner.plan(predicted, List.of(predicted, idle("b")), List.of(), Map.of(), NOW).isMove());
        NodeView withWeb = source(70, 0, 0.3, 0, new WorkloadLoad("tiny", 0.01, 3 * MIB, true),
                new WorkloadLoad("web", 0.3, 300 * MIB, true));
        MigrationPlan plan = planner.plan(withWeb, List.of(withWeb, idle("b")), List.of(), Map.of(), NOW);
        assertEquals("web", plan.workload().workloadId(), "0.3 cores is more than 5 % of 4 cores");
    }

    @Test
    void memoryCountsAndWithALookaheadTheExcessIsMeasuredWhereTheTrendLeads() {
        MigrationPlanner planner = new MigrationPlanner(AnalyticsConfig.of(Map.of(AnalyticsConfig.RELIEF_LOOKAHEAD_MS, "10000")));
        // 80 % CPU rising 1 %/s: 90 % in 10 s, so 0.2 cores over the threshold; memory at 0.8 rising 0.02/s: 1.0 in 10 s.
        WorkloadLoad cpuOnly = new WorkloadLoad("cpu-only", 1.0, 100 * MIB, true);
        WorkloadLoad both = new WorkloadLoad("both", 1.0, 1536 * MIB, true);
        NodeView rising = source(80, 1, 0.8, 0.02, cpuOnly, both);
        MigrationPlan plan = planner.plan(rising, List.of(rising, idle("b")), List.of(), Map.of(), NOW);
        assertEquals("both", plan.workload().workloadId(), "memory 10 % over its 0.9 threshold needs >= 819 MiB: " + plan.need());
        NodeView flat = source(80, 1, 0.8, 0, cpuOnly, both);
        assertEquals("cpu-only", planner.plan(flat, List.of(flat, idle("b")), List.of(), Map.of(), NOW).workload().workloadId(),
                "without the memory trend the cheaper move relieves enough");
        NodeView full = source(80, 0, 0.97, 0, cpuOnly, both);
        assertEquals("both", this.planner.plan(full, List.of(full, idle("b")), List.of(), Map.of(), NOW).workload().workloadId(),
                "with no trend the excess is today's: memory 7 % over its threshold needs >= 573 MiB");
    }

    @Test
    void byDefaultTheReliefIsSizedFiveSecondsAlongTheRise() {
        // 88 % CPU rising 2 %/s: 98 % in 5 s, 0.52 cores over the 85 % threshold; today's excess is 0.12 cores (0.2, the minimum share).
        WorkloadLoad small = new WorkloadLoad("small", 0.3, 100 * MIB, true);
        WorkloadLoad large = new WorkloadLoad("large", 0.6, 400 * MIB, true);
        NodeView rising = source(88, 2, 0.3, 0, small, large);
        MigrationPlan plan = planner.plan(rising, List.of(rising, idle("b")), List.of(), Map.of(), NOW);
        assertEquals("large", plan.workload().workloadId(), "the cheaper move would not end the coming overload: " + plan.need());
        assertTrue(plan.need().contains("in 5 s at their trend"), plan.need());
        MigrationPlanner today = new MigrationPlanner(AnalyticsConfig.of(Map.of(AnalyticsConfig.RELIEF_LOOKAHEAD_MS, "0")));
        assertEquals("small", today.plan(rising, List.of(rising, idle("b")), List.of(), Map.of(), NOW).workload().workloadId(),
                "on today's excess the cheaper move is enough");
    }

    @Test
    void aWorkloadThatJustJumpedIsSizedByItsLatestCpuAsTheSourceIs() {
        // The node jumped to 97 % (0.48 cores over the 85 % threshold) because "batch" did in the window's last seconds:
        // its mean over the window (0.4 cores) looks too small to relieve the excess its own jump made, its latest CPU does.
        WorkloadLoad batch = new WorkloadLoad("batch", 0.4, 400 * MIB, true, 1.1, 0.1);
        WorkloadLoad steady = new WorkloadLoad("steady", 0.3, 100 * MIB, true, 0.3, 0.0);
        NodeView jumped = source(97, 0, 0.3, 0, steady, batch);
        MigrationPlan plan = planner.plan(jumped, List.of(jumped, idle("b")), List.of(), Map.of(), NOW);
        assertEquals("batch", plan.workload().workloadId(), "1.1 cores now against a need of " + plan.need());

        // Along a rise both sides are extrapolated: 88 % rising 2 %/s needs 0.52 cores in 5 s; "rising" has 0.4 now and
        // gains 0.05 cores/s, 0.65 in 5 s, and is the cheapest move that covers it.
        WorkloadLoad rising = new WorkloadLoad("rising", 0.3, 100 * MIB, true, 0.4, 0.05);
        WorkloadLoad large = new WorkloadLoad("large", 0.6, 400 * MIB, true, 0.6, 0.0);
        NodeView climbing = source(88, 2, 0.3, 0, rising, large);
        assertEquals("rising", planner.plan(climbing, List.of(climbing, idle("b")), List.of(), Map.of(), NOW).workload().workloadId());
        MigrationPlanner today = new MigrationPlanner(AnalyticsConfig.of(Map.of(AnalyticsConfig.RELIEF_LOOKAHEAD_MS, "0")));
        NodeView flat = source(96, 0, 0.3, 0, rising, large);
        assertEquals("large", today.plan(flat, List.of(flat, idle("b")), List.of(), Map.of(), NOW).workload().workloadId(),
                "without the lookahead neither side is extrapolated: 0.4 cores now do not cover 0.44 over the threshold");
    }

    @Test
    void ofTheMovesThatHelpTheCheapestByDowntimeIsChosenAndTheNextIfItHasNowhereToGo() {
        WorkloadLoad small = new WorkloadLoad("small", 0.6, 200 * MIB, true);
        WorkloadLoad large = new WorkloadLoad("large", 1.0, 2 * GIB, true);
        NodeView a = source(95, 0, 0.3, 0, large, small);
        MigrationPlan plan = planner.plan(a, List.of(a, idle("b")), List.of(), Map.of(), NOW);
        assertEquals("small", plan.workload().workloadId());
        assertEquals(340 + 3.2 * 200, plan.downtimeMs(), 1e-6, "the cost model: 340 ms + 3.2 ms per MiB");

        // The cheaper one needs more CPU than any destination has room for: the next one that helps is moved.
        WorkloadLoad cpuHeavy = new WorkloadLoad("cpu-heavy", 2.5, 100 * MIB, true);
        NodeView b = source(95, 0, 0.3, 0, large, cpuHeavy);
        assertEquals("large", planner.plan(b, List.of(b, node("c", NodeState.UP, 1.0)), List.of(), Map.of(), NOW)
                .workload().workloadId(), "c has room for 2 more cores at most (75 % of 4)");

        AnalyticsConfig strict = AnalyticsConfig.of(Map.of(AnalyticsConfig.MAX_DOWNTIME_MS, "1000"));
        MigrationPlan tooLong = new MigrationPlanner(strict).plan(source(95, 0, 0.3, 0, large), List.of(idle("b")), List.of(),
                Map.of(), NOW);
        assertFalse(tooLong.isMove(), "2 GiB costs about 7 s of outage");
        assertTrue(tooLong.rejection().contains("outage over 1000 ms"), tooLong.rejection());
    }

    @Test
    void aCompletedMoveStillReservesItsDestinationButNoLongerCountsAgainstTheCap() {
        AnalyticsConfig capOne = AnalyticsConfig.of(Map.of(AnalyticsConfig.MAX_CONCURRENT_MIGRATIONS, "1"));
        MigrationPlanner planner = new MigrationPlanner(capOne);
        NodeView b = idle("b");
        InFlightMove inFlight = new InFlightMove("m1", "other", "x", "b", NOW - 3_000, 1.2, 0);
        assertFalse(planner.plan(source, List.of(source, b), List.of(inFlight), Map.of(), NOW).isMove(), "cap of one reached");
        InFlightMove completed = inFlight.completed(NOW - 1_000);
        // Completed, but b's report (the window from NOW - 10 s) does not hold the moved 1.2 cores yet.
        assertFalse(planner.plan(source, List.of(source, b), List.of(completed), Map.of(), NOW).isMove(),
                "b's reported 0.4 cores + the reserved 1.2 + web's 1.5 exceed 75 % of 4 cores");
        assertTrue(completed.reportedBy("b", NOW - 1_000));
        assertFalse(completed.reportedBy("b", NOW - 10_000));
        assertEquals("b", planner.plan(source, List.of(source, b), List.of(), Map.of(), NOW).destinationNode(),
                "once released, b has room");
    }

    @Test
    void aNodeThatJustTookPartInAMigrationIsNoDestinationUntilItsCooldownEnds() {
        NodeView recent = new NodeView(idle("b").report(), 0, NOW - config.destinationCooldownMs() + 1);
        assertFalse(planner.plan(source, List.of(source, recent), List.of(), Map.of(), NOW).isMove());
        NodeView cooled = new NodeView(idle("b").report(), 0, NOW - config.destinationCooldownMs());
        assertEquals("b", planner.plan(source, List.of(source, cooled), List.of(), Map.of(), NOW).destinationNode());
    }

    @Test
    void equallyQuietDestinationsAreChosenByTwoSeededRandomDrawsSoSourcesDoNotHerdOntoOneNode() {
        List<NodeView> cluster = new java.util.ArrayList<>(List.of(source));
        for (int i = 0; i < 10; i++) {
            cluster.add(idle("n" + i));
        }
        Set<String> chosen = new HashSet<>();
        for (int i = 0; i < 40; i++) {
            String destination = planner.plan(source, cluster, List.of(), Map.of(), NOW + i * 1_000).destinationNode();
            chosen.add(destination);
            assertEquals(destination, planner.plan(source, cluster, List.of(), Map.of(), NOW + i * 1_000).destinationNode(),
                    "same inputs, same choice");
        }
        assertTrue(chosen.size() >= 5, "ten equally idle nodes, forty decisions: " + chosen);

        Map<String, Integer> other = new HashMap<>();
        MigrationPlanner seeded = new MigrationPlanner(AnalyticsConfig.of(Map.of(AnalyticsConfig.SEED, "7")));
        for (int i = 0; i < 40; i++) {
            other.merge(seeded.plan(source, cluster, List.of(), Map.of(), NOW + i * 1_000).destinationNode(), 1, Integer::sum);
        }
        assertTrue(other.size() >= 5, other.toString());

        // A clearly quieter node always wins; nodes within the tie margin (5 % of capacity) share the moves.
        List<NodeView> two = List.of(source, node("busy", NodeState.UP, 1.2), node("quiet", NodeState.UP, 0.2));
        List<NodeView> near = List.of(source, node("b", NodeState.UP, 0.4), node("c", NodeState.UP, 0.5), node("d", NodeState.UP, 0.45));
        Set<String> nearChoices = new HashSet<>();
        for (int i = 0; i < 20; i++) {
            assertEquals("quiet", planner.plan(source, two, List.of(), Map.of(), NOW + i).destinationNode());
            nearChoices.add(planner.plan(source, near, List.of(), Map.of(), NOW + i * 1_000).destinationNode());
        }
        assertEquals(Set.of("b", "d"), nearChoices, "0.4, 0.45 and 0.5 busy cores of 4 are within 5 % of each other: b and d"
                + " each win some draws, c (the busiest of the three) loses every pair");
    }

    @Test
    void noNodeTheWorkloadLeftWithinTheReturnCooldownIsADestinationNotOnlyTheLastOne() {
        // web went b -> z -> a: b is two moves back, still within the cooldown.
        WorkloadHistory fromB = WorkloadHistory.moved(null, "b", NOW - 200_000, config.returnCooldownMs());
        WorkloadHistory fromZ = WorkloadHistory.moved(fromB, "z", NOW - 100_000, config.returnCooldownMs());
        assertEquals("z", fromZ.leftNode());
        assertFalse(planner.plan(source, List.of(source, idle("b")), List.of(), Map.of("web", fromZ), NOW).isMove());
        WorkloadHistory later = WorkloadHistory.moved(fromB, "z", NOW - config.workloadCooldownMs(), 100_000);
        assertEquals(Map.of("z", NOW - config.workloadCooldownMs()), later.left(), "departures older than the cooldown are forgotten");
    }

    @Test
    void decisionStateWrittenBeforeTheseFieldsExistedStillReads() {
        io.pmig.analytics.JsonSerde<WorkloadHistory> histories = io.pmig.analytics.JsonSerde.of(WorkloadHistory.class);
        WorkloadHistory old = histories.deserialize("t", "{\"lastMoveMs\":5,\"leftNode\":\"b\"}".getBytes());
        assertTrue(old.leftWithin("b", 6, 10));
        assertFalse(old.leftWithin("c", 6, 10));
        WorkloadHistory now = WorkloadHistory.moved(old, "c", 7, 10);
        assertEquals(now, histories.deserialize("t", histories.serialize("t", now)));

        io.pmig.analytics.JsonSerde<InFlightMove> moves = io.pmig.analytics.JsonSerde.of(InFlightMove.class);
        InFlightMove legacy = moves.deserialize("t", ("{\"commandId\":\"m\",\"workloadId\":\"w\",\"sourceNode\":\"a\","
                + "\"destinationNode\":\"b\",\"issuedAtMs\":1,\"cpuCores\":1.0,\"memBytes\":2}").getBytes());
        assertTrue(legacy.inFlight(), "a move recorded before completions were kept is still in flight");
        InFlightMove completed = legacy.completed(9);
        assertEquals(completed, moves.deserialize("t", moves.serialize("t", completed)));
    }

    /** {@code count} idle UP nodes named {@code prefix0..}, the source first. */
    private static List<NodeView> clusterOf(NodeView source, String prefix, int count) {
        List<NodeView> cluster = new java.util.ArrayList<>(List.of(source));
        for (int i = 0; i < count; i++) {
            cluster.add(idle(prefix + i));
        }
        return cluster;
    }

    private static InFlightMove move(String id, String from, String to) {
        return new InFlightMove(id, "w-" + id, from, to, NOW - 1_000, 0.1, 0);
    }

    @Test
    void theBudgetOfMigrationsInFlightIsAFractionOfTheCellsNodesNeverBelowTheConfiguredMinimum() {
        assertEquals(2, planner.cellBudget(3), "small cells keep the old cap of 2");
        assertEquals(2, planner.cellBudget(200));
        assertEquals(3, planner.cellBudget(201), "1 % of 201, rounded up");
        assertEquals(100, planner.cellBudget(10_000));

        List<NodeView> cluster = clusterOf(source, "n", 299); // 300 nodes: a budget of 3
        List<InFlightMove> two = List.of(move("m1", "n1", "n2"), move("m2", "n3", "n4"));
        assertTrue(planner.plan(source, cluster, two, Map.of(), NOW).isMove(), "2 of 3 in flight");
        List<InFlightMove> three = List.of(move("m1", "n1", "n2"), move("m2", "n3", "n4"), move("m3", "n5", "n6"));
        MigrationPlan full = planner.plan(source, cluster, three, Map.of(), NOW);
        assertFalse(full.isMove());
        assertEquals("cluster budget of 3 concurrent migrations reached (300 nodes up)", full.rejection());
    }

    @Test
    void aMoveWhoseNodeIsDownHoldsNoSlotAndHoldsOneAgainIfTheNodeComesBack() {
        MigrationPlanner capOne = new MigrationPlanner(AnalyticsConfig.of(Map.of(AnalyticsConfig.MAX_CONCURRENT_MIGRATIONS, "1")));
        InFlightMove stuck = move("m1", "x", "y");
        NodeView b = idle("b");
        NodeView xUp = idle("x");
        assertFalse(capOne.plan(source, List.of(source, b, xUp, idle("y")), List.of(stuck), Map.of(), NOW).isMove(),
                "x is up: its move holds the only slot");
        NodeView xDown = node("x", NodeState.DOWN, 0);
        assertEquals("b", capOne.plan(source, List.of(source, b, xDown, idle("y")), List.of(stuck), Map.of(), NOW).destinationNode(),
                "x is DOWN: its silent executor holds no slot");
        NodeReport old = xUp.report();
        long downAfter = AnalyticsConfig.defaults().nodeDownAfterMs();
        NodeView xSilent = new NodeView(new NodeReport("x", old.windowStartMs() - downAfter - 1, old.windowEndMs() - downAfter - 1,
                NodeState.UP, old.score(), false, old.scorer(), null, Map.of(), old.cpuCapacity(), old.memCapacityBytes(),
                old.cpuUsedCores(), old.memUsedBytes(), List.of()), 0, -1);
        assertTrue(capOne.plan(source, List.of(source, b, xSilent, idle("y")), List.of(stuck), Map.of(), NOW).isMove(),
                "x silent for longer than the node-down time, not yet marked DOWN: no slot either");
        NodeView yDown = node("y", NodeState.DOWN, 0);
        assertTrue(capOne.plan(source, List.of(source, b, xUp, yDown), List.of(stuck), Map.of(), NOW).isMove(),
                "the destination DOWN frees the slot too");
    }

    @Test
    void aNodeWithAsManyMovesToItInFlightAsItsInCapIsNoDestination() {
        NodeView b = node("b", NodeState.UP, 0.2);
        NodeView c = node("c", NodeState.UP, 0.8);
        AnalyticsConfig roomy = AnalyticsConfig.of(Map.of(AnalyticsConfig.MAX_CONCURRENT_MIGRATIONS, "10"));
        MigrationPlanner planner = new MigrationPlanner(roomy);
        assertEquals("b", planner.plan(source, List.of(source, b, c), List.of(move("m1", "x", "b")), Map.of(), NOW).destinationNode());
        List<InFlightMove> twoToB = List.of(move("m1", "x", "b"), move("m2", "z", "b"));
        assertEquals("c", planner.plan(source, List.of(source, b, c), twoToB, Map.of(), NOW).destinationNode(),
                "b has " + roomy.maxInPerNode() + " incoming moves in flight");
    }

    @Test
    void aSourceMayHaveAsManyMovesOffItInFlightAsItsOutCap() {
        List<InFlightMove> oneOff = List.of(move("m1", "a", "c"));
        MigrationPlan plan = planner.plan(source, List.of(source, idle("b"), idle("c")), oneOff, Map.of(), NOW);
        assertEquals("a move off this node is still in flight", plan.rejection());
        MigrationPlanner two = new MigrationPlanner(AnalyticsConfig.of(Map.of(AnalyticsConfig.MAX_OUT_PER_NODE, "2")));
        assertEquals("b", two.plan(source, List.of(source, idle("b"), idle("c")), oneOff, Map.of(), NOW).destinationNode());
    }

    @Test
    void withCellsAWorkloadMovesOnlyWithinItsCellAndEachCellSpendsItsOwnBudget() {
        AnalyticsConfig fourCells = AnalyticsConfig.of(Map.of(AnalyticsConfig.CELLS, "4", AnalyticsConfig.MAX_CONCURRENT_MIGRATIONS, "1"));
        MigrationPlanner planner = new MigrationPlanner(fourCells);
        Cells cells = new Cells(4);
        List<NodeView> cluster = clusterOf(source, "n", 40);
        String home = cells.cellOf("a");
        MigrationPlan plan = planner.plan(source, cluster, List.of(), Map.of(), NOW);
        assertTrue(plan.isMove(), plan.rejection());
        assertEquals(home, cells.cellOf(plan.destinationNode()), "destination in a's cell");

        String sameCell = cluster.stream().map(NodeView::nodeId).filter(n -> !n.equals("a") && cells.cellOf(n).equals(home))
                .findFirst().orElseThrow();
        String otherCell = cluster.stream().map(NodeView::nodeId).filter(n -> !cells.cellOf(n).equals(home)).findFirst().orElseThrow();
        assertTrue(planner.plan(source, cluster, List.of(move("m1", otherCell, otherCell + "x")), Map.of(), NOW).isMove(),
                "another cell's move spends that cell's budget");
        MigrationPlan full = planner.plan(source, cluster, List.of(move("m1", sameCell, "elsewhere")), Map.of(), NOW);
        assertEquals("cell " + home + " budget of 1 concurrent migrations reached (" + cluster.stream()
                .filter(v -> cells.cellOf(v.nodeId()).equals(home)).count() + " nodes up)", full.rejection());
    }

    @Test
    void cellsAreAStableHashOfTheNodeIdUnlessALabelNamesThem() {
        Cells cells = new Cells(8, Map.of("rack-node", "rack-a"));
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            String cell = cells.cellOf("node-" + i);
            assertEquals(cell, new Cells(8).cellOf("node-" + i), "the same on every instance");
            seen.add(cell);
        }
        assertEquals(8, seen.size(), "1000 nodes spread over all 8 cells");
        assertEquals("rack-a", cells.cellOf("rack-node"));
        assertEquals("cell-0", new Cells(1).cellOf("anything"));
    }
}
