package io.pmig.analytics;

import static io.pmig.analytics.Samples.MIB;
import static io.pmig.analytics.Samples.sample;
import static io.pmig.analytics.Samples.workload;
import static io.pmig.analytics.TopologyHarness.T0;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.decisions.DecisionProcessor;
import io.pmig.analytics.features.WindowFeatures;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.DeadLetter;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.NodeMetrics;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.NodeState;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import io.pmig.schemas.SamplingMode;
import io.pmig.schemas.Trigger;
import io.pmig.schemas.features.FeatureLayout;
import io.pmig.schemas.serde.AvroSerde;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongFunction;
import java.util.stream.Collectors;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.Test;

/**
 * The app's own topology ({@link AnalyticsTopology#buildTopology}) under TopologyTestDriver. With the
 * default 10 s windows hopping by 1 s and 0.1 s grace, the first window [T0, T0+10 s) closes at step 11 and
 * one more closes per step, so a node overloaded from the start completes K=3 windows at step 13.
 */
class AnalyticsTopologyTest {

    /** Hysteresis of three windows (the default is one, see {@link AnalyticsConfig}), to see it hold decisions back. */
    private static final Map<String, String> K3 = Map.of(AnalyticsConfig.HYSTERESIS_WINDOWS, "3");

    /** Steps after which a node overloaded from T0 has completed exactly k windows. */
    private static int stepsForWindows(int k) {
        return 11 + k;
    }

    /** n1 is overloaded; n2 is busy (no room for the big workload); n3 is nearly idle. */
    private static NodeMetrics[] cluster(long t) {
        return new NodeMetrics[] {
                sample("n1", t, 95, 0.30,
                        workload("w-big", 150, 512 * MIB, true),
                        workload("w-small", 20, 64 * MIB, true),
                        workload("w-pinned", 100, 256 * MIB, false)),
                sample("n2", t, 60, 0.30),
                sample("n3", t, 20, 0.30),
        };
    }

    @Test
    void overloadedNodeForKWindowsGetsExactlyOneMigrateOfTheBestWorkloadToTheLeastLoadedNodeWithRoom() {
        try (TopologyHarness harness = new TopologyHarness(K3)) {
            harness.run(stepsForWindows(3), AnalyticsTopologyTest::clusterAt);
            List<MigrationCommand> commands = harness.commands();
            assertEquals(1, commands.size(), "one command once K windows are overloaded");
            MigrationCommand command = commands.get(0);
            long decidingWindowEnd = T0 + 12_000;
            assertEquals(DecisionProcessor.commandId("w-big", "n1", decidingWindowEnd), command.getCommandId().toString());
            assertEquals(CommandKind.MIGRATE, command.getKind());
            assertEquals("w-big", command.getWorkloadId().toString(), "the move that relieves n1 most");
            assertEquals("n1", command.getSourceNode().toString());
            assertEquals("n3", command.getDestinationNode().toString(), "n2 has no room for 1.5 cores");
            assertEquals(MigrationMode.PAGE_SERVER, command.getMode(), "AUTO: 512 MiB streams to a page server");
            assertEquals("analytics", command.getIssuedBy().toString());
            assertEquals(decidingWindowEnd, command.getIssuedAtMs());
            assertEquals(1.5, command.getCpuRequest(), 1e-9);
            assertEquals(512 * MIB, command.getMemRequestBytes());
            assertEquals(Trigger.THRESHOLD, command.getReason().getTrigger());
            assertNull(command.getReason().getModelVersion());
            assertTrue(command.getReason().getScore() >= 0.5);
            assertEquals(WindowFeatures.NAMES.size(), command.getReason().getFeatures().size());
            assertEquals(95.0, command.getReason().getFeatures().get("cpu_p95"), 1e-9);

            harness.run(20, AnalyticsTopologyTest::clusterAt);
            assertEquals(1, harness.commands().size(), "still overloaded, but the move is in flight and n1 cools down");
        }
    }

