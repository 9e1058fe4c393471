package io.pmig.executor.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.migration.MigrationJournal.Role;
import io.pmig.executor.migration.MigrationJournal.Step;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MigrationJournalTest {

    @TempDir
    Path workdir;

    @Test
    void everyTransitionOfTheTableIsWrittenAndEveryOtherMoveIsRefused() throws Exception {
        int checked = 0;
        for (Role role : Role.values()) {
            for (var from : MigrationJournal.TRANSITIONS.get(role).entrySet()) {
                for (Step to : Step.values()) {
                    MigrationJournal journal = journalAt(role, from.getKey(), "m-" + checked++);
                    if (to == from.getKey() || from.getValue().contains(to)) {
                        journal.step(to);
                        assertEquals(to, MigrationJournal.all(workdir).stream()
                                .filter(j -> j.dir().equals(journal.dir())).findFirst().orElseThrow().step());
                    } else {
                        Step before = journal.step();
                        assertThrows(IllegalStateException.class, () -> journal.step(to), role + ": " + before + " -> " + to);
                        assertEquals(before, journal.step());
                    }
                    journal.delete();
                }
            }
        }
        assertTrue(checked > 100, "only " + checked + " pairs checked");
    }

    @Test
    void everyStepOfARoleIsReachableFromItsFirstAndEveryFrozenSourceStepCanRollBack() {
        for (Role role : Role.values()) {
            Set<Step> reached = EnumSet.of(MigrationJournal.initial(role));
            List<Step> frontier = new ArrayList<>(reached);
            while (!frontier.isEmpty()) {
                for (Step next : MigrationJournal.TRANSITIONS.get(role).get(frontier.remove(0))) {
                    if (reached.add(next)) {
                        frontier.add(next);
                    }
                }
            }
            assertEquals(MigrationJournal.TRANSITIONS.get(role).keySet(), reached, role + " steps unreachable");
        }
        for (Step frozen : List.of(Step.DUMPING, Step.DUMPED, Step.RELEASED, Step.RESTORING, Step.COMMITTING)) {
            assertTrue(MigrationJournal.allowed(Role.SOURCE, frozen, Step.ROLLING_BACK), frozen + " cannot roll back");
        }
        assertTrue(!MigrationJournal.allowed(Role.SOURCE, Step.ACCEPTED, Step.DUMPING), "froze before HELLO");
        assertTrue(!MigrationJournal.allowed(Role.DESTINATION, Step.RESTORED, Step.ABANDONED), "gave up before COMMIT");
    }

    /** A journal of {@code role} whose last step is {@code step}, reached along the table. */
    private MigrationJournal journalAt(Role role, Step step, String id) throws Exception {
        MigrationJournal journal = MigrationJournal.create(workdir, id, role);
        List<Step> path = pathTo(role, step);
        for (Step s : path) {
            journal.step(s);
        }
        return journal;
    }

    private static List<Step> pathTo(Role role, Step target) {
        Step first = MigrationJournal.initial(role);
        List<List<Step>> queue = new ArrayList<>(List.of(List.of(first)));
        Set<Step> seen = EnumSet.of(first);
        while (!queue.isEmpty()) {
            List<Step> path = queue.remove(0);
            Step last = path.get(path.size() - 1);
            if (last == target) {
                return path;
            }
            for (Step next : MigrationJournal.TRANSITIONS.get(role).get(last)) {
                if (seen.add(next)) {
                    List<Step> longer = new ArrayList<>(path);
                    longer.add(next);
                    queue.add(longer);
                }
            }
        }
        throw new AssertionError(target + " unreachable for " + role);
    }
}
