package io.pmig.tools.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The rotation of faults over modes and the figures of the JSON line, without running anything. */
class ChaosReportTest {

    private static final List<MigrationMode> MODES = List.of(MigrationMode.PLAIN, MigrationMode.PAGE_SERVER,
            MigrationMode.LAZY);

    @Test
    void faultsTimesModesTrialsRunEveryPairOnceAndEveryPrefixSpreadsTheModes() {
        int f = FaultKind.values().length;
        ChaosHarness.Options options = new ChaosHarness.Options(f * MODES.size(), 1, MODES, Duration.ofSeconds(60), false);
        Set<String> pairs = new HashSet<>();
        for (int i = 1; i <= options.trials(); i++) {
            pairs.add(options.fault(i) + "/" + options.mode(i));
        }
        assertEquals(f * MODES.size(), pairs.size());
        for (MigrationMode m : MODES) { // the first round alone already uses every mode about equally
            long n = java.util.stream.IntStream.rangeClosed(1, f).filter(i -> options.mode(i) == m).count();
            assertEquals(f / (double) MODES.size(), n, 1.0);
        }
        assertEquals(MigrationMode.PAGE_SERVER, new ChaosHarness.Options(3, 1, List.of(MigrationMode.PAGE_SERVER),
                Duration.ofSeconds(60), false).mode(3), "--mode: one mode for every trial");
    }

    @Test
    void jsonLineCountsByModeAndByFaultAndGivesEachModesRollbackGap() throws Exception {
        List<TrialResult> trials = new ArrayList<>();
        trials.add(trial(1, FaultKind.KILL_SOURCE, MigrationMode.PLAIN, Phase.ROLLED_BACK, List.of("n1"), 1, 300));
        trials.add(trial(2, FaultKind.KILL_SOURCE, MigrationMode.PLAIN, Phase.ROLLED_BACK, List.of("n1"), 1, 900));
        trials.add(trial(3, FaultKind.WRONG_SECRET, MigrationMode.PLAIN, Phase.FAILED, List.of("n1"), 1, 500));
        trials.add(trial(4, FaultKind.WRONG_SECRET, MigrationMode.PAGE_SERVER, Phase.FAILED, List.of(), 0, 0));
        trials.add(trial(5, FaultKind.EXPIRED_COMMAND, MigrationMode.LAZY, Phase.COMPLETED, List.of("n2"), 1, 700));
        trials.add(trial(6, FaultKind.EXPIRED_COMMAND, MigrationMode.LAZY, null, List.of("n1"), 1, 60));

        JsonNode json = new ObjectMapper().readTree(new ChaosReport("r", 1, MODES, trials, 0).json());

        assertEquals(6, json.get("trials").asInt());
        assertEquals(1, json.get("completed").asInt());
        assertEquals(4, json.get("rolled_back").asInt(), "an ignored expired command counts as kept by its source");
        assertEquals(1, json.get("lost").asInt());
        assertEquals(0, json.get("duplicated").asInt());
        JsonNode plain = json.get("by_mode").get("PLAIN");
        assertEquals(3, plain.get("trials").asInt());
        assertEquals(3, plain.get("rolled_back").asInt());
        assertEquals(900, plain.get("rollback_gap").get("max_ms").asLong());
        assertEquals(500, plain.get("rollback_gap").get("median_ms").asLong());
        assertEquals(1, json.get("by_mode").get("PAGE_SERVER").get("lost").asInt());
        assertEquals(0, json.get("by_mode").get("PAGE_SERVER").get("rollback_gap").get("trials").asInt());
        assertEquals(60, json.get("by_mode").get("LAZY").get("rollback_gap").get("max_ms").asLong());
        assertEquals(1, json.get("by_fault").get("wrong_secret").get("lost").asInt());
        assertEquals("[\"PAGE_SERVER\"]", json.get("by_fault").get("wrong_secret").get("lost_in").toString());
        assertEquals(2, json.get("by_fault").get("expired_command").get("trials").asInt());
        assertEquals(FaultKind.values().length, json.get("by_fault").size());
    }

