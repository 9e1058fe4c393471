package io.pmig.analytics.decisions;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.windows.NodeReport;
import io.pmig.analytics.windows.WorkloadLoad;
import io.pmig.schemas.NodeState;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Chooses what to move off an overloaded node and where, from the cluster view; a pure function of its
 * inputs (the seed included) so that a replay decides identically, and so that it can be run per cell.
 *
 * <p>Rules, in order:
 * <ol>
 *   <li>the budget of the source's cell ({@link Cells}) on migrations in flight - {@value AnalyticsConfig#CELL_BUDGET_FRACTION}
 *       of the cell's nodes up, at least {@value AnalyticsConfig#MAX_CONCURRENT_MIGRATIONS}; the source is not in its node
 *       cooldown and has fewer than {@value AnalyticsConfig#MAX_OUT_PER_NODE} moves off it in flight. A move whose source
 *       or destination is DOWN (or silent for the node-down time) counts against nothing: its executor may never answer;</li>
 *   <li>candidates are migratable, not in flight and not in their cooldown;</li>
 *   <li><b>a move must help</b>: it must relieve the source by at least its excess over the threshold rule's
 *       CPU and memory thresholds, on the source's latest figures extrapolated by their rising slopes over
 *       {@value AnalyticsConfig#RELIEF_LOOKAHEAD_MS} (5 s by default; 0: today's excess), and its pressing resource by at least
 *       {@value AnalyticsConfig#RELIEF_MIN_FRACTION} of capacity, a workload's CPU relief measured the same way (its latest
 *       CPU plus its rising trend over the lookahead, not its window mean); if no candidate does, nothing moves and the
 *       rejection says what was needed and what the largest candidate offered;</li>
 *   <li><b>cost</b>: of the candidates that help, the cheapest by the cost model (fixed outage + outage per MiB
 *       of RSS, {@link AnalyticsConfig#estimatedDowntimeMs}) is tried first, then the next; none above
 *       {@value AnalyticsConfig#MAX_DOWNTIME_MS};</li>
 *   <li>destinations are other UP nodes of the source's cell (or, when none has room, nodes another cell lent this
 *       one through the global balancer: {@link io.pmig.analytics.balancer.CellGrant}), with fewer than {@value AnalyticsConfig#MAX_IN_PER_NODE}
 *       moves to them in flight, that reported a window within the node-down time of this one, outside their destination cooldown (they took part in no migration
 *       recently) with room after the move (CPU and memory within the destination limits, counting every
 *       reservation on them: moves in flight and moves completed but not yet in their reports), excluding every
 *       node the workload left within the return cooldown;</li>
 *   <li>the least loaded of those after the move, where nodes within {@value AnalyticsConfig#DESTINATION_TIE_MARGIN}
 *       of it count as tied; ties are broken by <b>power of two choices</b>: two tied nodes drawn at random with a
 *       seed derived from the configured seed, the workload, the source and the time, the less loaded wins (exact
 *       ties by id). Sending every source to the one node with the lowest id among equally quiet ones makes them herd
 *       onto it.</li>
 * </ol>
 */
public final class MigrationPlanner {

    private final AnalyticsConfig config;
    private final Cells cells;

    public MigrationPlanner(AnalyticsConfig config) {
        this.config = config;
        this.cells = Cells.of(config);
    }

    /**
     * What a move must relieve on a source: cores and bytes, and the words for it. A workload's relief is measured as
     * the source's excess is: its latest CPU plus its rising trend over {@code lookaheadS} (null: the source had no
     * features and was measured on its window mean, so the workload is too). A workload that jumped with its node has
     * a low window mean and would look too small to relieve the excess its jump made.
     */
    record Need(double cpuCores, long memBytes, String text, Double lookaheadS) {

        boolean metBy(WorkloadLoad workload) {
            return relief(workload) >= cpuCores && workload.rssBytes() >= memBytes;
        }

        double relief(WorkloadLoad workload) {
            return lookaheadS == null ? workload.cpuCores() : workload.cpuAheadCores(lookaheadS);
        }
    }

    /**
     * @param moves every reserved move: in flight ({@link InFlightMove#inFlight()}) or completed but not yet
     *              reported by its destination
     */
    public MigrationPlan plan(NodeView source, Collection<NodeView> cluster, Collection<InFlightMove> moves,
                              Map<String, WorkloadHistory> history, long nowMs) {
        return plan(source, cluster, moves, history, nowMs, List.of());
    }

    /**
     * @param cluster the source's cell (nodes of other cells in it are ignored)
     * @param granted nodes of other cells the global balancer lent this cell (their figures as their cell last summarised
     *                them): tried only when no node of the cell has room, each for one move
     */
    public MigrationPlan plan(NodeView source, Collection<NodeView> cluster, Collection<InFlightMove> moves,
                              Map<String, WorkloadHistory> history, long nowMs, Collection<NodeView> granted) {
        String sourceId = source.nodeId();
        Set<String> down = cluster.stream().filter(view -> isDown(view, nowMs)).map(NodeView::nodeId).collect(Collectors.toSet());
        // a move whose source or destination is DOWN holds no slot: its executor is silent, it may never report an end
        List<InFlightMove> inFlight = moves.stream().filter(InFlightMove::inFlight)
                .filter(move -> !down.contains(move.sourceNode()) && !down.contains(move.destinationNode())).toList();
        // reservations: live moves, and completed ones not yet in their destination's reports
        List<InFlightMove> reserved = moves.stream().filter(move -> !move.inFlight() || inFlight.contains(move)).toList();
        String cell = cells.cellOf(sourceId);
        long cellNodes = cluster.stream().filter(view -> !down.contains(view.nodeId()) && cells.cellOf(view.nodeId()).equals(cell)).count();
        int budget = cellBudget(cellNodes);
        long cellMoves = inFlight.stream().filter(move -> cells.cellOf(move.sourceNode()).equals(cell)).count();
        if (cellMoves >= budget) {
            return MigrationPlan.rejected(sourceId, (cells.single() ? "cluster" : "cell " + cell) + " budget of "
                    + budget + " concurrent migrations reached (" + cellNodes + " nodes up)");
        }
        if (source.lastMigrationMs() >= 0 && nowMs - source.lastMigrationMs() < config.nodeCooldownMs()) {
            return MigrationPlan.rejected(sourceId, "node cooldown: took part in a migration "
                    + (nowMs - source.lastMigrationMs()) + " ms ago");
        }
        long out = inFlight.stream().filter(move -> move.sourceNode().equals(sourceId)).count();
        if (out >= config.maxOutPerNode()) {
            return MigrationPlan.rejected(sourceId, out == 1 ? "a move off this node is still in flight"
                    : out + " moves off this node are in flight (" + AnalyticsConfig.MAX_OUT_PER_NODE + ")");
        }
        Set<String> movingWorkloads = inFlight.stream().map(InFlightMove::workloadId).collect(Collectors.toSet());
        List<WorkloadLoad> candidates = source.report().workloads().stream()
                .filter(WorkloadLoad::migratable)
                .filter(workload -> !movingWorkloads.contains(workload.workloadId()))
                .filter(workload -> !inCooldown(history.get(workload.workloadId()), nowMs))
                .toList();
        if (candidates.isEmpty()) {
            return MigrationPlan.rejected(sourceId, "no migratable workload outside its cooldown");
        }
        NodeReport sourceReport = source.report();
        Need need = need(sourceReport);
        List<WorkloadLoad> helping = candidates.stream()
                .filter(need::metBy)
                .sorted(Comparator.comparingDouble((WorkloadLoad w) -> config.estimatedDowntimeMs(w.rssBytes()))
                        .thenComparing(Comparator.comparingDouble(need::relief).reversed())
                        .thenComparing(WorkloadLoad::workloadId))
                .toList();
        if (helping.isEmpty()) {
            WorkloadLoad largest = candidates.stream().max(Comparator.comparingDouble(need::relief)
                    .thenComparing(WorkloadLoad::rssBytes)).orElseThrow();
            return MigrationPlan.rejected(sourceId, String.format(Locale.ROOT,
                    "no move would help: a move must relieve %s, the largest candidate %s has %.2f cores and %d MiB; not moving",
                    need.text(), largest.workloadId(), need.relief(largest), largest.rssBytes() >> 20));
        }
        Map<String, Long> incoming = inFlight.stream().collect(Collectors.groupingBy(InFlightMove::destinationNode, Collectors.counting()));
        List<NodeReport> destinations = cluster.stream()
                .filter(view -> !view.nodeId().equals(sourceId))
                .filter(view -> view.report().state() == NodeState.UP)
                // a node whose last window ended long before the source's is silent, even if not marked DOWN yet
                .filter(view -> source.report().windowEndMs() - view.report().windowEndMs() <= config.nodeDownAfterMs())
                .filter(view -> view.lastMigrationMs() < 0 || nowMs - view.lastMigrationMs() >= config.destinationCooldownMs())
                .filter(view -> cells.cellOf(view.nodeId()).equals(cell))
                .filter(view -> incoming.getOrDefault(view.nodeId(), 0L) < config.maxInPerNode())
                .map(NodeView::report)
                .sorted(Comparator.comparing(NodeReport::nodeId))
                .toList();
        List<String> tooCostly = new ArrayList<>();
        List<WorkloadLoad> affordable = new ArrayList<>();
        for (WorkloadLoad workload : helping) {
            double downtimeMs = config.estimatedDowntimeMs(workload.rssBytes());
            if (downtimeMs > config.maxDowntimeMs()) {
                tooCostly.add(workload.workloadId());
                continue;
            }
            affordable.add(workload);
            MigrationPlan move = destination(sourceReport, workload, destinations, reserved, history.get(workload.workloadId()),
                    nowMs, downtimeMs, need);
            if (move != null) {
                return move;
            }
        }
        // Another cell's room, lent by the balancer: only once the cell itself has none (its nodes' figures are fresher)
        List<NodeReport> lent = granted.stream()
                .filter(view -> !view.nodeId().equals(sourceId))
                .filter(view -> incoming.getOrDefault(view.nodeId(), 0L) < config.maxInPerNode())
                .map(NodeView::report)
                .sorted(Comparator.comparing(NodeReport::nodeId))
                .toList();
        for (WorkloadLoad workload : affordable) {
            MigrationPlan move = destination(sourceReport, workload, lent, reserved, history.get(workload.workloadId()),
                    nowMs, config.estimatedDowntimeMs(workload.rssBytes()), need);
            if (move != null) {
                return move;
            }
        }
        String reason = (tooCostly.isEmpty() ? "" : "outage over " + config.maxDowntimeMs()
                + " ms for " + tooCostly + "; ") + "no UP node outside its destination cooldown has room for any of "
                + affordable.stream().map(WorkloadLoad::workloadId).toList()
                + (cells.single() ? "" : " in cell " + cell + (lent.isEmpty() ? "" : " or the " + lent.size() + " lent to it"));
        return affordable.isEmpty() ? MigrationPlan.rejected(sourceId, reason) : MigrationPlan.noRoom(sourceId, reason, affordable.get(0));
    }

    /** A cell's budget of migrations in flight: a fraction of its nodes up, never below the configured minimum. */
    int cellBudget(long cellNodes) {
        return (int) Math.max(config.maxConcurrentMigrations(), Math.ceil(config.cellBudgetFraction() * cellNodes));
    }

    /** DOWN, or silent for longer than the node-down time at this window end (not marked yet). */
    private boolean isDown(NodeView view, long nowMs) {
        return view.report().state() == NodeState.DOWN || nowMs - view.report().windowEndMs() > config.nodeDownAfterMs();
    }

    /**
     * The source's excess over the thresholds, on its latest CPU and memory extrapolated by their rising slopes,
     * plus the minimum relief of the pressing resource. Without features (reports from before features were
     * carried) the window's mean CPU and latest memory stand in.
     */
    Need need(NodeReport source) {
        Map<String, Double> features = source.features();
        double lookaheadS = config.reliefLookaheadMs() / 1000.0;
        boolean latest = feature(features, "cpu_last") != null;
        double cpuLevel = Math.min(1.0, latest
                ? (feature(features, "cpu_last") + Math.max(0, orZero(feature(features, "cpu_slope"))) * lookaheadS) / 100
                : source.cpuFraction());
        double memLevel = feature(features, "mem_fraction_last") != null
                ? feature(features, "mem_fraction_last") + Math.max(0, orZero(feature(features, "mem_slope"))) * lookaheadS
                : source.memFraction();
        double cpuThreshold = config.thresholdCpuPercent() / 100;
        double memThreshold = config.thresholdMemFraction();
        double cpuNeed = Math.max(0, cpuLevel - cpuThreshold) * source.cpuCapacity();
        double memNeed = Math.max(0, memLevel - memThreshold) * source.memCapacityBytes();
        boolean cpuPressing = cpuLevel / cpuThreshold >= memLevel / memThreshold;
        if (cpuPressing) {
            cpuNeed = Math.max(cpuNeed, config.reliefMinFraction() * source.cpuCapacity());
        } else {
            memNeed = Math.max(memNeed, config.reliefMinFraction() * source.memCapacityBytes());
        }
        String text = String.format(Locale.ROOT, "%s%s%s (CPU at %.0f %%, memory at %.0f %% of capacity%s)",
                cpuNeed > 0 ? String.format(Locale.ROOT, ">= %.2f cores", cpuNeed) : "",
                cpuNeed > 0 && memNeed > 0 ? " and " : "",
                memNeed > 0 ? String.format(Locale.ROOT, ">= %d MiB", (long) memNeed >> 20) : "",
                cpuLevel * 100, memLevel * 100, lookaheadS > 0 ? String.format(Locale.ROOT, " in %.0f s at their trend", lookaheadS) : "");
        return new Need(cpuNeed, (long) Math.ceil(memNeed), text, latest ? lookaheadS : null);
    }

    private MigrationPlan destination(NodeReport source, WorkloadLoad workload, List<NodeReport> destinations,
                                      Collection<InFlightMove> moves, WorkloadHistory history, long nowMs, double downtimeMs,
                                      Need need) {
        List<NodeReport> feasible = new ArrayList<>();
        List<Double> loads = new ArrayList<>();
        for (NodeReport destination : destinations) {
            boolean returning = history != null && history.leftWithin(destination.nodeId(), nowMs, config.returnCooldownMs());
            if (returning) {
                continue;
            }
            double reservedCpu = 0;
            long reservedMem = 0;
            for (InFlightMove move : moves) {
                if (move.destinationNode().equals(destination.nodeId())) {
                    reservedCpu += move.cpuCores();
                    reservedMem += move.memBytes();
                }
            }
            double cpuAfter = fraction(destination.cpuUsedCores() + reservedCpu + workload.cpuCores(), destination.cpuCapacity());
            double memAfter = fraction(destination.memUsedBytes() + reservedMem + workload.rssBytes(), destination.memCapacityBytes());
            if (cpuAfter > config.destinationCpuLimit() || memAfter > config.destinationMemLimit()) {
                continue;
            }
            feasible.add(destination);
            loads.add(Math.max(cpuAfter, memAfter));
        }
        if (feasible.isEmpty()) {
            return null;
        }
        // The least loaded after the move, but nodes within the tie margin of it are tied: among those, the less
        // loaded of two drawn at random (power of two choices), so equally quiet nodes share the moves.
        double least = loads.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
        List<Integer> tied = new ArrayList<>();
        for (int i = 0; i < feasible.size(); i++) {
            if (loads.get(i) <= least + config.destinationTieMargin()) {
                tied.add(i);
            }
        }
        int chosen = tied.get(0);
        if (tied.size() > 1) {
            Random random = new Random(seed(workload.workloadId(), source.nodeId(), nowMs));
            int first = random.nextInt(tied.size());
            int second = random.nextInt(tied.size() - 1);
            if (second >= first) {
                second++;
            }
            int a = tied.get(Math.min(first, second));
            int b = tied.get(Math.max(first, second));
            chosen = loads.get(b) < loads.get(a) ? b : a; // a has the lower id: it wins exact ties
        }
        double sourceAfter = dominantLoad(source.cpuUsedCores() - workload.cpuCores(), source.cpuCapacity(),
                source.memUsedBytes() - workload.rssBytes(), source.memCapacityBytes());
        return new MigrationPlan(workload, source.nodeId(), feasible.get(chosen).nodeId(), sourceAfter, loads.get(chosen),
                downtimeMs, need.text(), null);
    }

    private long seed(String workloadId, String sourceId, long nowMs) {
        long h = config.seed();
        h = h * 31 + workloadId.hashCode();
        h = h * 31 + sourceId.hashCode();
        h = h * 31 + Long.hashCode(nowMs);
        return h;
    }

    private boolean inCooldown(WorkloadHistory history, long nowMs) {
        return history != null && nowMs - history.lastMoveMs() < config.workloadCooldownMs();
    }

    private static Double feature(Map<String, Double> features, String name) {
        return features == null ? null : features.get(name);
    }

    private static double orZero(Double value) {
        return value == null ? 0 : value;
    }

    private static double dominantLoad(double cpuCores, double cpuCapacity, long memBytes, long memCapacity) {
        return Math.max(fraction(cpuCores, cpuCapacity), fraction(memBytes, memCapacity));
    }

    private static double fraction(double used, double capacity) {
        return capacity > 0 ? Math.max(0, used) / capacity : Double.POSITIVE_INFINITY;
    }
}