    @Test
    void scoresOnTheTopicCarryTheWindowFeaturesByPosition() {
        try (TopologyHarness harness = new TopologyHarness(K3)) {
            var raw = harness.driver.createOutputTopic(Topic.SCORES.topicName(), new StringDeserializer(), new ByteArrayDeserializer());
            harness.run(stepsForWindows(3), AnalyticsTopologyTest::clusterAt);
            List<byte[]> scores = raw.readValuesToList();
            assertTrue(scores.size() >= 9, scores.size() + " scores");
            for (byte[] bytes : scores) {
                NodeScore score = AvroSerde.of(NodeScore.class).decode(bytes);
                assertEquals(FeatureLayout.V1.version(), score.getFeatureLayout());
                assertTrue(score.getFeatures().isEmpty(), "no names on the wire");
                assertEquals(WindowFeatures.NAMES, List.copyOf(FeatureLayout.byName(score).keySet()));
                assertTrue(bytes.length < 250, bytes.length + " bytes"); // 22 names and values took about 600
            }
        }
    }

    @Test
    void kMinusOneOverloadedWindowsIssueNothing() {
        try (TopologyHarness harness = new TopologyHarness(K3)) {
            harness.run(stepsForWindows(2), AnalyticsTopologyTest::clusterAt);
            List<NodeScore> n1Scores = harness.scores.readValuesToList().stream()
                    .filter(score -> score.getNodeId().toString().equals("n1")).toList();
            assertEquals(2, n1Scores.size());
            assertTrue(n1Scores.stream().allMatch(score -> score.getState() == NodeState.OVERLOADED));
            assertTrue(harness.commands().isEmpty());
        }
    }

    @Test
    void byDefaultTheFirstOverloadedWindowDecides() {
        long onset = T0 + 15_000;
        try (TopologyHarness harness = new TopologyHarness(Map.of())) {
            // n1 calm, then overloaded from the onset: the window [T0+6 s, T0+16 s) is the first to hold it, and
            // closes once n1's time passes its end plus the grace, in the step at T0+17 s. The planner sizes the relief 5 s
            // along the jump (CPU capped at 100 %: 0.6 cores) and w-big's the same way, by its latest CPU (1.5 cores):
            // its mean over the window (nine of its ten seconds from before the jump) fell short of it.
            harness.run(18, t -> {
                NodeMetrics[] cluster = cluster(t);
                if (t < onset) {
                    cluster[0] = sample("n1", t, 30, 0.30, workload("w-big", 50, 512 * MIB, true));
                }
                return cluster;
            });
            List<MigrationCommand> commands = harness.commands();
            assertEquals(1, commands.size());
            assertEquals(DecisionProcessor.commandId("w-big", "n1", onset + 1_000), commands.get(0).getCommandId().toString());
            harness.run(20, AnalyticsTopologyTest::clusterAt);
            assertEquals(1, harness.commands().size(), "the cooldowns, not the hysteresis, hold back a second move");
        }
    }

    @Test
    void nodeCooldownDelaysTheNextMoveOffTheSameNodeAndAMovedWorkloadIsNotMovedAgain() {
        try (TopologyHarness harness = new TopologyHarness(Map.of())) {
            harness.run(stepsForWindows(3), AnalyticsTopologyTest::clusterAt);
            MigrationCommand first = harness.commands().get(0);
            harness.publishEvent(event(first, Phase.COMPLETED));
            // w-big now runs on n3; n1 stays overloaded with what is left.
            harness.run(40, t -> new NodeMetrics[] {
                    // w-small now uses half a core: enough to relieve n1's 10 % (0.4 cores) over the threshold.
                    sample("n1", t, 95, 0.30, workload("w-small", 50, 64 * MIB, true), workload("w-pinned", 100, 256 * MIB, false)),
                    sample("n2", t, 60, 0.30),
                    sample("n3", t, 58, 0.35, workload("w-big", 150, 512 * MIB, true)),
            });
            List<MigrationCommand> commands = harness.commands();
            assertEquals(2, commands.size());
            MigrationCommand second = commands.get(1);
            assertEquals("w-small", second.getWorkloadId().toString());
            assertEquals("n1", second.getSourceNode().toString());
            assertEquals(first.getIssuedAtMs() + AnalyticsConfig.defaults().nodeCooldownMs(), second.getIssuedAtMs(),
                    "n1 is a source again exactly when its node cooldown ends");
            // What the cooldown is for: the next move off n1 is decided on a window (it ends at the command's issue time)
            // that started after the first move completed, so its figures hold the move, not the load before it.
            long completedAt = first.getIssuedAtMs() + 2_000;
            assertTrue(second.getIssuedAtMs() - AnalyticsConfig.defaults().windowSizeMs() >= completedAt,
                    "decided on the window ending at " + second.getIssuedAtMs() + ", the first move completed at " + completedAt);
        }
    }

