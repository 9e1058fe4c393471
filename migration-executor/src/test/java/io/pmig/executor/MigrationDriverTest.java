package io.pmig.executor;

import static io.pmig.executor.TestNodes.ended;
import static io.pmig.executor.TestNodes.phase;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.FakeEngine.Operation;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The migration protocol - both drivers, the journal, the events, the transfer - against the fake checkpoint
 * engine: no criu, so each failure the engine can have is a fast, deterministic test of what the drivers decide.
 * Every copy is a real process, so "the workload runs exactly once" is checked on the process table. Transitions of
 * the journal table these tests take (source / destination):
 * ACCEPTED→CONNECTED→DUMPING→DUMPED→RESTORING→COMMITTING and PREPARED→RESTORING→RESTORED→COMMITTED (completed),
 * DUMPING→ROLLING_BACK (dump fails), DUMPED→ROLLING_BACK (transfer fails), RESTORING→ROLLING_BACK (restore fails),
 * COMMITTING→ROLLING_BACK (the copy died before COMMIT), COMMITTED→ABANDONED (COMPLETED not acknowledged),
 * DUMPED→RELEASED→RESTORING (one network namespace) and a rollback after RELEASED by a local restore. The one
 * transition not taken, RELEASED→ROLLING_BACK, needs a journal write to fail between the two steps; the rule it
 * leads to is RecoveryDecisionTest's. Crash recovery needs a killed executor: MigrationTest, ContainerMigrationTest
 * and {@code pmig chaos} cover it for real.
 */
class MigrationDriverTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final List<String> SLEEPER = List.of("sleep", "1000000");
    private static final AtomicInteger pairs = new AtomicInteger();
    private static TestNodes nodes;

    @BeforeAll
    static void start() throws Exception {
        nodes = new TestNodes();
    }

    @AfterAll
    static void stop() throws Exception {
        if (nodes != null) {
            nodes.close();
        }
    }

    /** A source and a destination node, each with its own fake engine, and a workload running on the source. */
    private record Pair(String source, String destination, FakeEngine sourceEngine, FakeEngine destinationEngine,
                        String workload, int pid) {
    }

    private static Pair pair(FakeEngine sourceEngine, FakeEngine destinationEngine) throws Exception {
        return pair(sourceEngine, destinationEngine, Map.of());
    }

    private static Pair pair(FakeEngine sourceEngine, FakeEngine destinationEngine, Map<String, String> destinationKafka)
            throws Exception {
        int n = pairs.incrementAndGet();
        String source = "s" + n;
        String destination = "d" + n;
        nodes.start(source, sourceEngine);
        nodes.start(destination, destinationEngine, destinationKafka);
        String workload = nodes.prefix + "w" + n;
        String id = nodes.send(CommandKind.LAUNCH, workload, null, source, null, SLEEPER);
        MigrationEvent launched = nodes.await(e -> e.getCommandId().equals(id) && e.getPhase() != Phase.ACCEPTED, WAIT,
                "LAUNCHED " + workload);
        assertEquals(Phase.LAUNCHED, launched.getPhase(), launched.toString());
        return new Pair(source, destination, sourceEngine, destinationEngine, workload, launched.getPid());
    }

    private static MigrationEvent migrate(Pair p) throws Exception {
        String mid = nodes.send(CommandKind.MIGRATE, p.workload(), p.source(), p.destination(), MigrationMode.PLAIN, List.of());
        MigrationEvent end = nodes.await(ended(mid), WAIT, "end of " + mid);
        // both sides are done with the migration once their journals are gone (a lost workload's stays, for an operator)
        if (end.getPhase() != Phase.FAILED) {
            awaitNoJournal(p.source());
        }
        awaitNoJournal(p.destination());
        return end;
    }

    @Test
    void aCompletedMigrationRunsTheCopyOnTheDestinationAndEndsTheSource() throws Exception {
        Pair p = pair(new FakeEngine(), new FakeEngine());
        MigrationEvent end = migrate(p);

        assertEquals(Phase.COMPLETED, end.getPhase(), nodes.eventsSummary());
        assertEquals(nodes.node(p.destination()), end.getNode());
        int copy = nodes.runningPid(p.destination(), p.workload()).orElseThrow();
        assertEquals(copy, end.getPid());
        assertNotEquals('T', ProcessTable.state(copy), "the copy must run after COMMIT");
        awaitGone(p.pid());
        assertTrue(nodes.runningPid(p.source(), p.workload()).isEmpty(), "the source still runs it");
        List<Phase> phases = nodes.all(e -> e.getMigrationId().equals(end.getMigrationId())).stream()
                .map(MigrationEvent::getPhase).toList();
        assertEquals(List.of(Phase.ACCEPTED, Phase.PREPARED, Phase.FROZEN, Phase.DUMPED, Phase.TRANSFERRED,
                Phase.RESTORED, Phase.COMPLETED), phases, "events in causal order");
        assertEquals(List.of("refusals", "dump", "release"), p.sourceEngine().calls());
        assertEquals(List.of("restore", "resumeCopy"), p.destinationEngine().calls());
        kill(p.destination(), p.workload());
    }

    @Test
    void aRefusedWorkloadIsNeverFrozen() throws Exception {
        Pair p = pair(new FakeEngine().failing(Operation.REFUSE), new FakeEngine());
        MigrationEvent end = migrate(p);

        assertEquals(Phase.ROLLED_BACK, end.getPhase(), nodes.eventsSummary());
        assertTrue(end.getError().contains("the fake engine refuses"), end.getError());
        assertTrue(nodes.find(phase(end.getMigrationId(), Phase.FROZEN)).isEmpty(), "frozen although refused");
        assertRunsOnlyOnTheSource(p, p.pid());
    }

    @Test
    void aFailedDumpLeavesTheWorkloadRunningOnTheSource() throws Exception {
        Pair p = pair(new FakeEngine().failing(Operation.DUMP), new FakeEngine());
        MigrationEvent end = migrate(p);

        assertEquals(Phase.ROLLED_BACK, end.getPhase(), nodes.eventsSummary());
        assertTrue(end.getError().contains("checkpoint failed"), end.getError());
        assertRunsOnlyOnTheSource(p, p.pid());
    }

    @Test
    void aFailedTransferResumesTheFrozenSource() throws Exception {
        Pair p = pair(new FakeEngine().failing(Operation.OVERSIZED_IMAGE), new FakeEngine());
        MigrationEvent end = migrate(p);

        assertEquals(Phase.ROLLED_BACK, end.getPhase(), nodes.eventsSummary());
        assertTrue(end.getError().contains("per-file cap"), end.getError());
        assertTrue(p.sourceEngine().calls().contains("resume"), p.sourceEngine().calls().toString());
        assertTrue(p.destinationEngine().calls().isEmpty(), "the destination restored: " + p.destinationEngine().calls());
        assertRunsOnlyOnTheSource(p, p.pid());
    }

    @Test
    void aFailedRestoreResumesTheFrozenSourceNotASecondRestore() throws Exception {
        Pair p = pair(new FakeEngine(), new FakeEngine().failing(Operation.RESTORE));
        MigrationEvent end = migrate(p);

        assertEquals(Phase.ROLLED_BACK, end.getPhase(), nodes.eventsSummary());
        assertTrue(end.getError().contains("fake restore failed"), end.getError());
        assertEquals(List.of("refusals", "dump", "resume"), p.sourceEngine().calls());
        assertRunsOnlyOnTheSource(p, p.pid());
    }

    @Test
    void aCopyThatDiesBeforeCommitRollsBackAndTheSourceResumes() throws Exception {
        Pair p = pair(new FakeEngine(), new FakeEngine().failing(Operation.COPY_DIES));
        MigrationEvent end = migrate(p);

        assertEquals(Phase.ROLLED_BACK, end.getPhase(), nodes.eventsSummary());
        assertTrue(nodes.find(phase(end.getMigrationId(), Phase.RESTORED)).isPresent(), "never got to COMMIT");
        assertTrue(nodes.find(phase(end.getMigrationId(), Phase.COMPLETED)).isEmpty(), "COMPLETED for a rollback");
        assertRunsOnlyOnTheSource(p, p.pid());
    }

    @Test
    void aCompletedThatIsNotAcknowledgedIsOverruledAndTheSourceResumes() throws Exception {
        Pair p = pair(new FakeEngine(), new FakeEngine(),
                Map.of(ProducerConfig.PARTITIONER_CLASS_CONFIG, CompletedRefusingPartitioner.class.getName()));
        MigrationEvent end = migrate(p);

        assertEquals(Phase.ROLLED_BACK, end.getPhase(), nodes.eventsSummary());
        assertTrue(nodes.find(phase(end.getMigrationId(), Phase.COMPLETED)).isEmpty(), "COMPLETED reached the log");
        // the destination gave its copy up (ABANDONED) and said so; the source resumed its frozen tree
        org.awaitility.Awaitility.await("the destination's ROLLED_BACK").atMost(WAIT).until(() -> !nodes.all(
                e -> e.getMigrationId().equals(end.getMigrationId()) && e.getPhase() == Phase.ROLLED_BACK
                        && e.getNode().equals(nodes.node(p.destination()))).isEmpty());
        assertTrue(p.destinationEngine().calls().contains("restore"));
        assertTrue(!p.destinationEngine().calls().contains("resumeCopy"), "the copy ran: " + p.destinationEngine().calls());
        assertRunsOnlyOnTheSource(p, p.pid());
    }

    @Test
    void aFrozenSourceThatCannotResumeIsReportedLostNotRolledBack() throws Exception {
        Pair p = pair(new FakeEngine().failing(Operation.RESUME), new FakeEngine().failing(Operation.RESTORE));
        MigrationEvent end = migrate(p);

        assertEquals(Phase.FAILED, end.getPhase(), nodes.eventsSummary());
        assertTrue(end.getError().startsWith("workload lost"), end.getError());
        assertTrue(Files.isDirectory(nodes.workdir(p.source()).resolve("migrations")), "the journal of a loss is kept");
        ProcessTable.killNamespace(p.pid());
    }

    @Test
    void oneNetworkNamespaceReleasesTheSourceBeforeTheRestore() throws Exception {
        Pair p = pair(new FakeEngine().holdingAddresses(), new FakeEngine());
        MigrationEvent end = migrate(p);

        assertEquals(Phase.COMPLETED, end.getPhase(), nodes.eventsSummary());
        MigrationEvent dumped = nodes.find(phase(end.getMigrationId(), Phase.DUMPED)).orElseThrow();
        assertTrue(dumped.getDetail().contains("released before the restore"), dumped.getDetail());
        assertTrue(nodes.runningPid(p.destination(), p.workload()).isPresent());
        awaitGone(p.pid());
        kill(p.destination(), p.workload());
    }

    @Test
    void aRestoreThatFailsAfterTheReleaseRestoresTheLocalImagesOnTheSource() throws Exception {
        Pair p = pair(new FakeEngine().holdingAddresses(), new FakeEngine().failing(Operation.RESTORE));
        MigrationEvent end = migrate(p);

        assertEquals(Phase.ROLLED_BACK, end.getPhase(), nodes.eventsSummary());
        assertEquals(List.of("refusals", "dump", "restore"), p.sourceEngine().calls(), "a local restore, not a resume");
        awaitGone(p.pid());
        assertEquals(Optional.of(end.getPid()), nodes.runningPid(p.source(), p.workload()));
        assertNotEquals('T', ProcessTable.state(end.getPid()));
        assertTrue(nodes.runningPid(p.destination(), p.workload()).isEmpty());
        p.sourceEngine().killStarted();
    }

    private static void assertRunsOnlyOnTheSource(Pair p, int pid) throws Exception {
        assertEquals(Optional.of(pid), nodes.runningPid(p.source(), p.workload()), "not the same process on the source");
        assertNotEquals('T', ProcessTable.state(pid), "the source's workload is still stopped");
        assertTrue(nodes.runningPid(p.destination(), p.workload()).isEmpty(), "a copy runs on the destination");
        kill(p.source(), p.workload());
    }

    private static void kill(String node, String workload) throws Exception {
        String id = nodes.send(CommandKind.KILL, workload, node, null, null, List.of());
        MigrationEvent killed = nodes.await(e -> e.getCommandId().equals(id) && e.getPhase() != Phase.ACCEPTED, WAIT,
                "KILLED " + workload);
        assertEquals(Phase.KILLED, killed.getPhase(), killed.toString());
    }

    private static void awaitGone(int pid) {
        org.awaitility.Awaitility.await("pid " + pid + " gone").atMost(WAIT).until(() -> !ProcessTable.isAlive(pid));
    }

    private static void awaitNoJournal(String node) {
        Path migrations = nodes.workdir(node).resolve("migrations");
        org.awaitility.Awaitility.await("journals of " + node + " gone").atMost(WAIT).until(() -> {
            if (!Files.isDirectory(migrations)) {
                return true;
            }
            try (var dirs = Files.list(migrations)) {
                return dirs.findAny().isEmpty();
            }
        });
    }
}
