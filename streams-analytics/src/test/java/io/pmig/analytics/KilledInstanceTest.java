package io.pmig.analytics;

import static io.pmig.analytics.Samples.MIB;
import static io.pmig.analytics.Samples.sample;
import static io.pmig.analytics.Samples.workload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.serde.AvroSerde;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsMetadata;
import org.junit.jupiter.api.Test;

/**
 * An analytics instance killed with SIGKILL while it decides costs no decision and duplicates no command. Instance A
 * runs in this JVM, B in a JVM of its own ({@link AnalyticsProcess}) so that it can die as a crash does: no commit, no
 * leaving the group, its open transaction left for the broker to abort. Every decision partition holds two cells of
 * this run, each a node that will overload and a node with room for its workload, so whatever B owns holds cells of
 * ours. One of B's hot nodes is decided by B; B is killed as a second of its hot nodes tips over; a third of B's and
 * one of A's tip over after the kill. Each must get exactly one MIGRATE, to its own cell's node with room.
 */
class KilledInstanceTest {

    private static final Duration DEADLINE = Duration.ofSeconds(120);
    private static final int DECISION_PARTITIONS = 4;
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void anInstanceKilledMidDecisionLosesNoDecisionAndDoublesNoCommand() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        String applicationId = "analytics-kill-" + run;
        // two cells of this run per decision partition; cell -> [hot node, node with room]
        Map<String, List<String>> cells = new LinkedHashMap<>();
        Map<Integer, Integer> perPartition = new ConcurrentHashMap<>();
        for (int i = 0; perPartition.size() < DECISION_PARTITIONS || perPartition.values().stream().anyMatch(n -> n < 2); i++) {
            String cell = "cell" + i + "-" + run;
            int partition = Topic.partitionOf(cell, DECISION_PARTITIONS);
            if (perPartition.getOrDefault(partition, 0) < 2) {
                perPartition.merge(partition, 1, Integer::sum);
                cells.put(cell, List.of("hot" + i + "-" + run, "room" + i + "-" + run));
            }
        }
        String labels = cells.entrySet().stream()
                .flatMap(cell -> cell.getValue().stream().map(node -> node + "=" + cell.getKey()))
                .collect(Collectors.joining(","));
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put(AnalyticsConfig.APPLICATION_ID, applicationId);
        settings.put(AnalyticsConfig.CELL_LABELS, labels);
        settings.put(AnalyticsConfig.DECISION_PARTITIONS, String.valueOf(DECISION_PARTITIONS));
        settings.put(AnalyticsConfig.WINDOW_SIZE_MS, "2000");
        settings.put(AnalyticsConfig.WINDOW_ADVANCE_MS, "500");
        settings.put(AnalyticsConfig.WINDOW_GRACE_MS, "200");
        settings.put(AnalyticsConfig.PUNCTUATE_INTERVAL_MS, "200");
        settings.put(AnalyticsConfig.HYSTERESIS_WINDOWS, "2");
        // the take-over waits out B's session; nodes must not be declared DOWN meanwhile
        settings.put(AnalyticsConfig.NODE_DOWN_AFTER_MS, "60000");
        settings.put(AnalyticsConfig.MAX_CONCURRENT_MIGRATIONS, "20");
        // a kill is noticed when B's session expires: the broker's smallest, so that the test does not wait 45 s
        Map<String, String> streams = Map.of("commit.interval.ms", "100", "session.timeout.ms", "6000",
                "heartbeat.interval.ms", "1000");
        Properties client = SharedBroker.clientProperties();
        client.putAll(streams);