    @Test
    void theClusterCapHoldsBackASecondMoveUntilTheFirstEndsOnPmigEvents() {
        try (TopologyHarness harness = new TopologyHarness(Map.of(AnalyticsConfig.MAX_CONCURRENT_MIGRATIONS, "1"))) {
            harness.run(stepsForWindows(3) + 10, t -> new NodeMetrics[] {
                    sample("n1", t, 95, 0.30, workload("w1", 150, 512 * MIB, true)),
                    sample("n4", t, 95, 0.30, workload("w4", 150, 512 * MIB, true)),
                    sample("n2", t, 10, 0.20),
                    sample("n3", t, 10, 0.20),
            });
            assertEquals(1, harness.commands().size(), "cap of one in-flight migration");
            MigrationCommand first = harness.commands().get(0);
            harness.publishEvent(event(first, Phase.FAILED));
            harness.run(2, t -> new NodeMetrics[] {
                    sample("n1", t, 95, 0.30, workload("w1", 150, 512 * MIB, true)),
                    sample("n4", t, 95, 0.30, workload("w4", 150, 512 * MIB, true)),
                    sample("n2", t, 10, 0.20),
                    sample("n3", t, 10, 0.20),
            });
            List<MigrationCommand> commands = harness.commands();
            assertEquals(2, commands.size(), "the FAILED outcome frees the slot");
            assertNotEquals(first.getSourceNode().toString(), commands.get(1).getSourceNode().toString());
        }
    }

    @Test
    void aMoveWhoseSourceWentDownReleasesItsSlotAtOnceInsteadOfAfterTheInFlightTimeout() {
        try (TopologyHarness harness = new TopologyHarness(Map.of(AnalyticsConfig.MAX_CONCURRENT_MIGRATIONS, "1"))) {
            harness.run(stepsForWindows(3) + 10, t -> new NodeMetrics[] {
                    sample("n1", t, 95, 0.30, workload("w1", 150, 512 * MIB, true)),
                    sample("n4", t, 95, 0.30, workload("w4", 150, 512 * MIB, true)),
                    sample("n2", t, 10, 0.20),
                    sample("n3", t, 10, 0.20),
            });
            assertEquals(1, harness.commands().size(), "cap of one in-flight migration");
            MigrationCommand first = harness.commands().get(0);
            String dead = first.getSourceNode().toString();
            String other = dead.equals("n1") ? "n4" : "n1";
            // the first move's source dies with its executor: no outcome will ever come for its move
            long downAfterS = AnalyticsConfig.defaults().nodeDownAfterMs() / 1000;
            long silentFrom = harness.now();
            harness.run((int) downAfterS + 6, t -> new NodeMetrics[] {
                    sample(other, t, 95, 0.30, workload(other.equals("n1") ? "w1" : "w4", 150, 512 * MIB, true)),
                    sample("n2", t, 10, 0.20),
                    sample("n3", t, 10, 0.20),
            });
            List<MigrationCommand> commands = harness.commands();
            assertEquals(2, commands.size(), "the DOWN source's move holds no slot; "
                    + AnalyticsConfig.defaults().inFlightTimeoutMs() / 1000 + " s did not have to pass");
            assertEquals(other, commands.get(1).getSourceNode().toString());
            long after = commands.get(1).getIssuedAtMs() - silentFrom;
            assertTrue(after <= (downAfterS + 6) * 1000, "issued " + after + " ms after the source fell silent");
        }
    }

