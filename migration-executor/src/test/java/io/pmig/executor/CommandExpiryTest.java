package io.pmig.executor;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Executors never act on a command after its deadline, whenever they start (issue 14, "Commands expire"). */
class CommandExpiryTest {

    private static final List<String> SLEEPER = List.of("sh", "-c", "while :; do sleep 0.2; done");

    private static MigrationCommand withDeadline(MigrationCommand command, long deadlineMs) {
        return MigrationCommand.newBuilder(command).setDeadlineMs(deadlineMs).build();
    }

    private static void awaitPassed(long deadlineMs) {
        await().atMost(Duration.ofSeconds(10)).until(() -> System.currentTimeMillis() > deadlineMs);
    }

    @Test
    void aLaunchWhoseDeadlinePassedBeforeItsExecutorStartedIsNeverLaunched() throws Exception {
        try (TestNodes nodes = new TestNodes()) {
            String late = nodes.prefix + "late";
            String fresh = nodes.prefix + "fresh";
            MigrationCommand expired = withDeadline(nodes.command(CommandKind.LAUNCH, late, null, "zz", null, SLEEPER),
                    System.currentTimeMillis() + 300);
            MigrationCommand valid = nodes.command(CommandKind.LAUNCH, fresh, null, "zz", null, SLEEPER);
            nodes.send(expired);
            nodes.send(valid);
            awaitPassed(expired.getDeadlineMs());

            nodes.start("zz");

            MigrationEvent refused = nodes.await(e -> e.getCommandId().equals(expired.getCommandId()),
                    Duration.ofSeconds(60), "an answer to the expired LAUNCH");
            assertEquals(Phase.FAILED, refused.getPhase(), nodes.eventsSummary());
            assertTrue(refused.getError().contains("expired"), refused.getError());
            nodes.await(TestNodes.phase(valid.getCommandId(), Phase.LAUNCHED), Duration.ofSeconds(60),
                    "LAUNCHED of the command issued with it but still valid");
            assertTrue(nodes.runningPid("zz", late).isEmpty(), "the expired LAUNCH started nothing");
            assertEquals(List.of(refused), nodes.all(e -> e.getCommandId().equals(expired.getCommandId())),
                    "refused once, nothing else");
        }
    }

    @Test
    void aMigrateThatExpiredWhileItsSourceWasDownIsNotAcceptedWhenTheSourceRestarts() throws Exception {
        try (TestNodes nodes = new TestNodes()) {
            String w = nodes.prefix + "stay";
            nodes.start("a");
            String launch = nodes.send(CommandKind.LAUNCH, w, null, "a", null, SLEEPER);
            nodes.await(TestNodes.phase(launch, Phase.LAUNCHED), Duration.ofSeconds(30), "LAUNCHED");
            int pid = nodes.runningPid("a", w).orElseThrow();
            nodes.stop("a"); // the workload keeps running without its executor

            MigrationCommand migrate = withDeadline(nodes.command(CommandKind.MIGRATE, w, "a", "b", MigrationMode.PLAIN,
                    List.of()), System.currentTimeMillis() + 300);
            nodes.send(migrate);
            awaitPassed(migrate.getDeadlineMs());
            nodes.start("a");

            MigrationEvent refused = nodes.await(e -> e.getCommandId().equals(migrate.getCommandId()),
                    Duration.ofSeconds(60), "the restarted source's answer to the expired MIGRATE");
            assertEquals(Phase.FAILED, refused.getPhase(), nodes.eventsSummary());
            assertTrue(refused.getError().contains("expired"), refused.getError());
            assertTrue(nodes.all(TestNodes.phase(migrate.getCommandId(), Phase.ACCEPTED)).isEmpty(), nodes.eventsSummary());
            assertEquals(pid, nodes.runningPid("a", w).orElse(0), "the workload still runs where it was");
        }
    }
}
