package io.pmig.cli.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.pmig.cli.operator.EventLines;
import io.pmig.platform.metrics.MetricsServer;
import io.pmig.platform.metrics.RoleMetrics;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.NodeScore;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Executors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live web dashboard: follows pmig.metrics, pmig.scores, pmig.events and pmig.models (no consumer group,
 * so any number of dashboards can watch), asks the analytics instances' interactive-query endpoint for each
 * node's verdict (any instance answers for all; the next one is tried when one is down), and serves one page
 * plus {@code /api/state} as JSON.
 */
public final class DashboardServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DashboardServer.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long DOWN_AFTER_MS = 5_000;
    /** Nodes shown with charts by default: the hottest; the rest are counted in the summary. */
    public static final int TOP_NODES = 12;

    private final DashboardState state = new DashboardState();
    private final Properties clientProperties;
    private final List<URI> analytics;
    private final HttpServer http;
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofMillis(500)).build();
    private final Thread follower;
    private volatile KafkaConsumer<String, byte[]> consumer;
    private volatile boolean running = true;
    private final RoleMetrics metrics;
    private final int top;

    public DashboardServer(Properties clientProperties, List<URI> analytics, InetSocketAddress listen) throws IOException {
        this(clientProperties, analytics, listen, TOP_NODES);
    }

    /** A dashboard that charts the {@code top} hottest nodes and summarises the others. */
    public DashboardServer(Properties clientProperties, List<URI> analytics, InetSocketAddress listen, int top) throws IOException {
        if (top < 1) {
            throw new IllegalArgumentException("at least one node is shown: " + top);
        }
        this.top = top;
        this.clientProperties = clientProperties;
        this.analytics = analytics;
        this.http = HttpServer.create(listen, 0);
        http.setExecutor(Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "pmig-dashboard-http");
            t.setDaemon(true);
            return t;
        }));
        InetSocketAddress bound = http.getAddress();
        metrics = RoleMetrics.of("dashboard", "dashboard", bound.getHostString() + ":" + bound.getPort());
        http.createContext("/metrics", MetricsServer.handler(metrics)); // JVM and its consumer, for Prometheus
        http.createContext("/api/state", this::serveState);
        http.createContext("/", this::servePage);
        follower = new Thread(this::follow, "pmig-dashboard-follower");
        follower.setDaemon(true);
    }

    public DashboardServer start() {
        follower.start();
        http.start();
        log.info("dashboard at {}", url());
        return this;
    }

    public String url() {
        InetSocketAddress address = http.getAddress();
        return "http://" + address.getHostString() + ":" + address.getPort() + "/";
    }

    private void follow() {
        Properties props = (Properties) clientProperties.clone();
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        try (var kafka = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer())) {
            consumer = kafka;
            metrics.bind(kafka);
            Map<TopicPartition, Long> since = new HashMap<>();
            long fiveMinutesAgo = System.currentTimeMillis() - 300_000;
            for (Topic topic : List.of(Topic.METRICS, Topic.SCORES, Topic.EVENTS, Topic.MODELS)) {
                kafka.partitionsFor(topic.topicName(), Duration.ofSeconds(30)).forEach(p ->
                        since.put(new TopicPartition(p.topic(), p.partition()),
                                topic == Topic.METRICS || topic == Topic.SCORES ? fiveMinutesAgo : 0L));
            }
            kafka.assign(since.keySet());
            Map<TopicPartition, OffsetAndTimestamp> starts = kafka.offsetsForTimes(since);
            Map<TopicPartition, Long> ends = kafka.endOffsets(since.keySet());
            since.keySet().forEach(p -> kafka.seek(p, starts.get(p) == null ? ends.get(p) : starts.get(p).offset()));
            while (running) {
                for (ConsumerRecord<String, byte[]> record : kafka.poll(Duration.ofMillis(250))) {
                    apply(record);
                }
            }
        } catch (WakeupException stopping) {
            // close() woke us
        } catch (RuntimeException e) {
            log.error("dashboard stopped following the topics: {}", e.toString());
        }
    }

    private void apply(ConsumerRecord<String, byte[]> record) {
        if (record.value() == null) {
            return;
        }
        try {
            switch (Topic.byName(record.topic())) {
                case METRICS -> state.onMetrics(Topic.METRICS.<NodeMetrics>serde().decode(record.value()));
                case SCORES -> state.onScore(Topic.SCORES.<NodeScore>serde().decode(record.value()));
                case MODELS -> state.onModel(Topic.MODELS.<ModelUpdate>serde().decode(record.value()));
                case EVENTS -> {
                    MigrationEvent event = Topic.EVENTS.<MigrationEvent>serde().decode(record.value());
                    state.onEvent(event, EventLines.format(event));
                }
                default -> {
                }
            }
        } catch (RuntimeException e) {
            // A bad record is analytics' to dead-letter; the dashboard just skips it.
            log.debug("dashboard skipped {}-{}@{}: {}", record.topic(), record.partition(), record.offset(), e.getMessage());
        }
    }

    private void serveState(HttpExchange exchange) throws IOException {
        ObjectNode body = state.toJson(System.currentTimeMillis(), DOWN_AFTER_MS, top);
        // analytics' verdicts of the hottest nodes only, and its per-cell counts: bounded whatever the cluster's size
        JsonNode verdicts = askAnalytics("/nodes?sort=score&limit=" + top);
        if (verdicts != null) {
            body.set("analytics", verdicts);
        }
        JsonNode cluster = askAnalytics("/cluster");
        if (cluster != null) {
            body.set("analyticsCluster", cluster);
        }
        JsonNode model = askAnalytics("/model");
        if (model != null) {
            body.set("analyticsModel", model);
        }
        respond(exchange, 200, "application/json", JSON.writeValueAsBytes(body));
    }

    /** Any analytics instance answers for every node; try them in turn. */
    private JsonNode askAnalytics(String path) {
        for (URI base : analytics) {
            try {
                HttpResponse<String> response = client.send(HttpRequest.newBuilder(base.resolve(path))
                        .timeout(Duration.ofSeconds(1)).build(), HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() == 200) {
                    return JSON.readTree(response.body());
                }
            } catch (IOException e) {
                log.debug("analytics at {} did not answer: {}", base, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        return null;
    }

    private void servePage(HttpExchange exchange) throws IOException {
        if (!exchange.getRequestURI().getPath().equals("/")) {
            respond(exchange, 404, "text/plain", "not found".getBytes(StandardCharsets.UTF_8));
            return;
        }
        try (InputStream page = DashboardServer.class.getResourceAsStream("index.html")) {
            respond(exchange, 200, "text/html; charset=utf-8", page.readAllBytes());
        }
    }

    private static void respond(HttpExchange exchange, int status, String type, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.getResponseHeaders().set("Cache-Control", "no-store");
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    @Override
    public void close() {
        running = false;
        KafkaConsumer<String, byte[]> kafka = consumer;
        if (kafka != null) {
            kafka.wakeup();
        }
        http.stop(0);
        try {
            follower.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        metrics.close();
    }
}