    @Test
    void theMostSevereNodeOfAWindowIsPlannedFirstWhateverOrderItsReportArrivesIn() {
        long onset = T0 + 12_000;
        try (TopologyHarness harness = new TopologyHarness(Map.of(AnalyticsConfig.MAX_CONCURRENT_MIGRATIONS, "1"))) {
            // n1 reports first in every step and is hot; n4 reports after it and is hotter. One move allowed.
            harness.run(16, t -> new NodeMetrics[] {
                    sample("n1", t, t < onset ? 30 : 90, 0.30, workload("w1", 150, 512 * MIB, true)),
                    sample("n4", t, t < onset ? 30 : 99, 0.30, workload("w4", 150, 512 * MIB, true)),
                    sample("n2", t, 10, 0.20),
                    sample("n3", t, 10, 0.20),
            });
            List<MigrationCommand> commands = harness.commands();
            assertEquals(1, commands.size());
            assertEquals("n4", commands.get(0).getSourceNode().toString(), "99 % scores above 90 %");
        }
    }

    @Test
    void aDestinationStaysReservedAfterCompletedUntilItReportsAWindowThatHoldsTheMovedLoad() {
        long firstOnset = T0 + 12_000;
        long secondOnset = T0 + 16_000;
        // Only n2 has room; its samples never show the moved load, as if its 10 s mean had not caught up yet.
        LongFunction<NodeMetrics[]> cluster = t -> new NodeMetrics[] {
                sample("n1", t, t < firstOnset ? 30 : 95, 0.30, workload("w1", 150, 512 * MIB, true)),
                sample("n4", t, t < secondOnset ? 30 : 95, 0.30, workload("w4", 150, 512 * MIB, true)),
                sample("n2", t, 10, 0.20),
                sample("n3", t, 70, 0.20),
        };
        try (TopologyHarness harness = new TopologyHarness(Map.of(AnalyticsConfig.DESTINATION_COOLDOWN_MS, "0"))) {
            harness.run(15, cluster);
            List<MigrationCommand> commands = harness.commands();
            assertEquals(1, commands.size());
            MigrationCommand first = commands.get(0);
            assertEquals("n2", first.getDestinationNode().toString());
            harness.publishEvent(event(first, Phase.COMPLETED));
            long completedAt = first.getIssuedAtMs() + 2_000;
            harness.run(30, cluster);
            commands = harness.commands();
            assertEquals(2, commands.size(), "n4's move waits for n2's reservation, then goes there");
            MigrationCommand second = commands.get(1);
            assertEquals("n4", second.getSourceNode().toString());
            assertEquals("n2", second.getDestinationNode().toString());
            assertEquals(completedAt + AnalyticsConfig.defaults().windowSizeMs(), second.getIssuedAtMs(),
                    "not before n2 reports the window [completed, completed + 10 s)");
        }
    }

    @Test
    void dryRunDecidesButPublishesNoCommand() {
        try (TopologyHarness harness = new TopologyHarness(Map.of(AnalyticsConfig.DRY_RUN, "true"))) {
            harness.run(stepsForWindows(3) + 20, AnalyticsTopologyTest::clusterAt);
            assertTrue(harness.commands().isEmpty());
            assertTrue(harness.scores.readValuesToList().stream().anyMatch(NodeScore::getOverloaded));
        }
    }

