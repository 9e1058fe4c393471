package io.pmig.executor;

import static io.pmig.executor.TestNodes.ended;
import static io.pmig.executor.TestNodes.phase;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.node.NodeExecutor;
import io.pmig.executor.transfer.TransferCredentials;
import io.pmig.platform.testing.Scrape;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Real migrations between executors in this JVM: real criu, real processes in their own namespaces, real Kafka.
 * Node a is the usual source, b a healthy destination, bad a destination whose received images get corrupted,
 * cut a destination reached through a proxy that cuts the connection mid-stream.
 */
class MigrationTest {

    private static final String COUNTER = "i=0; while :; do i=$((i+1)); echo $i >> counter.txt; sleep 0.05; done";
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static TestNodes nodes;
    private static CuttingProxy cutProxy;
    /** /metrics of nodes a and b. */
    private static String metricsA;
    private static String metricsB;

    private static java.util.Set<String> lockTablesBefore;

    @BeforeAll
    static void startNodes() throws Exception {
        lockTablesBefore = TestNodes.criuLockTables();
        nodes = new TestNodes();
        // a and b serve /metrics: tests read how their migrations changed the series
        metricsA = metricsUrl(nodes.start("a", MigrationTest::withMetrics));
        metricsB = metricsUrl(nodes.start("b", MigrationTest::withMetrics));
        Path corrupting = nodes.corruptingCriu();
        nodes.start("bad", c -> c.set(ExecutorConfig.CRIU_PATH, corrupting));
        InetSocketAddress cutListen = new InetSocketAddress(InetAddress.getLoopbackAddress(), TestNodes.freePort());
        cutProxy = new CuttingProxy(cutListen, 64 * 1024);
        nodes.start("cut", c -> c.set(ExecutorConfig.LISTEN, cutListen).set(ExecutorConfig.ADVERTISE, cutProxy.address()));
    }

    private static ExecutorConfig.Builder withMetrics(ExecutorConfig.Builder config) {
        return config.set(ExecutorConfig.METRICS_HOST, "127.0.0.1").set(ExecutorConfig.METRICS_PORT, 0);
    }

    private static String metricsUrl(NodeExecutor executor) {
        return "http://127.0.0.1:" + executor.metricsAddress().getPort() + "/metrics";
    }

    @AfterAll
    static void stopNodes() throws Exception {
        if (nodes != null) {
            nodes.close();
        }
        if (cutProxy != null) {
            cutProxy.close();
        }
        TestNodes.assertNoLockTableLeftSince(lockTablesBefore);
    }

