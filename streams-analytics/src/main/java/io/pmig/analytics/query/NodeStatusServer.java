package io.pmig.analytics.query;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.pmig.analytics.AnalyticsTopology;
import io.pmig.analytics.scoring.CurrentScorer;
import io.pmig.platform.inspect.RecordJson;
import io.pmig.platform.metrics.MetricsServer;
import io.pmig.platform.metrics.RoleMetrics;
import io.pmig.schemas.NodeScore;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsMetadata;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.HostInfo;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Interactive queries over HTTP (JDK server, JSON), answering from any instance:
 * <ul>
 *   <li>{@code GET /nodes}: every node's latest features, score and state. Each instance holds the nodes
 *       of its own pmig.metrics partitions, so the receiving instance asks every instance that hosts
 *       {@value AnalyticsTopology#STATUS_STORE} (found through {@code application.server}) for its local
 *       part and merges them.</li>
 *   <li>{@code GET /nodes/{id}}: one node, answered by the instance that owns its partition
 *       ({@link KafkaStreams#queryMetadataForKey}), forwarded there if that is another instance.</li>
 *   <li>{@code GET /model}: what this instance scores with ({@code scorer}: model, trend-rule or threshold;
 *       {@code modelVersion} when a model scores; {@code publishedModelVersion}, the latest on pmig.models, used or not).</li>
 *   <li>{@code GET /metrics}: this instance's Prometheus metrics.</li>
 * </ul>
 * {@code ?scope=local} answers from this instance's stores only; instances use it between themselves.
 */
public final class NodeStatusServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(NodeStatusServer.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final RecordJson RECORD_JSON = new RecordJson(0);

    private final HttpServer server;
    private final ExecutorService executor = Executors.newFixedThreadPool(4, runnable -> {
        Thread thread = new Thread(runnable, "analytics-http");
        thread.setDaemon(true);
        return thread;
    });
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private KafkaStreams streams;
    private HostInfo self;
    private CurrentScorer scorer;

    /** Binds the port now (0 picks a free one) so that the address is known before Kafka Streams starts. */
    public NodeStatusServer(String host, int port) {
        try {
            server = HttpServer.create(new InetSocketAddress(host, port), 0);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        self = new HostInfo(host, server.getAddress().getPort());
    }

    /** The address other instances and users reach this one at, as put in {@code application.server}. */
    public HostInfo address() {
        return self;
    }

    public void start(KafkaStreams streams, CurrentScorer scorer) {
        start(streams, scorer, null);
    }

    /** Also serves {@code GET /metrics} (Prometheus) from metrics, unless null. */
    public void start(KafkaStreams streams, CurrentScorer scorer, RoleMetrics metrics) {
        this.streams = streams;
        this.scorer = scorer;
        server.setExecutor(executor);
        if (metrics != null) {
            server.createContext("/metrics", MetricsServer.handler(metrics));
        }
        server.createContext("/nodes", this::handleNodes);
        server.createContext("/model", this::handleModel);
        server.start();
        log.info("interactive queries on http://{}:{}/nodes", self.host(), self.port());
    }

    private void handleModel(HttpExchange exchange) throws IOException {
        ObjectNode body = JSON.createObjectNode();
        body.put("scorer", scorer.scorerName());
        body.put("modelVersion", scorer.modelVersion());
        body.put("publishedModelVersion", scorer.publishedModelVersion());
        body.put("modelsUsed", scorer.usesModels());
        body.put("answeredBy", self.host() + ":" + self.port());
        respond(exchange, 200, body);
    }

    private void handleNodes(HttpExchange exchange) throws IOException {
        try {
            if (!"GET".equals(exchange.getRequestMethod())) {
                respond(exchange, 405, error("only GET is supported"));
                return;
            }
            String path = exchange.getRequestURI().getPath();
            boolean local = "scope=local".equals(exchange.getRequestURI().getQuery());
            if (path.equals("/nodes") || path.equals("/nodes/")) {
                respond(exchange, 200, local ? localNodes() : allNodes());
            } else {
                String node = URLDecoder.decode(path.substring("/nodes/".length()), StandardCharsets.UTF_8);
                oneNode(exchange, node, local);
            }
        } catch (InvalidStateStoreException e) {
            respond(exchange, 503, error("state not queryable right now (rebalancing?): " + e.getMessage()));
        } catch (RuntimeException e) {
            log.warn("query {} failed", exchange.getRequestURI(), e);
            respond(exchange, 500, error(e.toString()));
        }
    }

    private ObjectNode allNodes() {
        Map<String, JsonNode> byNode = new TreeMap<>();
        ArrayNode unavailable = JSON.createArrayNode();
        for (StreamsMetadata instance : streams.streamsMetadataForStore(AnalyticsTopology.STATUS_STORE)) {
            JsonNode part;
            if (instance.hostInfo().equals(self)) {
                part = localNodes();
            } else {
                part = fetch(instance.hostInfo(), "/nodes?scope=local");
                if (part == null) {
                    unavailable.add(instance.hostInfo().host() + ":" + instance.hostInfo().port());
                    continue;
                }
            }
            part.path("nodes").forEach(node -> byNode.put(node.path("nodeId").asText(), node));
        }
        ObjectNode body = JSON.createObjectNode();
        body.put("answeredBy", self.host() + ":" + self.port());
        body.set("unavailable", unavailable);
        ArrayNode nodes = body.putArray("nodes");
        byNode.values().forEach(nodes::add);
        return body;
    }

    private ObjectNode localNodes() {
        ObjectNode body = JSON.createObjectNode();
        body.put("answeredBy", self.host() + ":" + self.port());
        ArrayNode nodes = body.putArray("nodes");
        try (KeyValueIterator<String, NodeScore> all = statusStore().all()) {
            all.forEachRemaining(entry -> nodes.add(RECORD_JSON.toJson(entry.value)));
        }
        return body;
    }

    private void oneNode(HttpExchange exchange, String node, boolean local) throws IOException {
        if (!local) {
            KeyQueryMetadata owner = streams.queryMetadataForKey(AnalyticsTopology.STATUS_STORE, node, Serdes.String().serializer());
            if (owner == null || owner.equals(KeyQueryMetadata.NOT_AVAILABLE)) {
                respond(exchange, 503, error("no instance owns node " + node + " right now"));
                return;
            }
            if (!owner.activeHost().equals(self)) {
                JsonNode answer = fetch(owner.activeHost(), "/nodes/" + node + "?scope=local");
                if (answer == null) {
                    respond(exchange, 502, error("owner " + owner.activeHost() + " of node " + node + " did not answer"));
                } else if (answer.has("error")) {
                    respond(exchange, 404, answer);
                } else {
                    respond(exchange, 200, answer);
                }
                return;
            }
        }
        NodeScore score = statusStore().get(node);
        if (score == null) {
            respond(exchange, 404, error("no node " + node + " here"));
        } else {
            ObjectNode body = (ObjectNode) RECORD_JSON.toJson(score);
            body.put("answeredBy", self.host() + ":" + self.port());
            respond(exchange, 200, body);
        }
    }

    private ReadOnlyKeyValueStore<String, NodeScore> statusStore() {
        return streams.store(StoreQueryParameters.fromNameAndType(AnalyticsTopology.STATUS_STORE,
                QueryableStoreTypes.<String, NodeScore>keyValueStore()));
    }

    /** GET from another instance; null when it cannot answer, so one lost peer does not fail the query. */
    private JsonNode fetch(HostInfo host, String pathAndQuery) {
        URI uri = URI.create("http://" + host.host() + ":" + host.port() + pathAndQuery);
        try {
            HttpResponse<byte[]> response = client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).GET().build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            if (response.statusCode() != 200 && response.statusCode() != 404) {
                log.warn("{} answered {}", uri, response.statusCode());
                return null;
            }
            return JSON.readTree(response.body());
        } catch (IOException e) {
            log.warn("cannot reach {}: {}", uri, e.toString());
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private static ObjectNode error(String message) {
        ObjectNode body = JSON.createObjectNode();
        body.put("error", message);
        return body;
    }

    private static void respond(HttpExchange exchange, int status, JsonNode body) throws IOException {
        byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