    @Test
    void nodesSharingAHostAreNotOverloadedByTheHostsLoadAverageButHostNodesAre() {
        // 3 runnable tasks per CPU of load average on every node: the host's, as simulated nodes (containers) report it
        LongFunction<NodeMetrics[]> busyHost = t -> new NodeMetrics[] {
                sample("n1", t, 95, 0.30, 12.0, workload("w-big", 150, 512 * MIB, true)),
                sample("n2", t, 10, 0.30, 12.0),
                sample("n3", t, 10, 0.30, 12.0),
        };
        // The threshold rule is the one that reads the load average (the default trend rule reads CPU and memory only).
        Map<String, String> threshold = Map.of(AnalyticsConfig.SCORER, "threshold");
        try (TopologyHarness harness = new TopologyHarness(threshold)) {
            harness.run(stepsForWindows(1) + 2, busyHost);
            assertEquals(Set.of("n1"), overloadedNodes(harness), "only the CPU-hot node");
            assertEquals(1, harness.commands().size());
            assertEquals("n1", harness.commands().get(0).getSourceNode().toString());
        }
        try (TopologyHarness harness = new TopologyHarness(threshold)) {
            harness.run(stepsForWindows(1) + 2, t -> Arrays.stream(busyHost.apply(t))
                    .map(m -> NodeMetrics.newBuilder(m).setMode(SamplingMode.HOST).build()).toArray(NodeMetrics[]::new));
            assertEquals(Set.of("n1", "n2", "n3"), overloadedNodes(harness), "a host's own load average counts");
            assertTrue(harness.commands().isEmpty(), "no destination left");
        }
    }

    @Test
    void aSmallWorkloadMovesInPlainModeByDefault() {
        try (TopologyHarness harness = new TopologyHarness(Map.of())) {
            harness.run(stepsForWindows(1) + 2, t -> new NodeMetrics[] {
                    sample("n1", t, 95, 0.30, workload("w-small", 150, 64 * MIB, true)),
                    sample("n2", t, 10, 0.30),
            });
            assertEquals(1, harness.commands().size());
            assertEquals(MigrationMode.PLAIN, harness.commands().get(0).getMode(), "AUTO: 64 MiB is copied");
        }
    }

    private static Set<String> overloadedNodes(TopologyHarness harness) {
        return harness.scores.readValuesToList().stream().filter(NodeScore::getOverloaded)
                .map(score -> score.getNodeId().toString()).collect(Collectors.toSet());
    }

    @Test
    void noCommandWhenNoDestinationHasRoomAfterTheMove() {
        try (TopologyHarness harness = new TopologyHarness(Map.of())) {
            harness.run(stepsForWindows(3) + 10, t -> new NodeMetrics[] {
                    sample("n1", t, 95, 0.30, workload("w-big", 150, 512 * MIB, true), workload("w-small", 20, 64 * MIB, true)),
                    sample("n2", t, 72, 0.30),
                    // CPU room but not memory room for even the small workload.
                    sample("n3", t, 10, 0.849),
            });
            assertTrue(harness.commands().isEmpty());
        }
    }

    @Test
    void aSilentNodeIsMarkedDownByTheWallClockItsWindowsStillCloseAndItIsNeverADestination() {
        try (TopologyHarness harness = new TopologyHarness(Map.of())) {
            // n3, the only node with room, falls silent after 3 s; n2 is too busy for any of n1's workloads.
            java.util.function.LongFunction<NodeMetrics[]> withN3 = t -> new NodeMetrics[] {
                    cluster(t)[0], sample("n2", t, 72, 0.30), sample("n3", t, 20, 0.30)};
            harness.run(3, withN3);
            harness.run(stepsForWindows(3) + 5, t -> java.util.Arrays.copyOf(withN3.apply(t), 2));
            List<KeyValue<String, MigrationEvent>> events = harness.eventsOut.readKeyValuesToList();
            List<MigrationEvent> downs = events.stream().map(kv -> kv.value)
                    .filter(event -> event.getPhase() == Phase.NODE_DOWN).toList();
            assertEquals(1, downs.size());
            assertEquals("n3", downs.get(0).getNode().toString());
            List<NodeScore> n3 = harness.scores.readValuesToList().stream()
                    .filter(score -> score.getNodeId().toString().equals("n3")).toList();
            assertTrue(n3.stream().anyMatch(score -> score.getState() == NodeState.DOWN));
            assertTrue(n3.stream().anyMatch(score -> score.getWindowEndMs() == T0 + 10_000 && FeatureLayout.feature(score, "sample_count") == 3.0),
                    "the window holding n3's last samples closed without any new n3 record");
            assertTrue(harness.commands().isEmpty(), "n3 is DOWN and n2 has no room");

            // n3 comes back: NODE_UP, and after a full window of samples it is a destination again.
            harness.run(14, withN3);
            assertTrue(harness.eventsOut.readValuesToList().stream().anyMatch(event ->
                    event.getPhase() == Phase.NODE_UP && event.getNode().toString().equals("n3")));
            assertEquals(1, harness.commands().size());
            assertEquals("n3", harness.commands().get(0).getDestinationNode().toString());
        }
    }

