package io.pmig.analytics;

import static io.pmig.analytics.Samples.MIB;
import static io.pmig.analytics.Samples.sample;
import static io.pmig.analytics.Samples.workload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.ThreadMetadata;
import org.junit.jupiter.api.Test;

/**
 * Two instances of the real app on the real embedded broker: they share the window and cell tasks, each answers
 * queries for every node, and when one stops mid-stream the other takes over without losing or
 * doubling a command. The run's nodes are in two cells of their own (labels, on decision partitions of their own, so
 * other tests' nodes on the shared broker are in neither): cell A has two hot nodes and one node with room for one
 * move, cell B a hot node and three idle ones. Three hot nodes become overloaded one after another: A's first moves
 * inside A; A's second, around the time instance B stops, finds no room left in A and moves to B on the global
 * balancer's grant; B's moves inside B. Exactly one MIGRATE per hot node must appear on pmig.commands.
 */
class AnalyticsAppIntegrationTest {

    private static final Duration DEADLINE = Duration.ofSeconds(90);
    private final ObjectMapper json = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void twoInstancesShareTheWorkAnswerQueriesForEveryNodeAndSurviveOneStoppingWithoutLosingOrDoublingCommands()
            throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        // in order of overload onset: A's first, A's second (no room left in A), B's
        List<String> hot = List.of("hot-a1-" + run, "hot-a2-" + run, "hot-b-" + run);
        String coolA = "cool-a-" + run;
        List<String> coolB = List.of("cool-b1-" + run, "cool-b2-" + run, "cool-b3-" + run);
        List<String> cool = new ArrayList<>(coolB);
        cool.add(0, coolA);
        String[] cells = cellsOnTwoPartitions(run);
        String cellA = cells[0];
        String cellB = cells[1];
        String labels = String.join(",", hot.get(0) + "=" + cellA, hot.get(1) + "=" + cellA, coolA + "=" + cellA,
                hot.get(2) + "=" + cellB, coolB.get(0) + "=" + cellB, coolB.get(1) + "=" + cellB, coolB.get(2) + "=" + cellB);
        AnalyticsConfig config = AnalyticsConfig.of(Map.ofEntries(
                Map.entry(AnalyticsConfig.CELL_LABELS, labels),
                Map.entry(AnalyticsConfig.CELL_SUMMARY_INTERVAL_MS, "1000"),
                Map.entry(AnalyticsConfig.BALANCER_INTERVAL_MS, "1000"),
                Map.entry(AnalyticsConfig.APPLICATION_ID, "analytics-it-" + run),
                Map.entry(AnalyticsConfig.WINDOW_SIZE_MS, "2000"),
                Map.entry(AnalyticsConfig.WINDOW_ADVANCE_MS, "500"),
                Map.entry(AnalyticsConfig.WINDOW_GRACE_MS, "200"),
                Map.entry(AnalyticsConfig.PUNCTUATE_INTERVAL_MS, "200"),
                Map.entry(AnalyticsConfig.HYSTERESIS_WINDOWS, "2"),
                // Rebalances pause processing for seconds; nodes must not be declared DOWN meanwhile.
                Map.entry(AnalyticsConfig.NODE_DOWN_AFTER_MS, "30000"),
                Map.entry(AnalyticsConfig.MAX_CONCURRENT_MIGRATIONS, "10")));
        Properties client = SharedBroker.clientProperties();
        client.put("commit.interval.ms", "100");

