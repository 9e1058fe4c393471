package io.pmig.executor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.node.NodeExecutor;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Node death for real: node a checkpoints its workload to peer b every second; a's executor is closed and the
 * workload's init SIGKILLed; b restores the last checkpoint when told a is down, and a restarted a does not run its
 * old copy again.
 */
class NodeDeathRecoveryTest {

    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final Pattern TAKEN_AT = Pattern.compile("takenAtMs=(\\d+)");
    private TestNodes nodes;
    private NodeExecutor peer;

    private java.util.Set<String> lockTablesBefore;

    @BeforeEach
    void startNodes() throws Exception {
        lockTablesBefore = TestNodes.criuLockTables();
        nodes = new TestNodes();
        peer = nodes.start("b");
        nodes.start("a", config -> config.set(ExecutorConfig.CHECKPOINT_INTERVAL_MS, 1_000)
                .set(ExecutorConfig.CHECKPOINT_PEER, peer.transferAddress()));
    }

    @AfterEach
    void stopNodes() throws Exception {
        nodes.close();
        TestNodes.assertNoLockTableLeftSince(lockTablesBefore);
    }

    @Test
    void aDeadNodesWorkloadIsRestoredFromItsLastCheckpointOnThePeerAndRunsOnce() throws Exception {
        String w = nodes.prefix + "counter";
        // the marker makes this workload's shell findable in the process table
        String counter = ": " + w + "; i=0; while :; do i=$((i+1)); echo $i >> counter.txt; sleep 0.05; done";
        String launchId = nodes.send(CommandKind.LAUNCH, w, null, "a", null, List.of("sh", "-c", counter));
        MigrationEvent launched = nodes.await(e -> e.getCommandId().equals(launchId), WAIT, "LAUNCHED " + w);
        assertEquals(Phase.LAUNCHED, launched.getPhase(), launched.toString());
        int pidOnA = launched.getPid();

        MigrationEvent checkpointed = nodes.await(e -> e.getPhase() == Phase.CHECKPOINTED && e.getWorkloadId().equals(w)
                && e.getNode().equals(nodes.node("b")), WAIT, "CHECKPOINTED " + w + " at b");
        assertEquals(nodes.node("a"), checkpointed.getSourceNode());
        assertTrue(checkpointed.getTimings().getFreezeMs() > 0, checkpointed.getTimings().toString());
        assertTrue(shellsRunning(w) == 1, "the workload must run once before the node dies");

        // node a dies: its executor stops (workloads are not killed on exit) and then its workload is SIGKILLed
        nodes.stop("a");
        ProcessTable.signal("KILL", List.of(pidOnA));
        while (ProcessTable.isAlive(pidOnA)) {
            Thread.sleep(20);
        }
        int countedOnA = lines(nodes.workloadDir("a", w)).size();
        publishNodeDown(nodes.node("a"));

        MigrationEvent recovered = nodes.await(e -> e.getPhase() == Phase.RECOVERED && e.getWorkloadId().equals(w),
                WAIT, "RECOVERED " + w);
        assertEquals(nodes.node("b"), recovered.getNode());
        assertEquals(nodes.node("a"), recovered.getSourceNode());
        int pidOnB = nodes.runningPid("b", w).orElseThrow(() -> new AssertionError("not running on b"));
        assertEquals(pidOnB, recovered.getPid());
        // the progress lost is reported: how old the restored state is, and how long before the death it was taken
        assertTrue(recovered.getDetail().startsWith("restored from checkpoint taken "), recovered.getDetail());
        assertTrue(recovered.getDetail().contains(" ms before the node went down"), recovered.getDetail());
        long takenAt = takenAt(recovered);
        assertTrue(nodes.all(e -> e.getPhase() == Phase.CHECKPOINTED && e.getWorkloadId().equals(w))
                .stream().anyMatch(e -> takenAt(e) == takenAt), "RECOVERED names a checkpoint b announced");
        PhaseTimings timings = recovered.getTimings();
        assertTrue(timings.getDowntimeMs() >= recovered.getTimestampMs() - takenAt - 1000 && timings.getDowntimeMs() > 0,
                timings.toString());

        // the restored counter goes on from the checkpoint's state: its file (as checkpointed) and its memory agree,
        // and it counts past what a had counted (the numbers a counted after the checkpoint are counted again)
        awaitLines(nodes.workloadDir("b", w), countedOnA + 20);
        List<String> onB = lines(nodes.workloadDir("b", w));
        assertConsecutive(onB);
        assertEquals(1, shellsRunning(w), "the workload runs exactly once");

        // a comes back: it must not run (or report) its old copy, which b's recovery superseded
        nodes.start("a");
        assertFalse(Files.exists(nodes.workloadDir("a", w)), "a kept its superseded copy");
        assertTrue(nodes.runningPid("b", w).isPresent(), "b's recovered copy must keep running");
        int before = lines(nodes.workloadDir("b", w)).size();
        awaitLines(nodes.workloadDir("b", w), before + 10);
        assertConsecutive(lines(nodes.workloadDir("b", w)));
        assertEquals(1, shellsRunning(w), "the workload runs exactly once after a returned");
        assertEquals(1, nodes.all(e -> e.getPhase() == Phase.RECOVERED && e.getWorkloadId().equals(w)).size(),
                "recovered once: " + nodes.eventsSummary());
        assertTrue(nodes.all(e -> e.getPhase() == Phase.EXITED && e.getWorkloadId().equals(w)).isEmpty(),
                "the superseded copy was reported: " + nodes.eventsSummary());
    }

