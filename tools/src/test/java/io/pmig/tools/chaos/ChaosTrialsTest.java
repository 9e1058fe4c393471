package io.pmig.tools.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.cli.demo.CriuLocator;
import io.pmig.schemas.MigrationMode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The chaos harness for real - a broker and executors in their own JVMs, real criu, real kill -9 - once for every
 * fault in every mode. Whatever each fault does to a migration, the workload must end up running exactly once,
 * where pmig.events says, with its witness output unbroken. The full sweep (150+ trials) is
 * {@code bin/pmig chaos --modes PLAIN,PAGE_SERVER,LAZY --trials 168 --json}.
 */
class ChaosTrialsTest {

    @Test
    void noFaultLosesOrDuplicatesAWorkloadOrMakesTheEventsLie() throws Exception {
        ByteArrayOutputStream transcript = new ByteArrayOutputStream();
        PrintStream progress = new PrintStream(new TeeStream(transcript), true, StandardCharsets.UTF_8);
        List<MigrationMode> modes = List.of(MigrationMode.PLAIN, MigrationMode.PAGE_SERVER, MigrationMode.LAZY);
        int trials = FaultKind.values().length * modes.size();

        ChaosReport report = ChaosHarness.run(new ChaosHarness.Options(trials, 20240601L, modes,
                Duration.ofSeconds(150), false), CriuLocator.locate(), progress);
        String story = transcript.toString(StandardCharsets.UTF_8) + "\n" + report.table();

        assertEquals(trials, report.trials().size(), story);
        assertTrue(Arrays.stream(FaultKind.values()).allMatch(k -> modes.stream()
                        .allMatch(m -> report.count(t -> t.fault() == k && t.mode() == m) == 1)),
                "every fault kind injected in every mode: " + story);
        assertEquals(0, report.lost(), "lost workloads:\n" + story);
        assertEquals(0, report.duplicated(), "duplicated workloads:\n" + story);
        assertEquals(0, report.untruthful(), "events disagreeing with where the workload runs:\n" + story);
        assertEquals(0, report.witnessBroken(), "witness output with a missing or repeated number:\n" + story);
        assertEquals(0, report.otherProblems(), "stopped copies left, commands run twice or no outcome:\n" + story);
        assertEquals(trials, report.completed() + report.rolledBack(), story);
        // refused and rolled-back trials pass only if the nodes can still migrate: every fault-free probe completed
        assertEquals((trials + ChaosHarness.Options.PROBE_EVERY - 1) / ChaosHarness.Options.PROBE_EVERY, report.probes().size(), story);
        assertEquals(java.util.List.of(), report.failedProbes(), story);
        // these faults can only end with the workload kept by its source (rolled back, refused or ignored)
        Set<FaultKind> mustStay = EnumSet.of(FaultKind.CORRUPT_IMAGE, FaultKind.FAIL_RESTORE, FaultKind.WRONG_SECRET,
                FaultKind.INCOMPATIBLE_DESTINATION, FaultKind.EXPIRED_COMMAND, FaultKind.RESTORE_FAILS_EVERYWHERE);
        assertTrue(report.trials().stream().filter(t -> mustStay.contains(t.fault())).allMatch(TrialResult::rolledBack),
                story);
        // nothing the run started is left: no copy of any trial's witness
        assertEquals(java.util.List.of(), WorkloadProbe.copies(report.runId()), story);
    }

    /** Progress goes to the test log as it happens and into the failure message. */
    private static final class TeeStream extends java.io.OutputStream {
        private final ByteArrayOutputStream copy;

        TeeStream(ByteArrayOutputStream copy) {
            this.copy = copy;
        }

        @Override
        public void write(int b) {
            copy.write(b);
            System.out.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            copy.write(b, off, len);
            System.out.write(b, off, len);
        }
    }
}
