package io.pmig.analytics.query;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.pmig.analytics.AnalyticsTopology;
import io.pmig.analytics.decisions.Cells;
import io.pmig.analytics.scoring.CurrentScorer;
import io.pmig.platform.inspect.RecordJson;
import io.pmig.platform.metrics.MetricsServer;
import io.pmig.platform.metrics.RoleMetrics;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.features.FeatureLayout;
import io.pmig.schemas.serde.AvroSerde;
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
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
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
 *   <li>{@code GET /nodes[?state=hot&sort=score&limit=50&after=<node>&fields=full]}: the nodes' latest score and
 *       state, filtered, ordered and paged ({@link NodeQuery}; {@code next} names the {@code after} of the next page).
 *       Each instance holds the nodes of its own pmig.metrics partitions, so the receiving instance asks every
 *       instance that hosts {@value AnalyticsTopology#STATUS_STORE} (found through {@code application.server}) for
 *       its part with the same parameters - all at once, each with a {@link #PEER_TIMEOUT} timeout; one that does
 *       not answer is listed under {@code unavailable} - and merges them.</li>
 *   <li>{@code GET /cluster}: how many nodes are in each state, in the cluster and per cell ({@code analytics.cells}).</li>
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
    private static final AvroSerde<NodeScore> SCORES = AvroSerde.of(NodeScore.class);
    /** How long a query waits for another instance's part: a slow peer costs one query this much, not the whole answer. */
    static final Duration PEER_TIMEOUT = Duration.ofSeconds(2);

    private final HttpServer server;
    private final ExecutorService executor = Executors.newFixedThreadPool(4, runnable -> {
        Thread thread = new Thread(runnable, "analytics-http");
        thread.setDaemon(true);
        return thread;
    });
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(PEER_TIMEOUT).build();
    private KafkaStreams streams;
    private HostInfo self;
    private CurrentScorer scorer;
    private Cells cells = new Cells(1);

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
        start(streams, scorer, metrics, new Cells(1));
    }

    /** The same, with the cells {@code GET /cluster} counts nodes in. */
    public void start(KafkaStreams streams, CurrentScorer scorer, RoleMetrics metrics, Cells cells) {
        this.cells = cells;
        this.streams = streams;
        this.scorer = scorer;
        server.setExecutor(executor);
        if (metrics != null) {
            server.createContext("/metrics", MetricsServer.handler(metrics));
        }
        server.createContext("/nodes", this::handleNodes);
        server.createContext("/model", this::handleModel);
        server.createContext("/cluster", this::handleCluster);
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
            String rawQuery = exchange.getRequestURI().getRawQuery();
            boolean local = rawQuery != null && List.of(rawQuery.split("&")).contains("scope=local");
            if (path.equals("/nodes") || path.equals("/nodes/")) {
                NodeQuery query;
                try {
                    query = NodeQuery.parse(rawQuery);
                } catch (IllegalArgumentException e) {
                    respond(exchange, 400, error(e.getMessage()));
                    return;
                }
                respond(exchange, 200, local ? localNodes(query) : allNodes(query));
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

    /** Every instance's part - this one's and the others', asked all at once - merged. */
    private ObjectNode allNodes(NodeQuery query) {
        Map<String, JsonNode> byNode = new HashMap<>();
        long total = 0;
        ArrayNode unavailable = JSON.createArrayNode();
        for (Map.Entry<HostInfo, JsonNode> part : gather("/nodes?" + query.forPeer(), () -> localNodes(query)).entrySet()) {
            if (part.getValue() == null) {
                unavailable.add(part.getKey().host() + ":" + part.getKey().port());
                continue;
            }
            total += part.getValue().path("total").asLong();
            part.getValue().path("nodes").forEach(node -> byNode.put(node.path("nodeId").asText(), node));
        }
        List<JsonNode> page = query.firstOf(List.copyOf(byNode.values()));
        ObjectNode body = JSON.createObjectNode();
        body.put("answeredBy", self.host() + ":" + self.port());
        body.set("unavailable", unavailable);
        body.put("total", total);
        body.putArray("nodes").addAll(page);
        if (!query.byScore() && total > page.size()) {
            body.put("next", page.get(page.size() - 1).path("nodeId").asText());
        } else {
            body.putNull("next");
        }
        return body;
    }

    /** This instance's nodes that match, the first {@code limit} in the query's order; {@code total} counts every match. */
    private ObjectNode localNodes(NodeQuery query) {
        List<NodeScore> matching = new ArrayList<>();
        try (KeyValueIterator<String, byte[]> all = statusStore().all()) {
            all.forEachRemaining(entry -> {
                NodeScore score = decode(entry.value);
                if (score != null && query.matches(score)) {
                    matching.add(score);
                }
            });
        }
        Comparator<NodeScore> byId = Comparator.comparing(NodeScore::getNodeId);
        matching.sort(query.byScore() ? Comparator.comparingDouble((NodeScore n) -> -n.getScore()).thenComparing(byId) : byId);
        ObjectNode body = JSON.createObjectNode();
        body.put("answeredBy", self.host() + ":" + self.port());
        body.put("total", matching.size());
        ArrayNode nodes = body.putArray("nodes");
        for (NodeScore score : matching.subList(0, Math.min(query.limit(), matching.size()))) {
            nodes.add(query.full() ? RECORD_JSON.toJson(score) : compact(score));
        }
        return body;
    }

    /** What a list of many nodes needs of each: about 150 bytes instead of every feature. */
    static ObjectNode compact(NodeScore score) {
        ObjectNode node = JSON.createObjectNode().put("nodeId", score.getNodeId()).put("state", score.getState().name())
                .put("score", score.getScore()).put("windowEndMs", score.getWindowEndMs());
        Double cpu = FeatureLayout.feature(score, "cpu_last");
        Double mem = FeatureLayout.feature(score, "mem_fraction_last");
        if (cpu != null) {
            node.put("cpu", cpu);
        }
        if (mem != null) {
            node.put("mem", mem);
        }
        return node;
    }

    private void handleCluster(HttpExchange exchange) throws IOException {
        try {
            String rawQuery = exchange.getRequestURI().getRawQuery();
            respond(exchange, 200, "scope=local".equals(rawQuery) ? localCluster() : cluster());
        } catch (InvalidStateStoreException e) {
            respond(exchange, 503, error("state not queryable right now (rebalancing?): " + e.getMessage()));
        } catch (RuntimeException e) {
            log.warn("query {} failed", exchange.getRequestURI(), e);
            respond(exchange, 500, error(e.toString()));
        }
    }

    /** Counts of this instance's nodes: in each state, and per cell. */
    private ObjectNode localCluster() {
        Map<String, Long> byState = new TreeMap<>();
        Map<String, Map<String, Long>> byCell = new TreeMap<>();
        try (KeyValueIterator<String, byte[]> all = statusStore().all()) {
            all.forEachRemaining(entry -> {
                NodeScore score = decode(entry.value);
                if (score != null) {
                    String state = score.getState().name();
                    byState.merge(state, 1L, Long::sum);
                    Map<String, Long> cell = byCell.computeIfAbsent(cells.cellOf(entry.key), c -> new TreeMap<>());
                    cell.merge("nodes", 1L, Long::sum);
                    cell.merge(state, 1L, Long::sum);
                }
            });
        }
        ObjectNode body = JSON.createObjectNode();
        body.put("nodes", byState.values().stream().mapToLong(Long::longValue).sum());
        body.set("byState", JSON.valueToTree(byState));
        body.set("cells", JSON.valueToTree(byCell));
        return body;
    }

    private ObjectNode cluster() {
        Map<String, Long> byState = new TreeMap<>();
        Map<String, Map<String, Long>> byCell = new TreeMap<>();
        long nodes = 0;
        ArrayNode unavailable = JSON.createArrayNode();
        for (Map.Entry<HostInfo, JsonNode> part : gather("/cluster?scope=local", this::localCluster).entrySet()) {
            if (part.getValue() == null) {
                unavailable.add(part.getKey().host() + ":" + part.getKey().port());
                continue;
            }
            nodes += part.getValue().path("nodes").asLong();
            part.getValue().path("byState").properties().forEach(e -> byState.merge(e.getKey(), e.getValue().asLong(), Long::sum));
            part.getValue().path("cells").properties().forEach(cell -> cell.getValue().properties().forEach(e ->
                    byCell.computeIfAbsent(cell.getKey(), c -> new TreeMap<>()).merge(e.getKey(), e.getValue().asLong(), Long::sum)));
        }
        ObjectNode body = JSON.createObjectNode();
        body.put("answeredBy", self.host() + ":" + self.port());
        body.set("unavailable", unavailable);
        body.put("nodes", nodes);
        body.set("byState", JSON.valueToTree(byState));
        body.set("cells", JSON.valueToTree(byCell));
        return body;
    }

    /**
     * Asks every instance that hosts the status store for its part, the others all at once over HTTP and this one
     * directly; an instance that does not answer within {@link #PEER_TIMEOUT} maps to null.
     */
    private Map<HostInfo, JsonNode> gather(String pathAndQuery, Supplier<JsonNode> local) {
        Map<HostInfo, CompletableFuture<JsonNode>> asked = new LinkedHashMap<>();
        for (StreamsMetadata instance : streams.streamsMetadataForStore(AnalyticsTopology.STATUS_STORE)) {
            if (!instance.hostInfo().equals(self)) {
                asked.put(instance.hostInfo(), fetchAsync(instance.hostInfo(), pathAndQuery));
            }
        }
        Map<HostInfo, JsonNode> parts = new LinkedHashMap<>();
        parts.put(self, local.get());
        asked.forEach((host, answer) -> parts.put(host, answer.join()));
        return parts;
    }

    private CompletableFuture<JsonNode> fetchAsync(HostInfo host, String pathAndQuery) {
        URI uri = URI.create("http://" + host.host() + ":" + host.port() + pathAndQuery);
        return client.sendAsync(HttpRequest.newBuilder(uri).timeout(PEER_TIMEOUT).GET().build(),
                        HttpResponse.BodyHandlers.ofByteArray())
                .thenApply(response -> {
                    if (response.statusCode() != 200) {
                        log.warn("{} answered {}", uri, response.statusCode());
                        return (JsonNode) null;
                    }
                    try {
                        return JSON.readTree(response.body());
                    } catch (IOException e) {
                        log.warn("{} answered what is not JSON: {}", uri, e.toString());
                        return null;
                    }
                })
                .exceptionally(e -> {
                    log.warn("cannot reach {}: {}", uri, e.toString());
                    return null;
                });
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
        NodeScore score = decode(statusStore().get(node));
        if (score == null) {
            respond(exchange, 404, error("no node " + node + " here"));
        } else {
            ObjectNode body = (ObjectNode) RECORD_JSON.toJson(score);
            body.put("answeredBy", self.host() + ":" + self.port());
            respond(exchange, 200, body);
        }
    }

    /** Values as on pmig.scores: the window stage encodes each NodeScore once, for the topic and this store. */
    private ReadOnlyKeyValueStore<String, byte[]> statusStore() {
        return streams.store(StoreQueryParameters.fromNameAndType(AnalyticsTopology.STATUS_STORE,
                QueryableStoreTypes.<String, byte[]>keyValueStore()));
    }

    private static NodeScore decode(byte[] bytes) {
        return bytes == null ? null : SCORES.decode(bytes);
    }

    /** GET from another instance; null when it cannot answer, so one lost peer does not fail the query. */
    private JsonNode fetch(HostInfo host, String pathAndQuery) {
        URI uri = URI.create("http://" + host.host() + ":" + host.port() + pathAndQuery);
        try {
            HttpResponse<byte[]> response = client.send(HttpRequest.newBuilder(uri).timeout(PEER_TIMEOUT).GET().build(),
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
        byte[] bytes = JSON.writeValueAsBytes(body); // compact: a list of many nodes is mostly whitespace pretty-printed
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
