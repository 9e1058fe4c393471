package io.pmig.analytics.decisions;

import io.pmig.analytics.windows.WorkloadLoad;

/**
 * The outcome of planning for one overloaded node: a move, or the reason there is none.
 *
 * @param sourceLoadAfter the source's dominant-resource use (max of CPU and memory fractions) after the move
 * @param destinationLoadAfter the same for the destination, counting moves reserved on it
 * @param downtimeMs the cost model's estimated outage of the move
 * @param need what the move had to relieve, in words (for the command's reason)
 */
public record MigrationPlan(WorkloadLoad workload, String sourceNode, String destinationNode, double sourceLoadAfter,
                            double destinationLoadAfter, double downtimeMs, String need, String rejection) {

    public static MigrationPlan rejected(String sourceNode, String reason) {
        return new MigrationPlan(null, sourceNode, null, 0, 0, 0, null, reason);
    }

    public boolean isMove() {
        return rejection == null;
    }
}
