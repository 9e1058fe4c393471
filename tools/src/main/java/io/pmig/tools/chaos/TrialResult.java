package io.pmig.tools.chaos;

import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import java.util.List;

/**
 * What one trial showed. {@code outcome} is the last COMPLETED / ROLLED_BACK / FAILED on pmig.events for the
 * migration (null: the events never said); {@code runningOn} the nodes whose pid file names a live process;
 * {@code copies} the live copies found in /proc, whichever node they belong to.
 */
public record TrialResult(int index, FaultKind fault, MigrationMode mode, String migrationId, String source,
                          String destination, String injectedAt, boolean landedMidMigration, Phase outcome,
                          String outcomeError, List<String> runningOn, int copies, int stoppedCopies,
                          boolean witnessContinuous, long witnessLines, long witnessMaxGapMs, boolean truthful,
                          int acceptedCount, long durationMs, String problem) {

    public boolean lost() {
        return copies == 0;
    }

    public boolean duplicated() {
        return copies > 1 || runningOn.size() > 1;
    }

    public boolean completed() {
        return !lost() && !duplicated() && outcome == Phase.COMPLETED;
    }

    /**
     * Kept by the source: rolled back after a checkpoint, the move failed before it touched the workload, or (an
     * expired command) no executor acted on it and no event was due.
     */
    public boolean rolledBack() {
        return !lost() && !duplicated() && (outcome == Phase.ROLLED_BACK || outcome == Phase.FAILED
                || outcome == null && problem == null && runningOn.equals(List.of(source)));
    }

    /** Every check passed: exactly one copy, where the events say, counting with no gap or repeat, run once. */
    public boolean ok() {
        return !lost() && !duplicated() && stoppedCopies == 0 && truthful && witnessContinuous && acceptedCount <= 1
                && problem == null;
    }

    /** The same result with one more problem found after it was taken. */
    TrialResult withProblem(String more) {
        return new TrialResult(index, fault, mode, migrationId, source, destination, injectedAt, landedMidMigration,
                outcome, outcomeError, runningOn, copies, stoppedCopies, witnessContinuous, witnessLines,
                witnessMaxGapMs, truthful, acceptedCount, durationMs, problem == null ? more : problem + "; " + more);
    }
}
