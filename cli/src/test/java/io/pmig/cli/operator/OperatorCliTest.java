package io.pmig.cli.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.cli.Pmig;
import io.pmig.cli.demo.CriuLocator;
import io.pmig.cli.demo.LocalCluster;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationCommand;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/** The operator's commands against a running local cluster (real broker, executors, agents; analytics in dry run). */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class OperatorCliTest {

    private static LocalCluster cluster;

    @BeforeAll
    static void startCluster() throws Exception {
        cluster = LocalCluster.start(CriuLocator.locate(), List.of(
                        new LocalCluster.NodeSpec("op-a", 1, 1L << 30), new LocalCluster.NodeSpec("op-b", 1, 1L << 30)),
                AnalyticsConfig.of(Map.of(AnalyticsConfig.DRY_RUN, true, AnalyticsConfig.APPLICATION_ID, "pmig-analytics-opcli")), -1);
    }

    @AfterAll
    static void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    private record Run(int status, String out, String err) {
    }

    private static synchronized Run pmig(String... args) {
        PrintStream original = System.out;
        PrintStream originalErr = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        ByteArrayOutputStream capturedErr = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(capturedErr, true, StandardCharsets.UTF_8));
        try {
            String[] full = new String[args.length + 1];
            full[0] = args[0];
            full[1] = "--bootstrap-server=" + cluster.bootstrapServers();
            System.arraycopy(args, 1, full, 2, args.length - 1);
            int status = Pmig.run(full);
            return new Run(status, captured.toString(StandardCharsets.UTF_8), capturedErr.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(original);
            System.setErr(originalErr);
            originalErr.print(capturedErr.toString(StandardCharsets.UTF_8));
        }
    }

    /** Every command ever produced about the workload. */
    private static List<MigrationCommand> commandsAbout(String workloadId) {
        Properties props = KafkaClientOptions.of(cluster.bootstrapServers()).clientProperties();
        try (var consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                Topic.COMMANDS.<MigrationCommand>serde().deserializer())) {
            List<TopicPartition> parts = consumer.partitionsFor(Topic.COMMANDS.topicName()).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            Map<TopicPartition, Long> end = consumer.endOffsets(parts);
            List<MigrationCommand> found = new ArrayList<>();
            while (parts.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> {
                    if (r.value() != null && r.value().getWorkloadId().equals(workloadId)) {
                        found.add(r.value());
                    }
                });
            }
            return found;
        }
    }

    @Test
    @Order(1)
    void launchStartsAWorkloadAndWaitsForLaunched() {
        Run run = pmig("launch", "--node", "op-a", "--id", "w-cli", "--", "sh", "-c", "while :; do sleep 0.1; done");
        assertEquals(0, run.status(), run.out());
        assertTrue(run.out().contains("LAUNCHED") && run.out().contains("w-cli on op-a"), run.out());
    }

    @Test
    @Order(2)
    void launchDeclaresFilesThatMoveWithTheWorkloadAndRefusesARelativeOne() throws Exception {
        java.nio.file.Path file = java.nio.file.Files.createTempFile("pmig-declared", ".txt");
        try {
            Run run = pmig("launch", "--node", "op-a", "--id", "w-declared", "--file", file.toString(), "--",
                    "sh", "-c", "while :; do sleep 0.1; done");
            assertEquals(0, run.status(), run.out() + run.err());
            assertEquals(List.of(file.toString()), commandsAbout("w-declared").get(0).getDeclaredFiles().stream()
                    .map(CharSequence::toString).toList());
            assertEquals(0, pmig("kill", "w-declared").status());

            Run relative = pmig("launch", "--node", "op-a", "--id", "w-relative", "--file", "data/x", "--", "sleep", "60");
            assertEquals(2, relative.status(), relative.out() + relative.err());
            assertTrue(relative.err().contains("--file") && relative.err().contains("data/x"), relative.err());
            assertTrue(commandsAbout("w-relative").isEmpty(), "a refused launch produces no command");
        } finally {
            java.nio.file.Files.deleteIfExists(file);
        }
    }

    @Test
    @Order(2)
    void launchingAnIdThatRunsOnAnotherNodeIsRefused() {
        Run run = pmig("launch", "--node", "op-b", "--id", "w-cli", "--", "sh", "-c", "while :; do sleep 0.1; done");
        assertTrue(run.status() != 0, run.out());
        assertTrue(run.out().contains("LAUNCH_FAILED") && run.out().contains("already runs on op-a"), run.out());
        assertEquals(List.of("op-a"), cluster.nodesRunning("w-cli"), "the running one is untouched, no second copy");
    }

    @Test
    @Order(2)
    void launchingAProgramThatDoesNotExistIsLaunchFailedNotLaunched() {
        Run run = pmig("launch", "--node", "op-a", "--id", "w-nobin", "--", "/no/such/binary");
        assertEquals(1, run.status(), run.out());
        assertTrue(run.out().contains("LAUNCH_FAILED") && run.out().contains("/no/such/binary: no such file"), run.out());
        assertTrue(!run.out().contains("LAUNCHED "), run.out());
        assertTrue(cluster.nodesRunning("w-nobin").isEmpty());
    }

    @Test
    @Order(2)
    void aLostWorkloadIsShownLostUntilForgotten() {
        // what an executor publishes when a migration loses a workload (see SourceMigration)
        EventPublishing.publish(KafkaClientOptions.of(cluster.bootstrapServers()).clientProperties(),
                io.pmig.schemas.MigrationEvent.newBuilder().setCommandId("migrate-ghost").setMigrationId("migrate-ghost")
                        .setWorkloadId("w-ghost").setNode("op-a").setPhase(io.pmig.schemas.Phase.LAUNCHED)
                        .setTimestampMs(System.currentTimeMillis()).build());
        EventPublishing.publish(KafkaClientOptions.of(cluster.bootstrapServers()).clientProperties(),
                io.pmig.schemas.MigrationEvent.newBuilder().setCommandId("migrate-ghost").setMigrationId("migrate-ghost")
                        .setWorkloadId("w-ghost").setNode("op-a").setPhase(io.pmig.schemas.Phase.FAILED)
                        .setError("workload lost: test; rollback failed: test").setTimestampMs(System.currentTimeMillis()).build());

        Run ps = pmig("ps");
        assertTrue(ps.out().lines().anyMatch(l -> l.startsWith("w-ghost") && l.contains("LOST: workload lost: test")), ps.out());
        Run relaunch = pmig("launch", "--node", "op-b", "--id", "w-ghost", "--", "sleep", "60");
        assertTrue(relaunch.status() != 0 && relaunch.out().contains("pmig forget w-ghost"), relaunch.out());

        Run forget = pmig("forget", "w-ghost");
        assertEquals(0, forget.status(), forget.err());
        assertTrue(pmig("ps").out().lines().noneMatch(l -> l.startsWith("w-ghost")));
        assertEquals(2, pmig("forget", "w-cli").status(), "a running workload is not forgotten");
    }

    @Test
    @Order(2)
    void nodesAndPsShowTheCluster() throws InterruptedException {
        Run nodes = pmig("nodes");
        assertEquals(0, nodes.status());
        assertTrue(nodes.out().contains("op-a") && nodes.out().contains("op-b") && nodes.out().contains("SIMULATED"), nodes.out());
        Run ps = null;
        for (int i = 0; i < 30; i++) { // the agent reports the new workload with its next sample
            ps = pmig("ps");
            if (ps.out().lines().anyMatch(l -> l.startsWith("w-cli") && l.contains("op-a") && !l.contains("not in recent"))) {
                break;
            }
            Thread.sleep(500);
        }
        assertTrue(ps.out().lines().anyMatch(l -> l.startsWith("w-cli") && l.contains("op-a")), ps.out());
    }

    @Test
    @Order(3)
    void migrateShowsPhasesUntilCompleted() {
        Run run = pmig("migrate", "w-cli", "--to", "op-b", "--mode", "PLAIN");
        assertEquals(0, run.status(), run.out());
        for (String phase : List.of("ACCEPTED", "PREPARED", "DUMPED", "TRANSFERRED", "RESTORED", "COMPLETED")) {
            assertTrue(run.out().contains(phase), phase + " shown:\n" + run.out());
        }
        assertEquals(List.of("op-b"), cluster.nodesRunning("w-cli"));
    }

    @Test
    @Order(4)
    void migrateToAnUnknownNodeIsRefusedFromTheNodeRegistryAndProducesNoCommand() {
        int before = commandsAbout("w-cli").size();
        Run run = pmig("migrate", "w-cli", "--to", "op-nowhere", "--timeout-s", "90");
        assertTrue(run.status() != 0, run.out());
        assertTrue(run.err().contains("unknown node op-nowhere (known: ") && run.err().contains("op-a")
                && run.err().contains("op-b"), run.err());
        assertEquals(before, commandsAbout("w-cli").size(), "no MIGRATE produced");
        assertEquals(List.of("op-b"), cluster.nodesRunning("w-cli"), "the workload stays where it was");
    }

    @Test
    @Order(4)
    void launchOnAnUnknownNodeIsRefusedFromTheNodeRegistryAndProducesNoCommand() {
        Run run = pmig("launch", "--node", "zz", "--id", "w-nowhere", "--", "sleep", "60");
        assertTrue(run.status() != 0, run.out());
        assertTrue(run.err().contains("unknown node zz (known: "), run.err());
        assertEquals(List.of(), commandsAbout("w-nowhere"), "no LAUNCH produced");
    }

    @Test
    @Order(5)
    void eventsListTheWorkloadsHistory() {
        Run run = pmig("events", "--workload", "w-cli");
        assertEquals(0, run.status());
        assertTrue(run.out().contains("LAUNCHED") && run.out().contains("COMPLETED"), run.out());
    }

    @Test
    @Order(6)
    void killStopsTheWorkload() {
        Run run = pmig("kill", "w-cli");
        assertEquals(0, run.status(), run.out());
        assertTrue(run.out().contains("KILLED"), run.out());
        assertTrue(cluster.nodesRunning("w-cli").isEmpty());
    }

    @Test
    @Order(7)
    void faultKillCrashesTheWorkloadBehindTheExecutorsBackAndTheExecutorReportsItExited() throws InterruptedException {
        assertEquals(0, pmig("launch", "--node", "op-a", "--id", "w-crash", "--", "sh", "-c", "while :; do sleep 0.1; done").status());
        Run kill = null;
        for (int i = 0; i < 30; i++) { // fault kill finds the workload's pid in the agent's samples
            kill = pmig("fault", "kill", "--node", "op-a", "--workload", "w-crash");
            if (kill.status() == 0) {
                break;
            }
            Thread.sleep(500);
        }
        assertEquals(0, kill.status(), kill.out());
        assertTrue(kill.out().contains("killed pid"), kill.out());
        Run events = null;
        for (int i = 0; i < 30; i++) {
            events = pmig("events", "--workload", "w-crash");
            if (events.out().contains("EXITED")) {
                break;
            }
            Thread.sleep(500);
        }
        assertTrue(events.out().contains("EXITED"), events.out());
        assertTrue(cluster.nodesRunning("w-crash").isEmpty());
    }
}