    @Test
    void samplesReadFromABacklogSlowerThanRealTimeMarkNoNodeDownAndCloseNoWindowEarly() {
        try (TopologyHarness harness = new TopologyHarness(Map.of())) {
            // analytics behind pmig.metrics, reading at a fifth of real time: a sample arrives every 0.9 s of wall
            // clock, so each of the six nodes' next sample comes 5.4 s after its last, beyond
            // analytics.node.down.after.ms (5 s); from second 25 on n6's samples stop, the others' go on being read
            List<String> nodes = List.of("n1", "n2", "n3", "n4", "n5", "n6");
            for (int second = 0; second < 40; second++) {
                for (String node : nodes) {
                    if (!node.equals("n6") || second < 25) {
                        harness.publish(sample(node, T0 + second * 1000L, 30, 0.3));
                        harness.driver.advanceWallClockTime(java.time.Duration.ofMillis(900));
                    }
                }
            }
            List<MigrationEvent> events = harness.eventsOut.readValuesToList();
            List<String> down = events.stream().filter(event -> event.getPhase() == Phase.NODE_DOWN)
                    .map(event -> event.getNode().toString()).toList();
            assertEquals(List.of("n6"), down, "only the node whose samples stopped, once the backlog showed it");
            List<NodeScore> n1 = harness.scores.readValuesToList().stream()
                    .filter(score -> score.getNodeId().toString().equals("n1")).toList();
            assertTrue(n1.size() >= 25, "n1's windows closed as its samples were read: " + n1.size());
            assertTrue(n1.stream().allMatch(score -> FeatureLayout.feature(score, "sample_count") == 10.0),
                    "every window of n1 holds its ten samples, none closed before they were read: "
                            + n1.stream().map(score -> FeatureLayout.feature(score, "sample_count")).toList());
        }
    }

    @Test
    void whileTheConsumerIsBehindOnThePartitionItsNodesAreNotSilentAndOnceCaughtUpAQuietPartitionIsDown() {
        java.util.concurrent.atomic.AtomicBoolean behind = new java.util.concurrent.atomic.AtomicBoolean();
        try (TopologyHarness harness = new TopologyHarness(Map.of(), partition -> behind.get())) {
            List<String> nodes = List.of("n1", "n2", "n3");
            harness.run(12, t -> nodes.stream().map(node -> sample(node, t, 30, 0.3)).toArray(NodeMetrics[]::new));
            long lastRead = T0 + 11_000;
            // the consumer serves other partitions: for 7.2 s nothing of this one is fetched, though it has samples
            behind.set(true);
            for (int i = 0; i < 8; i++) {
                harness.driver.advanceWallClockTime(java.time.Duration.ofMillis(900));
            }
            assertTrue(harness.eventsOut.readValuesToList().isEmpty(), "unread is not silent: no NODE_DOWN");
            assertTrue(harness.scores.readValuesToList().stream().allMatch(score -> score.getWindowEndMs() <= lastRead),
                    "no window closed past the samples read");
            // the backlog arrives, then the partition is caught up and quiet for real
            for (long second = 12; second < 20; second++) {
                for (String node : nodes) {
                    harness.publish(sample(node, T0 + second * 1000, 30, 0.3));
                }
                harness.driver.advanceWallClockTime(java.time.Duration.ofMillis(100));
            }
            List<NodeScore> caughtUp = harness.scores.readValuesToList();
            assertTrue(caughtUp.stream().allMatch(score -> FeatureLayout.feature(score, "sample_count") == 10.0),
                    "the windows of the backlog hold all their samples");
            behind.set(false);
            for (int i = 0; i < 8; i++) {
                harness.driver.advanceWallClockTime(java.time.Duration.ofMillis(900));
            }
            assertEquals(Set.copyOf(nodes), harness.eventsOut.readValuesToList().stream()
                    .filter(event -> event.getPhase() == Phase.NODE_DOWN).map(event -> event.getNode().toString())
                    .collect(Collectors.toSet()), "a quiet partition with nothing left to fetch: its nodes are DOWN");
        }
    }

