package io.pmig.analytics.decisions;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.windows.NodeReport;
import io.pmig.analytics.windows.WorkloadLoad;
import io.pmig.schemas.NodeState;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Chooses what to move off an overloaded node and where, from the cluster view; a pure function of its
 * inputs so that a replay decides identically.
 *
 * <p>Rules, in order: the cluster-wide cap on in-flight migrations; the source is not in its node cooldown
 * and has no move off it in flight; candidate workloads are migratable, not in flight and not in their
 * cooldown; destinations are other nodes in state UP with room for the workload after the move (CPU and
 * memory within the configured limits, counting moves already in flight to them), excluding the node the
 * workload left within the return cooldown. For each candidate the destination is the least-loaded such
 * node (lowest dominant-resource use after the move), and the candidate chosen is the one whose move best
 * relieves the source (largest drop of its dominant-resource use), smaller RSS first on ties since it moves
 * faster. Every tie ends on ids, so the choice never depends on iteration order.
 */
public final class MigrationPlanner {

    private final AnalyticsConfig config;

    public MigrationPlanner(AnalyticsConfig config) {
        this.config = config;
    }

    public MigrationPlan plan(NodeView source, Collection<NodeView> cluster, Collection<InFlightMove> inFlight,
                              Map<String, WorkloadHistory> history, long nowMs) {
        String sourceId = source.nodeId();
        if (inFlight.size() >= config.maxConcurrentMigrations()) {
            return MigrationPlan.rejected(sourceId, "cluster cap of " + config.maxConcurrentMigrations()
                    + " concurrent migrations reached");
        }
        if (source.lastMigrationMs() >= 0 && nowMs - source.lastMigrationMs() < config.nodeCooldownMs()) {
            return MigrationPlan.rejected(sourceId, "node cooldown: took part in a migration "
                    + (nowMs - source.lastMigrationMs()) + " ms ago");
        }
        if (inFlight.stream().anyMatch(move -> move.sourceNode().equals(sourceId))) {
            return MigrationPlan.rejected(sourceId, "a move off this node is still in flight");
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
        List<NodeReport> destinations = cluster.stream()
                .map(NodeView::report)
                .filter(node -> !node.nodeId().equals(sourceId))
                .filter(node -> node.state() == NodeState.UP)
                .sorted(Comparator.comparing(NodeReport::nodeId))
                .toList();

        NodeReport sourceReport = source.report();
        double sourceLoad = dominantLoad(sourceReport.cpuUsedCores(), sourceReport.cpuCapacity(),
                sourceReport.memUsedBytes(), sourceReport.memCapacityBytes());
        MigrationPlan best = null;
        for (WorkloadLoad workload : candidates) {
            MigrationPlan move = bestDestination(sourceReport, workload, destinations, inFlight, history.get(workload.workloadId()), nowMs);
            if (move != null && (best == null || better(move, best, sourceLoad))) {
                best = move;
            }
        }
        return best != null ? best : MigrationPlan.rejected(sourceId, "no UP node has room for any of "
                + candidates.stream().map(WorkloadLoad::workloadId).toList());
    }

    private MigrationPlan bestDestination(NodeReport source, WorkloadLoad workload, List<NodeReport> destinations,
                                          Collection<InFlightMove> inFlight, WorkloadHistory history, long nowMs) {
        MigrationPlan best = null;
        for (NodeReport destination : destinations) {
            boolean returning = history != null && destination.nodeId().equals(history.leftNode())
                    && nowMs - history.lastMoveMs() < config.returnCooldownMs();
            if (returning) {
                continue;
            }
            double reservedCpu = 0;
            long reservedMem = 0;
            for (InFlightMove move : inFlight) {
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
            double loadAfter = Math.max(cpuAfter, memAfter);
            if (best == null || loadAfter < best.destinationLoadAfter()) {
                double sourceAfter = dominantLoad(source.cpuUsedCores() - workload.cpuCores(), source.cpuCapacity(),
                        source.memUsedBytes() - workload.rssBytes(), source.memCapacityBytes());
                best = new MigrationPlan(workload, source.nodeId(), destination.nodeId(), sourceAfter, loadAfter, null);
            }
        }
        return best;
    }

    private static boolean better(MigrationPlan candidate, MigrationPlan incumbent, double sourceLoad) {
        double candidateRelief = sourceLoad - candidate.sourceLoadAfter();
        double incumbentRelief = sourceLoad - incumbent.sourceLoadAfter();
        if (Math.abs(candidateRelief - incumbentRelief) > 1e-9) {
            return candidateRelief > incumbentRelief;
        }
        if (candidate.workload().rssBytes() != incumbent.workload().rssBytes()) {
            return candidate.workload().rssBytes() < incumbent.workload().rssBytes();
        }
        return candidate.workload().workloadId().compareTo(incumbent.workload().workloadId()) < 0;
    }

    private boolean inCooldown(WorkloadHistory history, long nowMs) {
        return history != null && nowMs - history.lastMoveMs() < config.workloadCooldownMs();
    }

    private static double dominantLoad(double cpuCores, double cpuCapacity, long memBytes, long memCapacity) {
        return Math.max(fraction(cpuCores, cpuCapacity), fraction(memBytes, memCapacity));
    }

    private static double fraction(double used, double capacity) {
        return capacity > 0 ? Math.max(0, used) / capacity : Double.POSITIVE_INFINITY;
    }
}