    @Test
    void anAbortedRunSaysSoInItsJsonLineAndTable() throws Exception {
        List<TrialResult> trials = List.of(
                trial(1, FaultKind.KILL_SOURCE, MigrationMode.PLAIN, Phase.ROLLED_BACK, List.of("n1"), 1, 300));
        ChaosReport aborted = new ChaosReport("r", 1, MODES, trials, 0, 90, new ChaosReport.Abort(2,
                "the broker at 127.0.0.1:1 is gone", null));

        JsonNode json = new ObjectMapper().readTree(aborted.json());
        assertEquals(1, json.get("trials").asInt());
        assertEquals(90, json.get("planned_trials").asInt());
        assertEquals(false, json.get("complete").asBoolean());
        assertEquals(2, json.get("aborted_in_trial").asInt());
        assertEquals("the broker at 127.0.0.1:1 is gone", json.get("abort_reason").asText());
        assertEquals(true, aborted.table().contains("INCOMPLETE: 1 of 90 trials finished"), aborted.table());

        JsonNode finished = new ObjectMapper().readTree(new ChaosReport("r", 1, MODES, trials, 0).json());
        assertEquals(true, finished.get("complete").asBoolean());
        assertEquals(false, finished.has("abort_reason"));
    }

    @Test
    void theRunFailsOnAnyProblemOfATrialNotOnlyOnALostOrDuplicatedWorkload() {
        TrialResult clean = trial(1, FaultKind.KILL_SOURCE, MigrationMode.PLAIN, Phase.ROLLED_BACK, List.of("n1"), 1, 300);
        assertEquals(0, new ChaosReport("r", 1, MODES, List.of(clean), 0).exitStatus());
        TrialResult stoppedCopyLeft = new TrialResult(2, FaultKind.KILL_DESTINATION, MigrationMode.LAZY, "m2", "n1", "n2",
                "-", true, Phase.ROLLED_BACK, null, List.of("n1"), 1, 1, true, 100, 300, true, 1, 1000, null);
        TrialResult witnessGap = new TrialResult(3, FaultKind.CUT_TRANSFER, MigrationMode.PLAIN, "m3", "n1", "n2",
                "-", true, Phase.ROLLED_BACK, null, List.of("n1"), 1, 0, false, 100, 300, true, 1, 1000, null);
        TrialResult noOutcome = trial(4, FaultKind.RESTART_BROKER, MigrationMode.PLAIN, null, List.of("n1"), 1, 300)
                .withProblem("no outcome on pmig.events within 60 s");
        for (TrialResult bad : List.of(stoppedCopyLeft, witnessGap, noOutcome)) {
            ChaosReport report = new ChaosReport("r", 1, MODES, List.of(clean, bad), 0);
            assertEquals(0, report.lost() + report.duplicated() + report.untruthful(), "not what this case is about");
            assertEquals(1, report.exitStatus(), "trial " + bad.index());
        }
        assertEquals(3, new ChaosReport("r", 1, MODES, List.of(clean), 0, 90,
                new ChaosReport.Abort(2, "the broker is gone", null)).exitStatus());
    }

    @Test
    void anAbortReasonIsOneLineFromTheFailureNotItsWrapper() {
        Exception wrapped = new java.util.concurrent.ExecutionException(
                new IllegalStateException("n2 exited with 1 before it was ready; see n2-2.log\nmore detail"));
        assertEquals("n2 exited with 1 before it was ready; see n2-2.log", ChaosReport.Abort.describe(wrapped));
        assertEquals("java.lang.NullPointerException", ChaosReport.Abort.describe(new NullPointerException()));
    }

    private static TrialResult trial(int i, FaultKind fault, MigrationMode mode, Phase outcome, List<String> runningOn,
                                     int copies, long gapMs) {
        return new TrialResult(i, fault, mode, "m" + i, "n1", "n2", "-", true, outcome, null, runningOn, copies, 0,
                copies > 0, copies > 0 ? 100 : 0, gapMs, true, 1, 1000, null);
    }
}