    @Test
    void silenceIsDetectedWithNoRecordsArrivingAtAll() {
        try (TopologyHarness harness = new TopologyHarness(Map.of())) {
            harness.run(12, t -> new NodeMetrics[] {sample("solo", t, 30, 0.3)});
            harness.scores.readValuesToList();
            for (int i = 0; i < 8; i++) {
                harness.step();
            }
            List<TestRecord<String, MigrationEvent>> events = harness.eventsOut.readRecordsToList();
            assertEquals(1, events.size());
            assertEquals("solo", events.get(0).key());
            assertEquals(Phase.NODE_DOWN, events.get(0).value().getPhase());
            List<NodeScore> scores = harness.scores.readValuesToList();
            assertTrue(scores.stream().anyMatch(score -> score.getState() == NodeState.DOWN));
            assertTrue(scores.stream().anyMatch(score -> score.getWindowEndMs() > T0 + 12_000),
                    "windows closed after the last sample, driven by the wall clock alone");
        }
    }

    @Test
    void undecodableBytesGoToTheDeadLetterTopicAndProcessingContinues() {
        try (TopologyHarness harness = new TopologyHarness(Map.of())) {
            byte[] garbage = "definitely not avro".getBytes(StandardCharsets.UTF_8);
            harness.metrics.pipeInput("n1", garbage, T0);
            harness.events.pipeInput("w-x", new byte[] {(byte) 0xC3, 0x01, 1, 2}, T0);
            harness.run(12, t -> new NodeMetrics[] {sample("n1", t, 30, 0.3)});

            List<KeyValue<String, DeadLetter>> dead = harness.deadLetters.readKeyValuesToList();
            assertEquals(2, dead.size());
            DeadLetter metricsLetter = dead.stream().filter(kv -> kv.key.equals("pmig.metrics")).findFirst().orElseThrow().value;
            assertEquals("pmig.metrics", metricsLetter.getSourceTopic().toString());
            assertEquals(0, metricsLetter.getPartition());
            assertEquals(0L, metricsLetter.getOffset());
            assertEquals("analytics", metricsLetter.getStage().toString());
            assertTrue(metricsLetter.getReason().toString().contains("NodeMetrics"), metricsLetter.getReason().toString());
            assertArrayEquals(garbage, bytes(metricsLetter.getValue()));
            assertArrayEquals("n1".getBytes(StandardCharsets.UTF_8), bytes(metricsLetter.getKey()));
            DeadLetter eventsLetter = dead.stream().filter(kv -> kv.key.equals("pmig.events")).findFirst().orElseThrow().value;
            assertEquals(0L, eventsLetter.getOffset());

            assertFalse(harness.scores.readValuesToList().isEmpty(), "valid samples after the bad one are still scored");
        }
    }

