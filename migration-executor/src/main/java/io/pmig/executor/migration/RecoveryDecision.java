package io.pmig.executor.migration;

import io.pmig.executor.migration.MigrationJournal.Step;

/**
 * What a node does with its copy of a workload when a migration ends without completing - a failure, or an executor
 * restarted mid-migration - decided from facts alone (pure: unit-tested over every step and every fact). The rules
 * that keep a workload from being lost or run twice live here, once, for the driver and for recovery.
 */
public final class RecoveryDecision {

    /** The source's copy. */
    public enum SourceAction {
        /** nothing was frozen: the workload never stopped */
        KEEP_RUNNING,
        /** SIGCONT to the frozen tree */
        RESUME_FROZEN,
        /** the destination committed: kill the frozen tree, the destination runs the workload */
        RELEASE_FROZEN,
        /** the tree was released before the restore (one network namespace): restore the local images */
        RESTORE_LOCAL_IMAGES,
        /** nothing is left to run here */
        LOST
    }

    /** The destination's copy. */
    public enum DestinationAction {
        /** nothing committed: kill whatever was restored */
        DISCARD,
        /** COMPLETED is in the log: resume the stopped copy */
        RESUME_COPY,
        /** COMMITTED but COMPLETED not confirmed: kill the copy and overrule COMPLETED with ROLLED_BACK */
        GIVE_UP_COPY
    }

    private RecoveryDecision() {
    }

    /**
     * @param step                 the source journal's last step
     * @param destinationCommitted the destination's last decisive event is COMPLETED (read once settled)
     * @param frozenTreePresent    the dumped init (same pid, start time, pid namespace) still exists here
     * @param released             the source let go of its tree before the restore (RELEASED was reached)
     * @param localImages          a complete local checkpoint is in the journal's directory
     */
    public static SourceAction forSource(Step step, boolean destinationCommitted, boolean frozenTreePresent, boolean released,
                                  boolean localImages) {
        switch (step) {
            case ACCEPTED, CONNECTED:
                return SourceAction.KEEP_RUNNING; // (if it exited meanwhile, its exit watcher reports that)
            case COMMITTING:
                if (destinationCommitted) {
                    return SourceAction.RELEASE_FROZEN;
                }
                break;
            case DUMPING, DUMPED, RELEASED, RESTORING, ROLLING_BACK:
                break;
            default:
                throw new IllegalArgumentException(step + " is not a source step");
        }
        if (!released && frozenTreePresent) {
            return SourceAction.RESUME_FROZEN;
        }
        return released && localImages ? SourceAction.RESTORE_LOCAL_IMAGES : SourceAction.LOST;
    }

    /**
     * @param step               the destination journal's last step
     * @param completedPublished the destination's last decisive event is COMPLETED (read once settled)
     * @param copyAlive          the restored init still exists
     */
    public static DestinationAction forDestination(Step step, boolean completedPublished, boolean copyAlive) {
        return switch (step) {
            case PREPARED, RESTORING, RESTORED -> DestinationAction.DISCARD;
            case COMMITTED -> completedPublished && copyAlive ? DestinationAction.RESUME_COPY : DestinationAction.GIVE_UP_COPY;
            case ABANDONED -> DestinationAction.GIVE_UP_COPY;
            default -> throw new IllegalArgumentException(step + " is not a destination step");
        };
    }
}