    @Test
    void counterMigratesWithNoMissingOrRepeatedNumberUnderANewPid() throws Exception {
        String w = nodes.prefix + "counter";
        int pidBefore = launch("a", w, List.of("sh", "-c", COUNTER));
        awaitLines(nodes.workloadDir("a", w), 10);
        Scrape before = Scrape.of(metricsB);

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "b", MigrationMode.PAGE_SERVER, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);
        // b counts the migration just after the broker took its COMPLETED, which this test may read first
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertMetricsOfACompletedMigration(before, Scrape.of(metricsB), done));

        assertEquals(Phase.COMPLETED, done.getPhase(), nodes.eventsSummary());
        assertEquals(w, done.getWorkloadId());
        int pidAfter = nodes.runningPid("b", w).orElseThrow(() -> new AssertionError("not running on b"));
        assertNotEquals(pidBefore, pidAfter);
        assertEquals(pidAfter, done.getPid());
        assertTrue(nodes.runningPid("a", w).isEmpty(), "still running on a");
        awaitGone(nodes.workloadDir("a", w));
        assertTrue(done.getTimings().getDumpMs() > 0 && done.getTimings().getDowntimeMs() > 0, done.getTimings().toString());
        int atCompletion = lines(nodes.workloadDir("b", w)).size();
        awaitLines(nodes.workloadDir("b", w), atCompletion + 20);
        assertConsecutive(lines(nodes.workloadDir("b", w)));
        kill("b", w);
    }

    /** The first PAGE_SERVER or LAZY migration of fresh nodes waited for keytool on both, 10 s between PREPARED and FROZEN. */
    @Test
    void aNodeMakesItsTlsKeyAtStartNotInItsFirstMigration() throws Exception {
        nodes.start("fresh");
        Path tls = nodes.root.resolve(nodes.prefix + "fresh").resolve("tls");
        await().atMost(WAIT).until(() -> Files.isRegularFile(tls.resolve("key.pem")) && Files.isRegularFile(tls.resolve("cert.pem")));
    }

    @Test
    void jvmWorkloadMigratesInPlainMode() throws Exception {
        Path source = nodes.root.resolve("Ticker.java");
        Files.writeString(source, """
                import java.nio.file.*;
                public class Ticker {
                    public static void main(String[] a) throws Exception {
                        for (long i = 1; ; i++) {
                            Files.writeString(Path.of("counter.txt"), i + "\\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                            Thread.sleep(50);
                        }
                    }
                }
                """);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String w = nodes.prefix + "jvm";
        launch("a", w, List.of(java, "-XX:-UsePerfData", "-Xmx64m", source.toString()));
        awaitLines(nodes.workloadDir("a", w), 10);

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "b", MigrationMode.PLAIN, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.COMPLETED, done.getPhase(), nodes.eventsSummary());
        assertTrue(nodes.runningPid("b", w).isPresent());
        int atCompletion = lines(nodes.workloadDir("b", w)).size();
        awaitLines(nodes.workloadDir("b", w), atCompletion + 10);
        assertConsecutive(lines(nodes.workloadDir("b", w)));
        kill("b", w);
    }

    @Test
    void establishedTcpConnectionSurvivesTheMigration() throws Exception {
        try (EchoServer server = new EchoServer()) {
            String client = "exec 3<>/dev/tcp/127.0.0.1/" + server.port() + "; i=0; while :; do i=$((i+1)); "
                    + "echo $i >&3; read -r r <&3; echo $r >> counter.txt; sleep 0.05; done";
            String w = nodes.prefix + "tcp";
            launch("a", w, List.of("bash", "-c", client));
            awaitLines(nodes.workloadDir("a", w), 10);

            String mid = nodes.send(CommandKind.MIGRATE, w, "a", "b", MigrationMode.PAGE_SERVER, List.of());
            MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

            assertEquals(Phase.COMPLETED, done.getPhase(), nodes.eventsSummary());
            int atCompletion = lines(nodes.workloadDir("b", w)).size();
            awaitLines(nodes.workloadDir("b", w), atCompletion + 20);
            assertConsecutive(lines(nodes.workloadDir("b", w)));
            assertEquals(1, server.accepted(), "the client reconnected instead of keeping its connection");
            kill("b", w);
        }
    }

    @Test
    void restoreFailureOnTheDestinationRollsBackAndTheWorkloadKeepsRunningOnTheSource() throws Exception {
        String w = nodes.prefix + "badrestore";
        int pid = launch("a", w, List.of("sh", "-c", COUNTER));
        awaitLines(nodes.workloadDir("a", w), 10);
        Scrape before = Scrape.of(metricsA);

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "bad", MigrationMode.PLAIN, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.ROLLED_BACK, done.getPhase(), nodes.eventsSummary());
        Scrape after = Scrape.of(metricsA);
        assertEquals(1, delta(before, after, "pmig_executor_migrations_total", "mode", "PLAIN", "outcome", "ROLLED_BACK",
                "side", "source"), "the source counts its rollback");
        assertEquals(1, delta(before, after, "pmig_executor_rollbacks_total", "mode", "PLAIN", "reason", "restore"),
                "a rollback after the destination's restore failed: " + after.find("pmig_executor_rollbacks_total"));
        assertEquals(0, delta(before, after, "pmig_executor_migration_phase_seconds_count", "phase", "downtime"),
                "only COMPLETED migrations are timed");
        assertTrue(done.getError().contains("restore"), done.getError());
        assertEquals(Optional.of(pid), nodes.runningPid("a", w), "the rollback should resume the frozen source, not restore it");
        assertTrue(nodes.runningPid("bad", w).isEmpty(), "running on the failed destination");
        int atRollback = lines(nodes.workloadDir("a", w)).size();
        awaitLines(nodes.workloadDir("a", w), atRollback + 20);
        assertConsecutive(lines(nodes.workloadDir("a", w)));
        kill("a", w);
    }

    @Test
    void restoreFailureInPageServerModeRollsBackByResumingTheFrozenSource() throws Exception {
        String w = nodes.prefix + "badrestore-ps";
        int pid = launch("a", w, List.of("sh", "-c", COUNTER));
        awaitLines(nodes.workloadDir("a", w), 10);

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "bad", MigrationMode.PAGE_SERVER, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.ROLLED_BACK, done.getPhase(), nodes.eventsSummary());
        assertEquals(Optional.of(pid), nodes.runningPid("a", w), "the rollback should resume the frozen source, not restore it");
        int atRollback = lines(nodes.workloadDir("a", w)).size();
        awaitLines(nodes.workloadDir("a", w), atRollback + 20);
        assertConsecutive(lines(nodes.workloadDir("a", w)));
        kill("a", w);
    }

    @Test
    void transferCutMidStreamRollsBackWithNothingLost() throws Exception {
        String w = nodes.prefix + "cutstream";
        launch("a", w, List.of("sh", "-c", COUNTER));
        awaitLines(nodes.workloadDir("a", w), 10);

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "cut", MigrationMode.PLAIN, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.ROLLED_BACK, done.getPhase(), nodes.eventsSummary());
        assertTrue(cutProxy.cuts() > 0, "the proxy never cut the transfer");
        assertTrue(nodes.runningPid("a", w).isPresent(), "not running on the source after rollback");
        assertTrue(nodes.runningPid("cut", w).isEmpty());
        int atRollback = lines(nodes.workloadDir("a", w)).size();
        awaitLines(nodes.workloadDir("a", w), atRollback + 20);
        assertConsecutive(lines(nodes.workloadDir("a", w)));
        kill("a", w);
    }

    @Test
    void aDuplicatedMigrateCommandMigratesOnce() throws Exception {
        String w = nodes.prefix + "dup";
        launch("a", w, List.of("sh", "-c", COUNTER));
        awaitLines(nodes.workloadDir("a", w), 5);

        MigrationCommand migrate = nodes.command(CommandKind.MIGRATE, w, "a", "b", MigrationMode.PLAIN, List.of());
        nodes.send(migrate);
        nodes.send(migrate);
        MigrationEvent done = nodes.await(ended(migrate.getCommandId()), WAIT, "end of the migration");
        assertEquals(Phase.COMPLETED, done.getPhase(), nodes.eventsSummary());

        // Commands of one workload are one partition, read in order: once both nodes answered a later command,
        // each has already seen (and skipped) the duplicate.
        String probeA = nodes.send(CommandKind.KILL, w, "a", null, null, List.of());
        nodes.await(phase(probeA, Phase.FAILED), WAIT, "a's answer to the probe");
        kill("b", w);
        assertEquals(1, nodes.all(phase(migrate.getCommandId(), Phase.ACCEPTED)).size(), nodes.eventsSummary());
        assertEquals(1, nodes.all(phase(migrate.getCommandId(), Phase.PREPARED)).size(), nodes.eventsSummary());
        assertEquals(1, nodes.all(phase(migrate.getCommandId(), Phase.COMPLETED)).size(), nodes.eventsSummary());
    }

    @Test
    void counterMigratesInLazyModeWithNoMissingOrRepeatedNumber() throws Exception {
        String w = nodes.prefix + "lazy";
        int pidBefore = launch("a", w, List.of("sh", "-c", COUNTER));
        awaitLines(nodes.workloadDir("a", w), 10);

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "b", MigrationMode.LAZY, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.COMPLETED, done.getPhase(), nodes.eventsSummary());
        assertEquals(MigrationMode.LAZY, done.getMode());
        int pidAfter = nodes.runningPid("b", w).orElseThrow(() -> new AssertionError("not running on b"));
        assertNotEquals(pidBefore, pidAfter);
        assertTrue(done.getTimings().getDowntimeMs() > 0 && done.getTimings().getRestoreMs() > 0, done.getTimings().toString());
        // the source's copy goes only once its lazy dump has served every page
        awaitGone(nodes.workloadDir("a", w));
        int atCompletion = lines(nodes.workloadDir("b", w)).size();
        awaitLines(nodes.workloadDir("b", w), atCompletion + 20);
        assertConsecutive(lines(nodes.workloadDir("b", w)));
        kill("b", w);
    }

    @Test
    void lazyRestoreFailureStopsTheLazyDumpAndTheWorkloadResumesOnTheSource() throws Exception {
        String w = nodes.prefix + "lazy-bad";
        int pid = launch("a", w, List.of("sh", "-c", COUNTER));
        awaitLines(nodes.workloadDir("a", w), 10);

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "bad", MigrationMode.LAZY, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.ROLLED_BACK, done.getPhase(), nodes.eventsSummary());
        assertEquals(pid, nodes.runningPid("a", w).orElseThrow(() -> new AssertionError("not running on the source")),
                "a lazy rollback resumes the very same processes");
        assertTrue(nodes.runningPid("bad", w).isEmpty(), "running on the failed destination");
        int atRollback = lines(nodes.workloadDir("a", w)).size();
        awaitLines(nodes.workloadDir("a", w), atRollback + 20);
        assertConsecutive(lines(nodes.workloadDir("a", w)));
        kill("a", w);
    }

    /**
     * The source executor is a process of its own, killed -9 once its DUMPED is on pmig.events. The destination's
     * restore waits until then (a gated criu), so the kill lands between the dump and the COMMIT, whatever the mode.
     */
    @ParameterizedTest
    @EnumSource(MigrationMode.class)
    void sourceExecutorKilledAfterItsDumpResumesTheFrozenWorkloadOnRestartAndItRunsOnce(MigrationMode mode) throws Exception {
        String suffix = mode.name().toLowerCase(Locale.ROOT).replace('_', '-');
        String crash = "crash-" + suffix;
        String held = "held-" + suffix;
        Path gate = nodes.root.resolve("killed-" + suffix);
        Path gated = nodes.gatedCriu(gate);
        nodes.start(held, c -> c.set(ExecutorConfig.CRIU_PATH, gated));
        String w = nodes.prefix + crash + "ed";
        ExecutorProcess source = nodes.startProcess(crash);
        launch(crash, w, List.of("sh", "-c", COUNTER));
        awaitLines(nodes.workloadDir(crash, w), 10);

        String mid = nodes.send(CommandKind.MIGRATE, w, crash, held, mode, List.of());
        nodes.await(phase(mid, Phase.DUMPED), WAIT, "DUMPED");
        source.kill9(); // its journal, its criu and the frozen tree are left
        Files.createFile(gate);
        assertTrue(nodes.runningPid(crash, w).isEmpty(), "the dump should have stopped the workload");
        int atCrash = lines(nodes.workloadDir(crash, w)).size();

        nodes.start(crash);
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.ROLLED_BACK, done.getPhase(), nodes.eventsSummary());
        assertEquals(nodes.node(crash), done.getNode());
        assertTrue(nodes.runningPid(crash, w).isPresent(), "not running on the restarted source");
        await().atMost(WAIT).until(() -> journals(held).isEmpty()); // the destination gave its stopped copy up
        assertTrue(nodes.runningPid(held, w).isEmpty(), "also running on the destination");
        awaitLines(nodes.workloadDir(crash, w), atCrash + 20);
        assertConsecutive(lines(nodes.workloadDir(crash, w)));
        kill(crash, w);
        nodes.stop(crash);
        nodes.stop(held);
    }

    /** Issue 14 item 1: the pages must not cross before the destination has proven it holds the cluster secret. */
    @ParameterizedTest
    @EnumSource(MigrationMode.class)
    void aDestinationWithAnotherSecretGetsNothingAndTheWorkloadIsNeverFrozen(MigrationMode mode) throws Exception {
        String stranger = "stranger-" + mode.name().toLowerCase(Locale.ROOT).replace('_', '-');
        nodes.start(stranger, c -> c.credentials(
                new TransferCredentials("not-this-cluster's-secret-0123456789".getBytes(StandardCharsets.UTF_8))));
        String w = nodes.prefix + stranger + "-w";
        int pid = launch("a", w, List.of("sh", "-c", COUNTER));
        awaitLines(nodes.workloadDir("a", w), 10);

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", stranger, mode, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.ROLLED_BACK, done.getPhase(), nodes.eventsSummary());
        assertTrue(done.getError().contains("authentication"), done.getError());
        assertTrue(nodes.find(phase(mid, Phase.FROZEN)).isEmpty(), "frozen although the destination was not proven");
        assertEquals(Optional.of(pid), nodes.runningPid("a", w), "the workload should never have stopped");
        try (var left = Files.walk(nodes.workdir(stranger))) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().startsWith("pages-")), "pages reached the stranger");
        }
        assertConsecutive(lines(nodes.workloadDir("a", w)));
        kill("a", w);
        nodes.stop(stranger);
    }

    /**
     * Issue 14 item 2: a workload with a nested network namespace dumps, but its restore fails on every node (criu
     * "Can't restore sub-task in NS"), the source's own included. It is refused before anything is frozen.
     */
    @ParameterizedTest
    @EnumSource(value = MigrationMode.class, names = {"PLAIN", "PAGE_SERVER"})
    void aWorkloadWhoseRestoreWouldFailEverywhereIsRefusedBeforeTheFreeze(MigrationMode mode) throws Exception {
        String w = nodes.prefix + "nestedns-" + mode.name().toLowerCase(Locale.ROOT).replace('_', '-');
        int pid = launch("a", w, List.of("sh", "-c", "unshare -n sleep 100000 & " + COUNTER));
        awaitLines(nodes.workloadDir("a", w), 10);

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "b", mode, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.ROLLED_BACK, done.getPhase(), nodes.eventsSummary());
        assertTrue(done.getError().contains("net namespace"), done.getError());
        assertTrue(nodes.find(phase(mid, Phase.FROZEN)).isEmpty(), "frozen although criu cannot restore it");
        assertEquals(Optional.of(pid), nodes.runningPid("a", w), "the workload should never have stopped");
        kill("a", w);
    }

    /** Over a node's cap a migration waits its turn (and says so) instead of being refused. */
    @Test
    void aMigrationOverTheNodesCapWaitsItsTurnAndBothComplete() throws Exception {
        nodes.start("oneslot", c -> c.set(ExecutorConfig.MAX_CONCURRENT_MIGRATIONS, 1));
        String w1 = nodes.prefix + "queued-1";
        String w2 = nodes.prefix + "queued-2";
        launch("oneslot", w1, List.of("sh", "-c", COUNTER));
        launch("oneslot", w2, List.of("sh", "-c", COUNTER));
        awaitLines(nodes.workloadDir("oneslot", w1), 10);
        awaitLines(nodes.workloadDir("oneslot", w2), 10);

        String m1 = nodes.send(CommandKind.MIGRATE, w1, "oneslot", "b", MigrationMode.PLAIN, List.of());
        String m2 = nodes.send(CommandKind.MIGRATE, w2, "oneslot", "b", MigrationMode.PLAIN, List.of());
        MigrationEvent done1 = nodes.await(ended(m1), WAIT, "end of " + m1);
        MigrationEvent done2 = nodes.await(ended(m2), WAIT, "end of " + m2);

        assertEquals(Phase.COMPLETED, done1.getPhase(), nodes.eventsSummary());
        assertEquals(Phase.COMPLETED, done2.getPhase(), nodes.eventsSummary());
        long waited = nodes.all(e -> (e.getMigrationId().equals(m1) || e.getMigrationId().equals(m2))
                && e.getPhase() == Phase.ACCEPTED && e.getDetail().startsWith("waited ")).size();
        assertEquals(1, waited, "exactly one of the two should have waited for the slot: " + nodes.eventsSummary());
        kill("b", w1);
        kill("b", w2);
        nodes.stop("oneslot");
    }

    /** Events of one migration come in causal order: the destination prepares only after the source accepted. */
    @Test
    void theDestinationPreparesOnlyAfterTheSourceAcceptedAndNotAtAllAfterARefusal() throws Exception {
        String w = nodes.prefix + "causal";
        launch("a", w, List.of("sh", "-c", COUNTER));
        awaitLines(nodes.workloadDir("a", w), 5);
        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "b", MigrationMode.PLAIN, List.of());
        assertEquals(Phase.COMPLETED, nodes.await(ended(mid), WAIT, "end of " + mid).getPhase(), nodes.eventsSummary());
        List<Phase> order = nodes.all(e -> e.getMigrationId().equals(mid)).stream().map(MigrationEvent::getPhase).toList();
        assertTrue(order.indexOf(Phase.ACCEPTED) < order.indexOf(Phase.PREPARED), order.toString());

        String refused = nodes.send(CommandKind.MIGRATE, nodes.prefix + "not-running-anywhere", "a", "b",
                MigrationMode.PLAIN, List.of());
        assertEquals(Phase.FAILED, nodes.await(ended(refused), WAIT, "refusal").getPhase());
        org.awaitility.Awaitility.await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(10))
                .until(() -> nodes.find(phase(refused, Phase.PREPARED)).isEmpty());
        kill("b", w);
    }

    /** Issue 14 item 5: the pid file is the workload's to write; signals and dumps go by the identity pmig recorded. */
    @Test
    void aWorkloadThatRewritesItsPidFileCannotMakeTheExecutorDumpOrKillAnotherProcess() throws Exception {
        Process bystander = new ProcessBuilder("sleep", "600").start();
        try {
            String lie = "echo " + bystander.pid() + " > ../" + NodeWorkloads.PID_FILE + "; ";
            String moved = nodes.prefix + "liar-moved";
            String killed = nodes.prefix + "liar-killed";
            int movedPid = launch("a", moved, List.of("sh", "-c", lie + COUNTER));
            int killedPid = launch("a", killed, List.of("sh", "-c", lie + COUNTER));
            awaitLines(nodes.workloadDir("a", moved), 10);
            awaitLines(nodes.workloadDir("a", killed), 10);
            assertEquals(String.valueOf(bystander.pid()),
                    Files.readString(nodes.workloadDir("a", killed).resolve(NodeWorkloads.PID_FILE)).strip());

            String mid = nodes.send(CommandKind.MIGRATE, moved, "a", "b", MigrationMode.PLAIN, List.of());
            assertEquals(Phase.COMPLETED, nodes.await(ended(mid), WAIT, "end of " + mid).getPhase(), nodes.eventsSummary());
            // the source kills its frozen tree once the destination's COMMIT answer is in
            org.awaitility.Awaitility.await("the real workload's frozen source released").atMost(WAIT)
                    .until(() -> !ProcessTable.isAlive(movedPid));
            kill("a", killed);
            assertFalse(ProcessTable.isAlive(killedPid), "the real workload was not the one killed");
            assertTrue(bystander.isAlive(), "the executor signalled the process the workload named");
            kill("b", moved);
        } finally {
            bystander.destroyForcibly();
        }
    }

    /** A task stopped by job control before the migration is still stopped after a rollback. */
    @Test
    void aTaskStoppedBeforeARolledBackMigrationStaysStopped() throws Exception {
        String w = nodes.prefix + "stopped";
        launch("a", w, List.of("sh", "-c", "sleep 100000 & echo $! > sleeper.pid; " + COUNTER));
        awaitLines(nodes.workloadDir("a", w), 10);
        int sleeper = hostPidOf(nodes.runningPid("a", w).orElseThrow(),
                Integer.parseInt(Files.readString(nodes.workloadDir("a", w).resolve("work/sleeper.pid")).strip()));
        ProcessTable.signal("STOP", List.of(sleeper));
        org.awaitility.Awaitility.await().atMost(WAIT).until(() -> ProcessTable.state(sleeper) == 'T');

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "bad", MigrationMode.PLAIN, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.ROLLED_BACK, done.getPhase(), nodes.eventsSummary());
        int atRollback = lines(nodes.workloadDir("a", w)).size();
        awaitLines(nodes.workloadDir("a", w), atRollback + 10);
        assertEquals('T', ProcessTable.state(sleeper), "the stopped task was resumed by the rollback");
        kill("a", w);
    }

    /** The host pid of the process that has {@code nsPid} inside the workload's PID namespace. */
    private static int hostPidOf(int initPid, int nsPid) {
        return ProcessTable.namespaceMembers(initPid).stream().filter(p -> ProcessTable.namespacePid(p) == nsPid)
                .findFirst().orElseThrow(() -> new AssertionError("no process " + nsPid + " in the namespace of " + initPid));
    }

    @Test
    void aPinnedWorkloadIsMarkedForTheAgentAndItsMigrationIsRefused() throws Exception {
        String w = nodes.prefix + "pinned";
        MigrationCommand launch = MigrationCommand.newBuilder(
                nodes.command(CommandKind.LAUNCH, w, null, "a", null, List.of("sh", "-c", COUNTER))).setMigratable(false).build();
        nodes.send(launch);
        assertEquals(Phase.LAUNCHED, nodes.await(e -> e.getCommandId().equals(launch.getCommandId()), WAIT, "LAUNCHED").getPhase());
        assertTrue(Files.exists(nodes.workloadDir("a", w).resolve("pinned")), "no pinned marker for the agent");

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "b", MigrationMode.PLAIN, List.of());
        MigrationEvent refused = nodes.await(ended(mid), WAIT, "refusal of " + mid);

        assertEquals(Phase.FAILED, refused.getPhase(), nodes.eventsSummary());
        assertTrue(refused.getError().contains("pinned"), refused.getError());
        assertTrue(nodes.runningPid("a", w).isPresent(), "a refused migration stopped the workload");
        kill("a", w);
    }

    @Test
    void impossibleMovesFailWithTheReason() throws Exception {
        nodes.start("quick", c -> c.set(ExecutorConfig.PREPARE_TIMEOUT_MS, 3_000));
        String w = nodes.prefix + "impossible";
        launch("quick", w, List.of("sh", "-c", COUNTER));

        String unknownWorkload = nodes.send(CommandKind.MIGRATE, nodes.prefix + "no-such-workload", "quick", "b",
                MigrationMode.PLAIN, List.of());
        assertTrue(nodes.await(ended(unknownWorkload), WAIT, "refusal").getError().contains("not running on"));

        String sameNode = nodes.send(CommandKind.MIGRATE, w, "quick", "quick", MigrationMode.PLAIN, List.of());
        MigrationEvent same = nodes.await(ended(sameNode), WAIT, "refusal");
        assertEquals(Phase.FAILED, same.getPhase());
        assertTrue(same.getError().contains("same node"), same.getError());

        String nowhere = nodes.send(CommandKind.MIGRATE, w, "quick", "no-such-node", MigrationMode.PLAIN, List.of());
        MigrationEvent silent = nodes.await(ended(nowhere), WAIT, "refusal");
        assertEquals(Phase.FAILED, silent.getPhase());
        assertTrue(silent.getError().contains("unknown or down"), silent.getError());

        String unknownKill = nodes.send(CommandKind.KILL, nodes.prefix + "no-such-workload", "quick", null, null, List.of());
        assertEquals(Phase.FAILED, nodes.await(e -> e.getCommandId().equals(unknownKill), WAIT, "refusal").getPhase());
        assertTrue(nodes.runningPid("quick", w).isPresent(), "the workload stopped");
        kill("quick", w);
        nodes.stop("quick");
    }

    @Test
    void killWorkloadsOnExitLeavesNothingRunning() throws Exception {
        nodes.start("demo", c -> c.set(ExecutorConfig.KILL_WORKLOADS_ON_EXIT, true));
        String w = nodes.prefix + "demo";
        int pid = launch("demo", w, List.of("sh", "-c", "sleep 600 & " + COUNTER));
        awaitLines(nodes.workloadDir("demo", w), 3);

        nodes.stop("demo");

        assertFalse(io.pmig.executor.workload.ProcessTable.isAlive(pid), "the workload survived its executor");
        assertFalse(Files.exists(nodes.workloadDir("demo", w)), "its directory was left behind");
    }

    // --- helpers -------------------------------------------------------------------------------------------------

    /**
     * A file outside the workload dir, declared on LAUNCH and held open by the workload, crosses with it: the
     * destination writes it back (a new inode at the same path, same bytes) before restoring, and the restored
     * process goes on with it open.
     */
    @Test
    void declaredFilesTravelWithTheWorkload() throws Exception {
        Path declaredDir = Files.createTempDirectory("pmig-declared-");
        Path declared = Files.writeString(declaredDir.resolve("settings.conf"), "threads=4\n");
        Object inodeBefore = Files.getAttribute(declared, "unix:ino");
        String w = nodes.prefix + "declared";
        MigrationCommand launch = MigrationCommand.newBuilder(
                        nodes.command(CommandKind.LAUNCH, w, null, "a", null, List.of("sh", "-c", "exec 3< " + declared + "; " + COUNTER)))
                .setDeclaredFiles(List.of(declared.toString())).build();
        nodes.send(launch);
        assertEquals(Phase.LAUNCHED, nodes.await(e -> e.getCommandId().equals(launch.getCommandId())
                && (e.getPhase() == Phase.LAUNCHED || e.getPhase() == Phase.FAILED || e.getPhase() == Phase.LAUNCH_FAILED), WAIT, "LAUNCHED " + w).getPhase());
        awaitLines(nodes.workloadDir("a", w), 5);

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "b", MigrationMode.PLAIN, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.COMPLETED, done.getPhase(), nodes.eventsSummary());
        assertEquals("threads=4\n", Files.readString(declared));
        assertNotEquals(inodeBefore, Files.getAttribute(declared, "unix:ino"), "the destination wrote the file it received");
        int lines = lines(nodes.workloadDir("b", w)).size();
        awaitLines(nodes.workloadDir("b", w), lines + 5);
        assertConsecutive(lines(nodes.workloadDir("b", w)));
        kill("b", w);
        io.pmig.executor.workload.NodeWorkloads.deleteTree(declaredDir);
    }

    @Test
    void aWorkloadHoldingAFifoAFileInAPrivateDirectoryAndAMappedFileKeepsRunningAfterAPlainMigration() throws Exception {
        // criu checks each open or mapped file's mode, size and mtime at restore, and reopens the FIFO by its path
        String w = nodes.prefix + "fidelity";
        String setup = "mkdir -m 700 private && echo held > private/held && chmod 407 private/held && mkfifo -m 640 fifo"
                + " && cp /bin/sh ./shell && chmod 4500 ./shell && touch -d '2001-02-03 04:05:06.123456789' ./shell"
                + " && exec ./shell -c 'exec 3<>fifo 4<private/held; echo queued >&3; " + COUNTER + "'";
        launch("a", w, List.of("sh", "-c", setup));
        awaitLines(nodes.workloadDir("a", w), 10);

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "b", MigrationMode.PLAIN, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.COMPLETED, done.getPhase(), nodes.eventsSummary());
        Path work = nodes.workloadDir("b", w).resolve("work");
        assertEquals(040700, Files.getAttribute(work.resolve("private"), "unix:mode"));
        assertEquals(0100407, Files.getAttribute(work.resolve("private/held"), "unix:mode"));
        assertEquals(010640, Files.getAttribute(work.resolve("fifo"), "unix:mode", LinkOption.NOFOLLOW_LINKS));
        assertEquals(0104500, Files.getAttribute(work.resolve("shell"), "unix:mode"));
        assertEquals(Instant.parse("2001-02-03T04:05:06.123456789Z"),
                ((FileTime) Files.getAttribute(work.resolve("shell"), "lastModifiedTime")).toInstant());
        int atCompletion = lines(nodes.workloadDir("b", w)).size();
        awaitLines(nodes.workloadDir("b", w), atCompletion + 20);
        assertConsecutive(lines(nodes.workloadDir("b", w)));
        kill("b", w);
    }

    @Test
    void aRelativeDeclaredFileIsRefusedAtLaunch() throws Exception {
        String w = nodes.prefix + "relative";
        MigrationCommand launch = MigrationCommand.newBuilder(
                        nodes.command(CommandKind.LAUNCH, w, null, "a", null, List.of("sleep", "60")))
                .setDeclaredFiles(List.of("../etc/passwd")).build();
        nodes.send(launch);
        MigrationEvent refused = nodes.await(e -> e.getCommandId().equals(launch.getCommandId()), WAIT, "answer to " + w);
        assertEquals(Phase.LAUNCH_FAILED, refused.getPhase());
        assertTrue(refused.getError().contains("must be an absolute path"), refused.getError());
        assertTrue(nodes.runningPid("a", w).isEmpty(), "nothing was started");
    }

    @Test
    void aMetricsPortInUseStopsTheStartNamingTheKeyAndTheAddressAndReleasesTheNode() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            io.pmig.platform.config.ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(
                    io.pmig.platform.config.ConfigException.class, () -> nodes.start("metrics-port",
                            c -> c.set(ExecutorConfig.METRICS_HOST, "127.0.0.1").set(ExecutorConfig.METRICS_PORT, taken.getLocalPort())));
            assertEquals(ExecutorConfig.METRICS_PORT, e.key());
            assertTrue(e.getMessage().contains("127.0.0.1:" + taken.getLocalPort()), e.getMessage());
        }
        nodes.start("metrics-port"); // the failed start left no claim on the node behind
    }

    /** b, the destination, counted the COMPLETED migration once and timed each of its phases once. */
    private static void assertMetricsOfACompletedMigration(Scrape before, Scrape after, MigrationEvent done) {
        String mode = done.getMode().name();
        assertEquals(1, delta(before, after, "pmig_executor_migrations_total", "mode", mode, "outcome", "COMPLETED",
                "side", "destination"), after.find("pmig_executor_migrations_total").toString());
        for (String phase : List.of("freeze", "dump", "transfer", "restore", "downtime", "total")) {
            assertEquals(1, delta(before, after, "pmig_executor_migration_phase_seconds_count", "mode", mode, "phase", phase),
                    phase);
        }
        assertEquals(done.getTimings().getDowntimeMs() / 1000.0, delta(before, after,
                "pmig_executor_migration_phase_seconds_sum", "mode", mode, "phase", "downtime"), 0.0005);
        // the histogram's buckets hold the one downtime: in every bucket at or above it, in none below
        for (var bucket : after.find("pmig_executor_migration_phase_seconds_bucket", "mode", mode, "phase", "downtime")) {
            double le = bucket.labels().get("le").equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(bucket.labels().get("le"));
            double was = before.value(bucket.name(), "mode", mode, "phase", "downtime", "le", bucket.labels().get("le"));
            double added = bucket.value() - (Double.isNaN(was) ? 0 : was);
            assertEquals(le * 1000 >= done.getTimings().getDowntimeMs() ? 1 : 0, added, "bucket le=" + bucket.labels().get("le"));
        }
        assertEquals(1, delta(before, after, "pmig_executor_events_total", "phase", "COMPLETED"));
        assertTrue(after.value("pmig_executor_workloads", "node", nodes.prefix + "b", "role", "executor") >= 1);
        assertTrue(after.value("kafka_producer_record_send_total", "node", nodes.prefix + "b") >= 2, "events producer");
        assertTrue(after.value("kafka_consumer_fetch_manager_records_consumed_total", "node", nodes.prefix + "b") >= 1,
                "commands consumer: " + after.find("kafka_consumer_fetch_manager_records_consumed_total"));
    }

    /** How much a series grew between two scrapes (an absent series counts as 0). */
    private static double delta(Scrape before, Scrape after, String name, String... labels) {
        double was = before.value(name, labels);
        double is = after.value(name, labels);
        return (Double.isNaN(is) ? 0 : is) - (Double.isNaN(was) ? 0 : was);
    }

    private static int launch(String node, String w, List<String> argv) throws Exception {
        String id = nodes.send(CommandKind.LAUNCH, w, null, node, null, argv);
        MigrationEvent launched = nodes.await(e -> e.getCommandId().equals(id)
                && (e.getPhase() == Phase.LAUNCHED || e.getPhase() == Phase.FAILED || e.getPhase() == Phase.LAUNCH_FAILED), WAIT, "LAUNCHED " + w);
        assertEquals(Phase.LAUNCHED, launched.getPhase(), launched.toString());
        return launched.getPid();
    }

    private static void kill(String node, String w) throws Exception {
        String id = nodes.send(CommandKind.KILL, w, node, null, null, List.of());
        MigrationEvent killed = nodes.await(e -> e.getCommandId().equals(id), WAIT, "KILLED " + w);
        assertEquals(Phase.KILLED, killed.getPhase(), killed.toString());
        assertFalse(Files.exists(nodes.workloadDir(node, w)), "workload dir left after KILL");
    }

    /** The migrations a node has not finished (their journals). */
    private static List<Path> journals(String node) throws IOException {
        Path dir = nodes.workdir(node).resolve("migrations");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (var journals = Files.list(dir)) {
            return journals.toList();
        }
    }

    /** The source deletes its copy right after the destination's COMPLETED. */
    private static void awaitGone(Path dir) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (Files.exists(dir)) {
            assertTrue(System.nanoTime() < deadline, dir + " was never deleted");
            Thread.sleep(20);
        }
    }

    private static List<String> lines(Path workloadDir) throws IOException {
        Path file = workloadDir.resolve("work").resolve("counter.txt");
        if (!Files.exists(file)) {
            return List.of();
        }
        List<String> lines = Files.readAllLines(file);
        // the writer may be mid-line
        return lines.isEmpty() || Files.readString(file).endsWith("\n") ? lines : lines.subList(0, lines.size() - 1);
    }

    private static void awaitLines(Path workloadDir, int count) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (lines(workloadDir).size() < count) {
            assertTrue(System.nanoTime() < deadline, "workload in " + workloadDir + " did not reach " + count
                    + " lines, has " + lines(workloadDir).size());
            Thread.sleep(50);
        }
    }

    private static void assertConsecutive(List<String> lines) {
        for (int i = 0; i < lines.size(); i++) {
            assertEquals(String.valueOf(i + 1), lines.get(i).strip(), "line " + (i + 1) + " of " + lines.size());
        }
    }

    /** A line echo server on loopback that counts the connections it accepted. */
    static final class EchoServer implements AutoCloseable {
        private final ServerSocket socket = new ServerSocket(0, 5, InetAddress.getLoopbackAddress());
        private final AtomicInteger accepted = new AtomicInteger();

        EchoServer() throws IOException {
            Thread t = new Thread(() -> {
                while (!socket.isClosed()) {
                    try {
                        Socket s = socket.accept();
                        accepted.incrementAndGet();
                        Thread c = new Thread(() -> echo(s), "echo");
                        c.setDaemon(true);
                        c.start();
                    } catch (IOException e) {
                        return;
                    }
                }
            }, "echo-accept");
            t.setDaemon(true);
            t.start();
        }

        private static void echo(Socket s) {
            try (s; BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                 PrintWriter out = new PrintWriter(s.getOutputStream(), true, StandardCharsets.UTF_8)) {
                String line;
                while ((line = in.readLine()) != null) {
                    out.println(line);
                }
            } catch (IOException ignored) {
                // peer gone
            }
        }

        int port() {
            return socket.getLocalPort();
        }

        int accepted() {
            return accepted.get();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /** Forwards connections to a target and cuts each one after {@code cutAfter} bytes from the client. */
    static final class CuttingProxy implements AutoCloseable {
        private final ServerSocket socket = new ServerSocket(0, 5, InetAddress.getLoopbackAddress());
        private final AtomicInteger cuts = new AtomicInteger();

        CuttingProxy(InetSocketAddress target, long cutAfter) throws IOException {
            Thread t = new Thread(() -> {
                while (!socket.isClosed()) {
                    try {
                        Socket client = socket.accept();
                        Socket server = new Socket(target.getAddress(), target.getPort());
                        Thread back = new Thread(() -> pump(server, client, Long.MAX_VALUE), "proxy-back");
                        back.setDaemon(true);
                        back.start();
                        Thread forth = new Thread(() -> {
                            if (pump(client, server, cutAfter)) {
                                cuts.incrementAndGet();
                            }
                            closeQuietly(client);
                            closeQuietly(server);
                        }, "proxy-forth");
                        forth.setDaemon(true);
                        forth.start();
                    } catch (IOException e) {
                        return;
                    }
                }
            }, "proxy-accept");
            t.setDaemon(true);
            t.start();
        }

        /** Copies until EOF or the limit; true if it stopped because of the limit. */
        private static boolean pump(Socket from, Socket to, long limit) {
            byte[] buf = new byte[4096];
            long total = 0;
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                int n;
                while ((n = in.read(buf, 0, (int) Math.min(buf.length, Math.max(1, limit - total)))) > 0) {
                    out.write(buf, 0, n);
                    total += n;
                    if (total >= limit) {
                        return true;
                    }
                }
            } catch (IOException ignored) {
                // either side closed
            }
            return false;
        }

        private static void closeQuietly(Socket s) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }

        InetSocketAddress address() {
            return new InetSocketAddress(InetAddress.getLoopbackAddress(), socket.getLocalPort());
        }

        int cuts() {
            return cuts.get();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
