package io.pmig.analytics.decisions;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.windows.NodeReport;
import io.pmig.analytics.windows.WorkloadLoad;
import io.pmig.schemas.CellSummary;
import io.pmig.schemas.NodeRoom;
import io.pmig.schemas.NodeState;
import io.pmig.schemas.RoomNeed;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * What a cell tells the global balancer: a pure function of the cell's view, so a cell's task summarises it in
 * O(nodes x log offers) and the balancer never sees a node report.
 */
public final class CellSummaries {

    private final AnalyticsConfig config;
    private final MigrationPlanner planner;

    public CellSummaries(AnalyticsConfig config) {
        this.config = config;
        this.planner = new MigrationPlanner(config);
    }

    /**
     * @param views the cell's nodes
     * @param moves the reservations of the cell's task ({@link InFlightMove}), lent room included
     * @param stuck overloaded nodes of the cell the planner found no room for, with the workload it would move
     */
    public CellSummary summarize(String cell, Collection<NodeView> views, Collection<InFlightMove> moves,
                                 Map<String, WorkloadLoad> stuck, long publishedAtMs) {
        long windowEndMs = views.stream().mapToLong(view -> view.report().windowEndMs()).max().orElse(0);
        Map<String, double[]> reservedCpu = new HashMap<>();
        Map<String, long[]> reservedMem = new HashMap<>();
        int inFlight = 0;
        for (InFlightMove move : moves) {
            reservedCpu.computeIfAbsent(move.destinationNode(), node -> new double[1])[0] += move.cpuCores();
            reservedMem.computeIfAbsent(move.destinationNode(), node -> new long[1])[0] += move.memBytes();
            if (move.inFlight()) {
                inFlight++;
            }
        }
        int up = 0;
        int overloaded = 0;
        // the K least loaded: a max-heap of K, so a cell of n nodes costs n log K
        Comparator<NodeRoom> byLoad = Comparator.comparingDouble(CellSummaries::load)
                .thenComparing(room -> room.getNodeId().toString());
        PriorityQueue<NodeRoom> offers = new PriorityQueue<>(byLoad.reversed());
        for (NodeView view : views) {
            NodeReport report = view.report();
            boolean down = report.state() == NodeState.DOWN || windowEndMs - report.windowEndMs() > config.nodeDownAfterMs();
            if (down) {
                continue;
            }
            up++;
            if (report.overloaded()) {
                overloaded++;
                continue;
            }
            if (view.lastMigrationMs() >= 0 && windowEndMs - view.lastMigrationMs() < config.destinationCooldownMs()) {
                continue;
            }
            double cpuUsed = report.cpuUsedCores() + reservedCpu.getOrDefault(report.nodeId(), new double[1])[0];
            long memUsed = report.memUsedBytes() + reservedMem.getOrDefault(report.nodeId(), new long[1])[0];
            if (report.cpuCapacity() <= 0 || report.memCapacityBytes() <= 0 || cpuUsed / report.cpuCapacity() >= config.destinationCpuLimit()
                    || (double) memUsed / report.memCapacityBytes() >= config.destinationMemLimit()) {
                continue; // no room to lend
            }
            offers.add(new NodeRoom(report.nodeId(), report.cpuCapacity(), report.memCapacityBytes(), cpuUsed, memUsed,
                    report.windowEndMs()));
            if (offers.size() > config.cellOffers()) {
                offers.poll();
            }
        }
        List<NodeRoom> offered = new ArrayList<>(offers);
        offered.sort(byLoad);
        int budgetLeft = Math.max(0, planner.cellBudget(up) - inFlight);
        List<RoomNeed> needs = new ArrayList<>();
        stuck.entrySet().stream().sorted(Map.Entry.comparingByKey()).limit(budgetLeft).forEach(entry ->
                needs.add(new RoomNeed(entry.getKey(), entry.getValue().cpuCores(), entry.getValue().rssBytes())));
        return CellSummary.newBuilder()
                .setCell(cell)
                .setApplicationId(config.applicationId())
                .setPublishedAtMs(publishedAtMs)
                .setWindowEndMs(windowEndMs)
                .setNodesUp(up)
                .setNodesOverloaded(overloaded)
                .setMigrationsInFlight(inFlight)
                .setBudget(planner.cellBudget(up))
                .setStuck(needs)
                .setOffers(offered)
                .build();
    }

    private static double load(NodeRoom room) {
        return Math.max(room.getCpuUsedCores() / room.getCpuCapacity(), (double) room.getMemUsedBytes() / room.getMemCapacityBytes());
    }
}