    @Test
    void aCopyThatSurvivedOnTheDeclaredDeadNodeIsKilledWhenItsExecutorReturns() throws Exception {
        String w = nodes.prefix + "survivor";
        String counter = ": " + w + "; i=0; while :; do i=$((i+1)); echo $i >> counter.txt; sleep 0.05; done";
        String launchId = nodes.send(CommandKind.LAUNCH, w, null, "a", null, List.of("sh", "-c", counter));
        int pidOnA = nodes.await(e -> e.getCommandId().equals(launchId), WAIT, "LAUNCHED " + w).getPid();
        nodes.await(e -> e.getPhase() == Phase.CHECKPOINTED && e.getWorkloadId().equals(w), WAIT, "CHECKPOINTED " + w);

        // only a's executor stops - as if a were cut off: its workload goes on, unseen by analytics
        nodes.stop("a");
        publishNodeDown(nodes.node("a"));
        nodes.await(e -> e.getPhase() == Phase.RECOVERED && e.getWorkloadId().equals(w), WAIT, "RECOVERED " + w);
        assertTrue(nodes.runningPid("b", w).isPresent(), "not recovered on b");
        // no fencing: until a's executor is back both copies run (documented in CRIU-NOTES.md)
        assertEquals(2, shellsRunning(w), "split brain while a is cut off");

        nodes.start("a");
        assertFalse(ProcessTable.isAlive(pidOnA), "a's superseded copy still runs");
        assertFalse(Files.exists(nodes.workloadDir("a", w)), "a kept its superseded copy");
        assertEquals(1, shellsRunning(w), "the recovered copy won: " + nodes.eventsSummary());
        int before = lines(nodes.workloadDir("b", w)).size();
        awaitLines(nodes.workloadDir("b", w), before + 10);
        assertConsecutive(lines(nodes.workloadDir("b", w)));
    }