    @Test
    void withScorerModelAPublishedModelIsUsedWithoutRestartAndNamedInScoresAndCommands() {
        try (TopologyHarness harness = new TopologyHarness(Map.of(AnalyticsConfig.SCORER, "model"))) {
            // 70% CPU, flat: below the trend rule's 90%, above the test model's 50%.
            java.util.function.LongFunction<NodeMetrics[]> moderate = t -> new NodeMetrics[] {
                    sample("n1", t, 70, 0.30, workload("w-big", 150, 512 * MIB, true)),
                    sample("n2", t, 10, 0.30),
            };
            harness.run(stepsForWindows(3), moderate);
            List<NodeScore> before = harness.scores.readValuesToList();
            assertTrue(before.stream().allMatch(score -> score.getScorer().toString().equals("trend-rule") && !score.getOverloaded()),
                    "until a model is published, the trend rule scores");
            assertTrue(harness.commands().isEmpty());

            harness.publishModel("overload", TestModels.trainedModel("rf-test-1"));
            harness.run(3, moderate);
            List<NodeScore> after = harness.scores.readValuesToList().stream()
                    .filter(score -> score.getNodeId().toString().equals("n1")).toList();
            assertEquals(3, after.size());
            assertTrue(after.stream().allMatch(score -> score.getScorer().toString().equals("model")
                    && "rf-test-1".equals(String.valueOf(score.getModelVersion())) && score.getOverloaded()), after.toString());
            MigrationCommand command = harness.commands().get(0);
            assertEquals(Trigger.MODEL, command.getReason().getTrigger());
            assertEquals("rf-test-1", command.getReason().getModelVersion().toString());
            assertEquals("model", command.getReason().getScorer().toString());

            harness.publishModel("overload", TestModels.trainedModel("rf-test-2"));
            harness.run(1, moderate);
            assertTrue(harness.scores.readValuesToList().stream().allMatch(score -> "rf-test-2".equals(String.valueOf(score.getModelVersion()))));

            harness.models.pipeInput("overload", (byte[]) null);
            harness.run(1, moderate);
            assertTrue(harness.scores.readValuesToList().stream().allMatch(score -> score.getScorer().toString().equals("trend-rule")),
                    "a tombstone reverts to the trend rule");
        }
    }

    @Test
    void byDefaultTheTrendRuleDecidesAndAPublishedModelIsNotUsed() {
        try (TopologyHarness harness = new TopologyHarness(Map.of())) {
            harness.publishModel("overload", TestModels.trainedModel("rf-test-1"));
            // 70% CPU: the test model would call it overloaded, the trend rule (cpu_last + 2*cpu_slope >= 90) does not.
            java.util.function.LongFunction<NodeMetrics[]> moderate = t -> new NodeMetrics[] {
                    sample("n1", t, 70, 0.30, workload("w-big", 150, 512 * MIB, true)),
                    sample("n2", t, 10, 0.30),
            };
            harness.run(stepsForWindows(3), moderate);
            assertTrue(harness.scores.readValuesToList().stream().allMatch(score -> score.getScorer().toString().equals("trend-rule")
                    && score.getModelVersion() == null && !score.getOverloaded()), "the published model does not score");
            assertTrue(harness.commands().isEmpty());

            java.util.function.LongFunction<NodeMetrics[]> hot = t -> new NodeMetrics[] {
                    sample("n1", t, 97, 0.30, workload("w-big", 150, 512 * MIB, true)),
                    sample("n2", t, 10, 0.30),
            };
            harness.run(3, hot);
            MigrationCommand command = harness.commands().get(0);
            assertEquals("w-big", command.getWorkloadId().toString());
            assertEquals(Trigger.THRESHOLD, command.getReason().getTrigger(), "a rule triggers as THRESHOLD, as before");
            assertEquals("trend-rule", command.getReason().getScorer().toString(), "the reason names the rule");
            assertNull(command.getReason().getModelVersion());
            assertTrue(command.getReason().getText().toString().contains("by trend-rule"), command.getReason().getText().toString());
        }
    }

    static NodeMetrics[] clusterAt(long t) {
        return cluster(t);
    }

    private static MigrationEvent event(MigrationCommand command, Phase phase) {
        return MigrationEvent.newBuilder()
                .setCommandId(command.getCommandId())
                .setMigrationId(command.getCommandId())
                .setWorkloadId(command.getWorkloadId())
                .setNode(command.getDestinationNode())
                .setPhase(phase)
                .setSourceNode(command.getSourceNode())
                .setDestinationNode(command.getDestinationNode())
                .setTimings(PhaseTimings.newBuilder().build())
                .setTimestampMs(command.getIssuedAtMs() + 2_000)
                .build();
    }

    private static byte[] bytes(java.nio.ByteBuffer buffer) {
        byte[] bytes = new byte[buffer.remaining()];
        buffer.duplicate().get(bytes);
        return bytes;
    }
}
