package io.pmig.executor.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.pmig.executor.migration.MigrationJournal.Role;
import io.pmig.executor.migration.MigrationJournal.Step;
import io.pmig.executor.migration.RecoveryDecision.DestinationAction;
import io.pmig.executor.migration.RecoveryDecision.SourceAction;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The rollback and recovery rules over every journal step and every combination of facts. */
class RecoveryDecisionTest {

    private static final List<Boolean> BOTH = List.of(false, true);

    @Test
    void theSourceNeverLetsGoOfAWorkloadTheDestinationDidNotCommitAndNeverKeepsOneItDid() {
        for (Step step : MigrationJournal.TRANSITIONS.get(Role.SOURCE).keySet()) {
            for (boolean committed : BOTH) {
                for (boolean present : BOTH) {
                    for (boolean released : BOTH) {
                        for (boolean images : BOTH) {
                            SourceAction action = RecoveryDecision.forSource(step, committed, present, released, images);
                            String facts = step + " committed=" + committed + " present=" + present
                                    + " released=" + released + " images=" + images + " -> " + action;
                            boolean commitPossible = step == Step.COMMITTING;
                            if (commitPossible && committed) {
                                // the destination runs it: resuming or restoring here would run it twice
                                assertEquals(SourceAction.RELEASE_FROZEN, action, facts);
                            } else {
                                assertNotEquals(SourceAction.RELEASE_FROZEN, action, facts);
                            }
                            if (action == SourceAction.LOST) {
                                // lost only when nothing is left here to run
                                assertEquals(true, (released || !present) && !(released && images), facts);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void eachSourceStepHasItsOwnAnswer() {
        assertEquals(SourceAction.KEEP_RUNNING, RecoveryDecision.forSource(Step.ACCEPTED, false, true, false, false));
        assertEquals(SourceAction.KEEP_RUNNING, RecoveryDecision.forSource(Step.CONNECTED, false, true, false, false));
        for (Step frozen : List.of(Step.DUMPING, Step.DUMPED, Step.RESTORING, Step.COMMITTING, Step.ROLLING_BACK)) {
            assertEquals(SourceAction.RESUME_FROZEN, RecoveryDecision.forSource(frozen, false, true, false, true), frozen.name());
            assertEquals(SourceAction.LOST, RecoveryDecision.forSource(frozen, false, false, false, true), frozen.name());
        }
        for (Step released : List.of(Step.RELEASED, Step.RESTORING, Step.COMMITTING, Step.ROLLING_BACK)) {
            assertEquals(SourceAction.RESTORE_LOCAL_IMAGES, RecoveryDecision.forSource(released, false, false, true, true));
            assertEquals(SourceAction.LOST, RecoveryDecision.forSource(released, false, false, true, false));
        }
        assertEquals(SourceAction.RELEASE_FROZEN, RecoveryDecision.forSource(Step.COMMITTING, true, true, false, true));
        assertEquals(SourceAction.RELEASE_FROZEN, RecoveryDecision.forSource(Step.COMMITTING, true, false, true, true));
        assertThrows(IllegalArgumentException.class,
                () -> RecoveryDecision.forSource(Step.COMMITTED, false, true, false, true));
    }

    @Test
    void theDestinationResumesOnlyACopyWhoseCompletedIsInTheLog() {
        for (Step step : MigrationJournal.TRANSITIONS.get(Role.DESTINATION).keySet()) {
            for (boolean published : BOTH) {
                for (boolean alive : BOTH) {
                    DestinationAction action = RecoveryDecision.forDestination(step, published, alive);
                    String facts = step + " published=" + published + " alive=" + alive + " -> " + action;
                    if (action == DestinationAction.RESUME_COPY) {
                        assertEquals(Step.COMMITTED, step, facts);
                        assertEquals(true, published && alive, facts);
                    }
                    if (step == Step.COMMITTED && !(published && alive) || step == Step.ABANDONED) {
                        // a COMPLETED may still be on its way: it must be overruled, not left standing
                        assertEquals(DestinationAction.GIVE_UP_COPY, action, facts);
                    }
                    if (step == Step.PREPARED || step == Step.RESTORING || step == Step.RESTORED) {
                        assertEquals(DestinationAction.DISCARD, action, facts);
                    }
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> RecoveryDecision.forDestination(Step.DUMPED, true, true));
    }
}