    @Test
    void aNodeReportedDownWhoseExecutorIsAliveKeepsItsWorkloadAndLaterDeathIsStillRecovered() throws Exception {
        String w = nodes.prefix + "alive";
        String counter = ": " + w + "; i=0; while :; do i=$((i+1)); echo $i >> counter.txt; sleep 0.05; done";
        String launchId = nodes.send(CommandKind.LAUNCH, w, null, "a", null, List.of("sh", "-c", counter));
        int pidOnA = nodes.await(e -> e.getCommandId().equals(launchId), WAIT, "LAUNCHED " + w).getPid();
        nodes.await(e -> e.getPhase() == Phase.CHECKPOINTED && e.getWorkloadId().equals(w), WAIT, "CHECKPOINTED " + w);

        // what analytics publishes when a's metrics stop while a runs: a dead agent, or analytics behind its input
        double declinedBefore = declined();
        publishNodeDown(nodes.node("a"));
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (declined() <= declinedBefore) {
            assertTrue(System.nanoTime() < deadline, "b never judged the report: " + nodes.eventsSummary());
            Thread.sleep(20);
        }
        assertTrue(nodes.all(e -> e.getPhase() == Phase.RECOVERED && e.getWorkloadId().equals(w)).isEmpty(),
                "a live node's workload was restored elsewhere: " + nodes.eventsSummary());
        assertTrue(ProcessTable.isAlive(pidOnA), "a's workload was stopped");
        assertEquals(1, shellsRunning(w), "the workload runs once, on a");

        // the checkpoints held for a were kept: when a does die, its workload is restored
        nodes.stop("a");
        ProcessTable.signal("KILL", List.of(pidOnA));
        publishNodeDown(nodes.node("a"));
        nodes.await(e -> e.getPhase() == Phase.RECOVERED && e.getWorkloadId().equals(w), WAIT, "RECOVERED " + w);
        assertTrue(nodes.runningPid("b", w).isPresent(), "not recovered on b");
    }

    /** NODE_DOWN reports b did not act on because the node's executor was alive. */
    private double declined() {
        var counter = peer.meters().registry().find("pmig.executor.recoveries.declined").counter();
        return counter == null ? 0 : counter.count();
    }

    /** Stands in for analytics, which publishes this when a node's metrics stop for analytics.node.down.after.ms. */
    private static void publishNodeDown(String node) throws Exception {
        long now = System.currentTimeMillis();
        String id = "node-down-" + node + "-" + now;
        MigrationEvent down = MigrationEvent.newBuilder().setCommandId(id).setMigrationId(id).setWorkloadId("")
                .setNode(node).setPhase(Phase.NODE_DOWN).setTimings(PhaseTimings.newBuilder().build())
                .setTimestampMs(now).build();
        try (KafkaProducer<String, MigrationEvent> producer = new KafkaProducer<>(SharedBroker.clientProperties(),
                new StringSerializer(), Topic.EVENTS.<MigrationEvent>serde().serializer())) {
            producer.send(new ProducerRecord<>(Topic.EVENTS.topicName(), node, down)).get();
        }
    }

    private static long takenAt(MigrationEvent e) {
        Matcher m = TAKEN_AT.matcher(e.getDetail());
        assertTrue(m.find(), "no takenAtMs in " + e);
        return Long.parseLong(m.group(1));
    }

    /**
     * Live shells running this workload's script, on any node, not counting a shell's own child that has forked but
     * not yet exec'd {@code sleep} (pmig-init's argv names the script too, but not as argv[2] of an "sh").
     */
    private static long shellsRunning(String marker) throws IOException {
        java.util.Map<Integer, Integer> parentOf = new java.util.HashMap<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).toList()) {
                try {
                    String[] argv = Files.readString(p.resolve("cmdline")).split("\0");
                    int pid = Integer.parseInt(p.getFileName().toString());
                    if (argv.length >= 3 && argv[0].equals("sh") && argv[2].contains(marker) && ProcessTable.isAlive(pid)) {
                        String stat = Files.readString(p.resolve("stat"));
                        parentOf.put(pid, Integer.parseInt(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[1]));
                    }
                } catch (IOException | RuntimeException e) {
                    // exited meanwhile
                }
            }
        }
        return parentOf.values().stream().filter(parent -> !parentOf.containsKey(parent)).count();
    }

    private static List<String> lines(Path workloadDir) throws IOException {
        Path file = workloadDir.resolve("work").resolve("counter.txt");
        if (!Files.exists(file)) {
            return List.of();
        }
        List<String> lines = Files.readAllLines(file);
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
}
