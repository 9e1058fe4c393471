package io.pmig.cli.dashboard;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.NodeCapacity;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.SamplingMode;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/** Issue 17: the dashboard charts the hottest nodes only and counts the rest, so its page stays small in a large cluster. */
class DashboardTopNodesTest {

    private static final int NODES = 30;
    private static final int TOP = 5;

    @Test
    void theStateListsTheTopHottestNodesAndASummaryOfAll() throws Exception {
        String run = "top-" + UUID.randomUUID().toString().substring(0, 6) + "-";
        var props = SharedBroker.clientProperties();
        List<String> ours = new ArrayList<>();
        for (int i = 0; i < NODES; i++) {
            ours.add(run + String.format("%02d", i)); // node i runs at 2 i + 30 % CPU: the last ones are the hottest
        }
        try (var producer = new KafkaProducer<String, byte[]>(props, new StringSerializer(), new ByteArraySerializer());
             DashboardServer dashboard = new DashboardServer(props, List.of(), new InetSocketAddress("127.0.0.1", 0), TOP).start()) {
            HttpClient client = HttpClient.newHttpClient();
            URI state = URI.create(dashboard.url() + "api/state");
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> {
                for (int i = 0; i < NODES; i++) {
                    producer.send(new ProducerRecord<>(Topic.METRICS.topicName(), ours.get(i),
                            Topic.METRICS.<NodeMetrics>serde().encode(sample(ours.get(i), 30 + 2 * i))));
                }
                producer.flush();
                JsonNode body = get(client, state);
                return body.path("summary").path("nodes").asInt() >= NODES && shownOf(body, ours).size() > 0;
            });
            JsonNode body = get(client, state);
            assertEquals(TOP, body.path("nodes").size(), "the page charts " + TOP + " nodes: " + body.path("nodes").fieldNames());
            assertEquals(TOP, body.path("summary").path("shown").asInt());
            assertTrue(body.path("summary").path("byState").path("UP").asInt() >= 1, body.path("summary").toString());
            // other tests' nodes may share the broker: of ours, the ones shown are our hottest, hottest first
            List<String> shown = shownOf(body, ours);
            List<String> hottestOfOurs = new ArrayList<>(ours);
            java.util.Collections.reverse(hottestOfOurs);
            hottestOfOurs = hottestOfOurs.subList(0, shown.size());
            assertEquals(hottestOfOurs, shown, "the hottest of this test's nodes, in order");
            assertTrue(get(client, state).toString().length() < 64 * 1024, "a bounded page whatever the number of nodes");
        }
    }

    private static List<String> shownOf(JsonNode body, List<String> ours) {
        List<String> shown = new ArrayList<>();
        body.path("nodes").fieldNames().forEachRemaining(id -> {
            if (ours.contains(id)) {
                shown.add(id);
            }
        });
        return shown;
    }

    private static JsonNode get(HttpClient client, URI uri) throws Exception {
        return new ObjectMapper().readTree(client.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()).body());
    }

    private static NodeMetrics sample(String node, double cpu) {
        return NodeMetrics.newBuilder().setNodeId(node).setTimestampMs(System.currentTimeMillis()).setSequence(0)
                .setAgentStartMs(0).setMode(SamplingMode.SIMULATED).setCpuPercent(cpu)
                .setLoadAvg1(0.5).setLoadAvg5(0.5).setLoadAvg15(0.5).setMemUsedBytes(300L << 20).setMemTotalBytes(1L << 30)
                .setProcessCount(0).setCapacity(NodeCapacity.newBuilder().setCpus(1).setMemBytes(1L << 30).build())
                .setProcesses(List.of()).build();
    }
}