        Map<String, Long> hotSince = new ConcurrentHashMap<>();
        AtomicBoolean producing = new AtomicBoolean(true);
        Thread producer = new Thread(() -> produce(cells, hotSince, producing), "metrics-producer");
        Path log = Files.createTempFile("analytics-b-", ".log");
        List<String> args = new ArrayList<>(List.of("--bootstrap-server", SharedBroker.bootstrapServers(), "--instance-id", "b",
                "--http-port", "0", "--state-dir", Files.createTempDirectory("analytics-b-").toString()));
        settings.forEach((key, value) -> args.addAll(List.of("--config", key + "=" + value)));
        streams.forEach((key, value) -> args.addAll(List.of("--property", key + "=" + value)));
        AnalyticsApp a = AnalyticsApp.start(AnalyticsConfig.of(Map.copyOf(settings)), client, "a", "127.0.0.1", 0,
                Files.createTempDirectory("analytics-a-"));
        try (AnalyticsProcess b = AnalyticsProcess.start(log, args)) {
            producer.start();
            awaitCondition("both instances run active tasks and every node has a window",
                    () -> decisionPartitionsOf(a, b).size() > 0 && decisionPartitionsOf(a, null).size() > 0
                            && scoredNodes(a).containsAll(cells.values().stream().map(c -> c.get(0)).toList()));
            Set<Integer> ofB = decisionPartitionsOf(a, b);
            List<String> cellsOfB = cells.keySet().stream()
                    .filter(cell -> ofB.contains(Topic.partitionOf(cell, DECISION_PARTITIONS))).toList();
            List<String> cellsOfA = cells.keySet().stream().filter(cell -> !cellsOfB.contains(cell)).toList();
            assertTrue(cellsOfB.size() >= 2, "B decides for two cells of ours at least: " + cellsOfB);
            String decidedByB = cells.get(cellsOfB.get(0)).get(0);
            String killedWhileTipping = cells.get(cellsOfB.get(1)).get(0);
            List<String> afterKill = new ArrayList<>();
            if (cellsOfB.size() > 2) {
                afterKill.add(cells.get(cellsOfB.get(2)).get(0));
            }
            if (!cellsOfA.isEmpty()) {
                afterKill.add(cells.get(cellsOfA.get(0)).get(0));
            }
            assertTrue(commands(run).isEmpty(), "nothing is hot yet: " + commands(run));

            hotSince.put(decidedByB, System.currentTimeMillis());
            awaitCondition("B's decision for " + decidedByB, () -> sources(commands(run)).contains(decidedByB));
            hotSince.put(killedWhileTipping, System.currentTimeMillis());
            awaitCondition(killedWhileTipping + " reported overloaded", () -> overloaded(a, killedWhileTipping));
            b.kill9();
            afterKill.forEach(node -> hotSince.put(node, System.currentTimeMillis()));

            Set<String> hot = Set.copyOf(hotSince.keySet());
            awaitCondition("a command for every hot node", () -> sources(commands(run)).containsAll(hot));
            assertTrue(decisionPartitionsOf(a, null).containsAll(ofB), "A took over B's decision partitions");
            // a duplicate would come later than the first: wait until the survivor has scored every hot node's windows
            // for a few seconds past the last command
            long lastCommandSeen = System.currentTimeMillis();
            awaitCondition("windows scored past the last command", () -> hot.stream()
                    .allMatch(node -> windowEndMs(a, node) > lastCommandSeen + 3_000));
            List<MigrationCommand> commands = commands(run);
            assertEquals(hot.size(), commands.size(), "one MIGRATE per hot node, none lost, none doubled: " + commands);
            assertEquals(hot, sources(commands));
            assertEquals(hot.size(), commands.stream().map(c -> c.getCommandId().toString()).distinct().count());
            for (MigrationCommand command : commands) {
                String cell = cells.entrySet().stream().filter(c -> c.getValue().get(0).equals(command.getSourceNode().toString()))
                        .findFirst().orElseThrow().getKey();
                assertEquals(cells.get(cell).get(1), command.getDestinationNode().toString(), "moves inside its cell: " + command);
            }
        } finally {
            producing.set(false);
            producer.join();
            a.close();
        }
    }

    /** Decision partitions whose task is active on b (or, with b null, on a), as a's metadata of the group has it. */
    private static Set<Integer> decisionPartitionsOf(AnalyticsApp a, AnalyticsProcess b) {
        if (a.streams().state() != KafkaStreams.State.RUNNING) {
            return Set.of();
        }
        String decisionTopic = "-decision-input-repartition";
        String wanted = b == null ? a.httpAddress() : b.httpAddress();
        return a.streams().metadataForAllStreamsClients().stream()
                .filter(client -> ("http://" + client.hostInfo().host() + ":" + client.hostInfo().port()).equals(wanted))
                .map(StreamsMetadata::topicPartitions).flatMap(Set::stream)
                .filter(partition -> partition.topic().endsWith(decisionTopic))
                .map(TopicPartition::partition).collect(Collectors.toSet());
    }

    /** Nodes listed by {@code GET /nodes} through a (every instance's part). */
    private static Set<String> scoredNodes(AnalyticsApp a) {
        Set<String> nodes = new HashSet<>();
        try {
            HttpResponse<byte[]> response = HTTP.send(HttpRequest.newBuilder(URI.create(a.httpAddress() + "/nodes?limit=10000"))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofByteArray());
            if (response.statusCode() == 200) {
                JSON.readTree(response.body()).path("nodes").forEach(node -> nodes.add(node.path("nodeId").asText()));
            }
        } catch (Exception e) {
            // not answering yet
        }
        return nodes;
    }

    private static boolean overloaded(AnalyticsApp a, String node) {
        return "OVERLOADED".equals(node(a, node).path("state").asText());
    }

    private static long windowEndMs(AnalyticsApp a, String node) {
        return node(a, node).path("windowEndMs").asLong(0);
    }

    /** {@code GET /nodes/{id}} through a, from whichever instance owns the node; empty while none answers. */
    private static JsonNode node(AnalyticsApp a, String node) {
        try {
            HttpResponse<byte[]> response = HTTP.send(HttpRequest.newBuilder(URI.create(a.httpAddress() + "/nodes/" + node))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofByteArray());
            return response.statusCode() == 200 ? JSON.readTree(response.body()) : JSON.createObjectNode();
        } catch (Exception e) {
            return JSON.createObjectNode();
        }
    }

    /**
     * One sample per node every 250 ms: a hot node runs at 95 % CPU from the time in {@code hotSince} on (its
     * workload 1.5 cores), 30 % before; each cell's node with room idles at 1 %.
     */
    private static void produce(Map<String, List<String>> cells, Map<String, Long> hotSince, AtomicBoolean producing) {
        Properties props = SharedBroker.clientProperties();
        props.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        AvroSerde<NodeMetrics> serde = AvroSerde.of(NodeMetrics.class);
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer())) {
            while (producing.get()) {
                long now = System.currentTimeMillis();
                for (List<String> cell : cells.values()) {
                    String hot = cell.get(0);
                    double cpu = hotSince.getOrDefault(hot, Long.MAX_VALUE) <= now ? 95 : 30;
                    for (NodeMetrics sample : List.of(sample(hot, now, cpu, 0.3, workload("wl-" + hot, 150, 512 * MIB, true)),
                            sample(cell.get(1), now, 1, 0.2))) {
                        producer.send(new ProducerRecord<>(Topic.METRICS.topicName(), sample.getNodeId().toString(),
                                serde.encode(sample)));
                    }
                }
                producer.flush();
                Thread.sleep(250);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Set<String> sources(List<MigrationCommand> commands) {
        return commands.stream().map(c -> c.getSourceNode().toString()).collect(Collectors.toSet());
    }

    /** Every committed MIGRATE of this run on pmig.commands, read to the end. */
    private static List<MigrationCommand> commands(String run) {
        return CommittedCommands.ofRun(run);
    }

    /** Polls until the condition holds; the deadline only bounds a hung test, it is not what is tested. */
    private static void awaitCondition(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("gave up waiting for: " + what);
            }
            Thread.sleep(100);
        }
    }
}
