package io.pmig.executor.events;

import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import java.util.Optional;

/**
 * Where a workload runs according to an event that places it: LAUNCHED, RECOVERED, COMPLETED and ROLLED_BACK put it
 * on a node; KILLED, EXITED, LOST (or a FAILED that says "workload lost") and FORGOTTEN put it nowhere. Other
 * events (intermediate phases, refused commands, LAUNCH_FAILED: a launch that did not happen) leave it where it was.
 */
public final class WorkloadPlacement {

    private WorkloadPlacement() {
    }

    public static boolean places(MigrationEvent e) {
        return switch (e.getPhase()) {
            case LAUNCHED, RECOVERED, COMPLETED, ROLLED_BACK, KILLED, EXITED, LOST, FORGOTTEN -> true;
            case FAILED -> isLost(e);
            default -> false;
        };
    }

    /** The node a placing event puts the workload on; empty for "nowhere". */
    public static Optional<String> node(MigrationEvent e) {
        return switch (e.getPhase()) {
            case LAUNCHED, RECOVERED -> Optional.of(e.getNode());
            case COMPLETED -> Optional.of(e.getDestinationNode() != null ? e.getDestinationNode() : e.getNode());
            case ROLLED_BACK -> Optional.of(e.getSourceNode() != null ? e.getSourceNode() : e.getNode());
            default -> Optional.empty();
        };
    }

    /**
     * The destination gave the migration up: its own ROLLED_BACK or FAILED. It then has no copy, so the migration's
     * COMPLETED - which can reach the log late, after this, when the broker took it only after its delivery timed out -
     * places nothing, wherever it stands in the log.
     */
    public static boolean givenUpByDestination(MigrationEvent e) {
        return (e.getPhase() == Phase.ROLLED_BACK || e.getPhase() == Phase.FAILED) && e.getNode().equals(e.getDestinationNode());
    }

    /** A migration or recovery that ended with the workload running nowhere (the executors' "workload lost: ..."). */
    public static boolean isLost(MigrationEvent e) {
        return e.getPhase() == Phase.LOST
                || e.getPhase() == Phase.FAILED && e.getError() != null && e.getError().startsWith("workload lost");
    }
}
