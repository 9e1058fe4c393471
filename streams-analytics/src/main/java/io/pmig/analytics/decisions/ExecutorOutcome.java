package io.pmig.analytics.decisions;

import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import java.util.Set;

/** The end of a migration as reported on pmig.events: what frees its slot under the concurrency cap. */
public record ExecutorOutcome(String commandId, String workloadId, Phase phase, String node, long timestampMs) {

    public static final Set<Phase> FINAL_PHASES = Set.of(Phase.COMPLETED, Phase.ROLLED_BACK, Phase.FAILED);

    public static boolean isFinal(MigrationEvent event) {
        return FINAL_PHASES.contains(event.getPhase());
    }

    public static ExecutorOutcome of(MigrationEvent event) {
        return new ExecutorOutcome(event.getCommandId().toString(), event.getWorkloadId().toString(), event.getPhase(),
                event.getNode().toString(), event.getTimestampMs());
    }
}
