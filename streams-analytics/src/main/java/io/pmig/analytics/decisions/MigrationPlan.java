package io.pmig.analytics.decisions;

import io.pmig.analytics.windows.WorkloadLoad;

/**
 * The outcome of planning for one overloaded node: a move, or the reason there is none.
 *
 * @param sourceLoadAfter the source's dominant-resource use (max of CPU and memory fractions) after the move
 * @param destinationLoadAfter the same for the destination, counting moves reserved on it
 * @param downtimeMs the cost model's estimated outage of the move
 * @param need what the move had to relieve, in words (for the command's reason)
 * @param roomNeeded on a rejection because no node of the cell (nor a granted one) had room: the move the cell would
 *                   make, for the global balancer; null otherwise
 */
public record MigrationPlan(WorkloadLoad workload, String sourceNode, String destinationNode, double sourceLoadAfter,
                            double destinationLoadAfter, double downtimeMs, String need, String rejection,
                            WorkloadLoad roomNeeded) {

    public MigrationPlan(WorkloadLoad workload, String sourceNode, String destinationNode, double sourceLoadAfter,
                         double destinationLoadAfter, double downtimeMs, String need, String rejection) {
        this(workload, sourceNode, destinationNode, sourceLoadAfter, destinationLoadAfter, downtimeMs, need, rejection, null);
    }

    public static MigrationPlan rejected(String sourceNode, String reason) {
        return new MigrationPlan(null, sourceNode, null, 0, 0, 0, null, reason, null);
    }

    /** No destination with room: {@code workload} is what would move if another cell lent room. */
    public static MigrationPlan noRoom(String sourceNode, String reason, WorkloadLoad workload) {
        return new MigrationPlan(null, sourceNode, null, 0, 0, 0, null, reason, workload);
    }

    public boolean isMove() {
        return rejection == null;
    }
}