        AnalyticsApp a = AnalyticsApp.start(config, client, "a", "127.0.0.1", 0, Files.createTempDirectory("analytics-a-"));
        AnalyticsApp b = AnalyticsApp.start(config, client, "b", "127.0.0.1", 0, Files.createTempDirectory("analytics-b-"));
        AtomicBoolean producing = new AtomicBoolean(true);
        // ms since the hot nodes began to tip over; they start once both instances know every node, so that no
        // decision is taken on a partial view of the cluster (which may rightly pick a not-yet-hot node)
        AtomicBoolean heat = new AtomicBoolean();
        AtomicLong heatingMs = new AtomicLong(-1);
        Thread producer = new Thread(() -> produce(hot, cool, producing, heat, heatingMs), "metrics-producer");
        try {
            awaitCondition("both instances run active tasks", () -> hasActiveTasks(a) && hasActiveTasks(b));
            producer.start();

            Set<String> allNodes = new HashSet<>(hot);
            allNodes.addAll(cool);
            for (AnalyticsApp instance : List.of(a, b)) {
                awaitCondition(instance.httpAddress() + " lists every node", () -> nodesListed(instance).containsAll(allNodes));
                JsonNode one = get(instance.httpAddress() + "/nodes/" + cool.get(0));
                assertEquals(cool.get(0), one.path("nodeId").asText());
                assertTrue(one.path("features").has("cpu_p95"));
                assertTrue(Set.of("UP", "OVERLOADED").contains(one.path("state").asText()));
            }
            assertNotEquals(get(a.httpAddress() + "/nodes").path("answeredBy").asText(),
                    get(b.httpAddress() + "/nodes").path("answeredBy").asText());
            assertPagesOfTwoListEveryNode(a, allNodes);
            JsonNode summary = get(b.httpAddress() + "/cluster");
            assertTrue(summary.path("nodes").asLong() >= allNodes.size(), summary.toString());
            assertEquals(3, summary.path("cells").path(cellA).path("nodes").asLong(), summary.toString());
            assertEquals(4, summary.path("cells").path(cellB).path("nodes").asLong(), summary.toString());
            assertTrue(commands(run).isEmpty(), "nothing is hot yet");
            heat.set(true);

            awaitCondition("the first hot node's command", () -> commands(run).size() >= 1);
            JsonNode hottest = get(b.httpAddress() + "/nodes?state=hot&sort=score&limit=1");
            assertEquals(1, hottest.path("nodes").size(), hottest.toString());
            assertEquals("OVERLOADED", hottest.path("nodes").get(0).path("state").asText(), hottest.toString());
            awaitCondition("the second hot node is about to tip over", () -> heatingMs.get() >= 5_500);
            b.close();
            assertFalse(b.awaitStopped(), "b stopped because it was closed, not on an error"); // what `pmig analytics` waits on

            awaitCondition("a command per hot node", () -> commands(run).size() >= hot.size());
            producing.set(false);
            producer.join();

            List<MigrationCommand> commands = commands(run);
            assertEquals(hot.size(), commands.size(), "none lost, none doubled: " + commands);
            assertEquals(Set.copyOf(hot), commands.stream().map(c -> c.getSourceNode().toString()).collect(Collectors.toSet()));
            assertEquals(hot.size(), commands.stream().map(c -> c.getCommandId().toString()).distinct().count());
            Map<String, MigrationCommand> bySource = commands.stream()
                    .collect(Collectors.toMap(c -> c.getSourceNode().toString(), c -> c));
            assertEquals(coolA, bySource.get(hot.get(0)).getDestinationNode().toString(), "A's first hot node moves inside A");
            MigrationCommand across = bySource.get(hot.get(1));
            assertTrue(coolB.contains(across.getDestinationNode().toString()), "A's second moves to B: " + across);
            assertTrue(across.getReason().getText().contains("room the global balancer lent cell " + cellA),
                    across.getReason().getText());
            assertTrue(coolB.contains(bySource.get(hot.get(2)).getDestinationNode().toString()), "B's hot node moves inside B");
            awaitCondition("the survivor answers for every node", () -> nodesListed(a).containsAll(allNodes));
            // what the balancer read: both cells' summaries on pmig.cells, in the schema catalogue the console consumer decodes with
            Set<String> summarised = new HashSet<>();
            for (byte[] value : cellSummaries(config.applicationId())) {
                summarised.add(io.pmig.schemas.serde.GenericDecoding.decode(value).get("cell").toString());
            }
            // other tests' nodes on the shared broker are unlabelled: this app summarises their hash cell (cell-0) too
            assertTrue(summarised.containsAll(Set.of(cellA, cellB)), summarised.toString());
        } finally {
            producing.set(false);
            a.close();
            b.close();
        }
    }

    /** Two cell names of this run whose records land on different partitions of the decision topic. */
    private static String[] cellsOnTwoPartitions(String run) {
        int partitions = Math.max(Topic.METRICS.partitions(), Topic.EVENTS.partitions()); // what the topic gets by default
        String a = "cell-a-" + run;
        for (int i = 0; ; i++) {
            String b = "cell-b" + i + "-" + run;
            if (partition(a, partitions) != partition(b, partitions)) {
                return new String[] {a, b};
            }
        }
    }

    private static int partition(String key, int partitions) {
        return org.apache.kafka.common.utils.Utils.toPositive(org.apache.kafka.common.utils.Utils.murmur2(
                key.getBytes(java.nio.charset.StandardCharsets.UTF_8))) % partitions;
    }

    /**
     * One sample per node every 250 ms of real time; once {@code heat} is set, hot node k runs at 95% CPU from
     * (k-1) x 6 s on, and {@code heatingMs} counts the time since.
     */
    private static void produce(List<String> hot, List<String> cool, AtomicBoolean producing, AtomicBoolean heat,
                                AtomicLong heatingMs) {
        Properties props = SharedBroker.clientProperties();
        props.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        AvroSerde<NodeMetrics> serde = AvroSerde.of(NodeMetrics.class);
        long start = -1;
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer())) {
            while (producing.get()) {
                long now = System.currentTimeMillis();
                if (start < 0 && heat.get()) {
                    start = now;
                }
                long heating = start < 0 ? -1 : now - start;
                heatingMs.set(heating);
                List<NodeMetrics> samples = new ArrayList<>();
                for (int k = 0; k < hot.size(); k++) {
                    double cpu = heating >= k * 6_000L ? 95 : 30;
                    samples.add(sample(hot.get(k), now, cpu, 0.3, workload("wl-" + hot.get(k), 150, 512 * MIB, true)));
                }
                // A's cool node has room for one hot node's 1.5 cores at 20 % (0.8 cores), not for two; B's are idle
                cool.forEach(node -> samples.add(sample(node, now, node.startsWith("cool-a-") ? 20 : 1, 0.2)));
                samples.forEach(sample -> producer.send(new ProducerRecord<>(Topic.METRICS.topicName(),
                        sample.getNodeId().toString(), serde.encode(sample))));
                producer.flush();
                Thread.sleep(250);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Every committed MIGRATE of this run on pmig.commands, read to the end. */
    private static List<MigrationCommand> commands(String run) {
        return CommittedCommands.ofRun(run);
    }

    /** The raw values of pmig.cells written by this run's application, read to the end. */
    private static List<byte[]> cellSummaries(String applicationId) {
        Properties props = SharedBroker.clientProperties();
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        AvroSerde<io.pmig.schemas.CellSummary> serde = AvroSerde.of(io.pmig.schemas.CellSummary.class);
        List<byte[]> values = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(Topic.CELLS.topicName()).stream()
                    .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    if (serde.deserializer().deserialize(record.topic(), record.value()).getApplicationId().toString().equals(applicationId)) {
                        values.add(record.value());
                    }
                }
            }
        }
        return values;
    }

    private static boolean hasActiveTasks(AnalyticsApp app) {
        return app.streams().state() == KafkaStreams.State.RUNNING
                && app.streams().metadataForLocalThreads().stream().mapToInt(thread -> thread.activeTasks().size()).sum() > 0;
    }

    /** Paging through /nodes two at a time, across both instances' parts, lists every node once, in node id order. */
    private void assertPagesOfTwoListEveryNode(AnalyticsApp app, Set<String> ours) throws Exception {
        List<String> paged = new java.util.ArrayList<>();
        String after = null;
        do {
            JsonNode page = get(app.httpAddress() + "/nodes?limit=2" + (after == null ? "" : "&after="
                    + java.net.URLEncoder.encode(after, java.nio.charset.StandardCharsets.UTF_8)));
            assertTrue(page.path("nodes").size() <= 2, page.toString());
            assertTrue(page.path("total").asLong() >= page.path("nodes").size(), page.toString());
            page.path("nodes").forEach(node -> paged.add(node.path("nodeId").asText()));
            after = page.path("next").isNull() ? null : page.path("next").asText();
        } while (after != null);
        assertTrue(paged.containsAll(ours), paged + " lacks some of " + ours);
        List<String> sorted = new java.util.ArrayList<>(new java.util.TreeSet<>(paged));
        assertEquals(sorted, paged, "each node once, in node id order");
    }

    private Set<String> nodesListed(AnalyticsApp app) {
        try {
            JsonNode body = get(app.httpAddress() + "/nodes");
            Set<String> nodes = new HashSet<>();
            body.path("nodes").forEach(node -> nodes.add(node.path("nodeId").asText()));
            return nodes;
        } catch (Exception e) {
            return Set.of();
        }
    }

    private JsonNode get(String url) throws Exception {
        HttpResponse<byte[]> response = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        JsonNode body = json.readTree(response.body());
        if (response.statusCode() != 200) {
            throw new IllegalStateException(url + " answered " + response.statusCode() + ": " + body);
        }
        return body;
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
