package io.pmig.cli.metrics;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.agent.AgentConfig;
import io.pmig.agent.MetricsAgent;
import io.pmig.analytics.AnalyticsApp;
import io.pmig.analytics.AnalyticsConfig;
import io.pmig.cli.demo.CriuLocator;
import io.pmig.executor.ExecutorCommand;
import io.pmig.executor.ExecutorConfig;
import io.pmig.executor.node.NodeExecutor;
import io.pmig.executor.workload.InitBinary;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.NodeCapacity;
import io.pmig.schemas.SamplingMode;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A real Prometheus (Debian's, from scripts/install-prometheus.sh) scrapes an agent, an analytics instance and an
 * executor started in this JVM, each on its own metrics port as the command line sets it: every target is up with no
 * scrape error, and its query API answers pmig's series with the values the roles' activity produced.
 */
class PrometheusScrapeTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern PMIG_SERIES = Pattern.compile("pmig_[a-z_]+");
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @TempDir
    Path tmp;

    @Test
    void prometheusScrapesEveryRoleAndItsQueryApiReturnsPmigSeries() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        String node = "prom-" + run;
        AgentConfig agentConfig = new AgentConfig(node, Duration.ofMillis(200), SamplingMode.HOST,
                NodeCapacity.newBuilder().setCpus(2).setMemBytes(1L << 30).build(), null, 100,
                SharedBroker.clientProperties()).withMetrics("127.0.0.1", 0);
        AnalyticsConfig analyticsConfig = AnalyticsConfig.of(Map.of(AnalyticsConfig.APPLICATION_ID, "analytics-prom-" + run,
                AnalyticsConfig.MODEL_KEY, "prom-model-" + run, // no model, whatever other tests published
                AnalyticsConfig.METRICS_HOST, "127.0.0.1", AnalyticsConfig.METRICS_PORT, "0"));
        ExecutorCommand command = new ExecutorCommand();
        new CommandLine(command).parseArgs("--node", node, "--listen", "127.0.0.1:0",
                "--workdir", Files.createDirectories(tmp.resolve("executor")).toString(),
                "--criu", CriuLocator.locate().binary().toString(),
                "--init-path", InitBinary.install(tmp.resolve("bin/pmig-init")).toString(),
                "--secret-file", Files.writeString(tmp.resolve("secret"), "prometheus-test-secret-0123456789\n").toString(),
                "--bootstrap-server", SharedBroker.bootstrapServers(),
                "--metrics-host", "127.0.0.1", "--metrics-port", "0");
        ExecutorConfig executorConfig = command.config();

        try (MetricsAgent agent = new MetricsAgent(agentConfig).start();
             AnalyticsApp analytics = AnalyticsApp.start(analyticsConfig, SharedBroker.clientProperties(), "prom-" + run,
                     "127.0.0.1", 0, Files.createDirectories(tmp.resolve("analytics")));
             NodeExecutor executor = NodeExecutor.start(executorConfig)) {
            // the executor answers a KILL of a workload it does not have with FAILED: one event to count
            try (var producer = new KafkaProducer<>(SharedBroker.clientProperties(), new StringSerializer(),
                    Topic.COMMANDS.<MigrationCommand>serde().serializer())) {
                producer.send(new ProducerRecord<>(Topic.COMMANDS.topicName(), node, MigrationCommand.newBuilder()
                        .setCommandId("prom-kill-" + run).setKind(CommandKind.KILL).setWorkloadId("absent-" + run)
                        .setSourceNode(node).setIssuedAtMs(System.currentTimeMillis()).setIssuedBy("test").build()))
                        .get(30, TimeUnit.SECONDS);
            }
            Map<String, InetSocketAddress> targets = Map.of("pmig-agent", agent.metricsAddress(),
                    "pmig-analytics", analytics.metricsAddress(), "pmig-executor", executor.metricsAddress());
            try (Prometheus prometheus = Prometheus.start(tmp.resolve("prometheus"), targets)) {
                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                        .until(() -> prometheus.query("sum(up{job=~\"pmig-.*\"})").path(0).path("value").path(1).asText(),
                                "3"::equals);
                for (JsonNode target : prometheus.get("/api/v1/targets").path("data").path("activeTargets")) {
                    assertEquals("up", target.path("health").asText(), target.toString());
                    assertEquals("", target.path("lastError").asText(), target.toString());
                }
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).until(() ->
                        value(prometheus.query("pmig_agent_samples_published_total{job=\"pmig-agent\",node=\"" + node + "\"}")) >= 1
                                && value(prometheus.query("pmig_executor_events_total{job=\"pmig-executor\",phase=\"FAILED\","
                                + "node=\"" + node + "\"}")) == 1);
                assertEquals(1, value(prometheus.query("pmig_analytics_model_info{job=\"pmig-analytics\",scorer=\"trend-rule\"}")));
                assertEquals(0, value(prometheus.query("sum(pmig_executor_migrations_total{job=\"pmig-executor\"})")),
                        "nothing migrated");
                assertTrue(value(prometheus.query("histogram_quantile(0.5, sum by (le) "
                        + "(pmig_agent_sampling_lag_seconds_bucket{job=\"pmig-agent\"}))")) < 60, "the lag is a histogram");
                assertTrue(prometheus.query("kafka_consumer_fetch_manager_records_consumed_total{job=\"pmig-executor\"}").size() > 0);
                assertTrue(prometheus.query("{job=\"pmig-analytics\",__name__=~\"kafka_stream_.*\"}").size() > 0);

                // the Grafana dashboard's queries are PromQL this Prometheus accepts, over series README documents
                JsonNode dashboard = JSON.readTree(Path.of("..", "compose", "grafana", "pmig-dashboard.json").toFile());
                String readme = Files.readString(Path.of("..", "README.md"));
                int queries = 0;
                for (JsonNode panel : dashboard.path("panels")) {
                    for (JsonNode target : panel.path("targets")) {
                        String expr = target.path("expr").asText();
                        JsonNode answer = prometheus.get("/api/v1/query?query=" + URLEncoder.encode(expr, StandardCharsets.UTF_8));
                        assertEquals("success", answer.path("status").asText(), panel.path("title") + ": " + expr + " -> " + answer);
                        Matcher names = PMIG_SERIES.matcher(expr);
                        while (names.find()) {
                            String base = names.group().replaceAll("_(bucket|sum|count)$", "");
                            assertTrue(readme.contains("`" + base), "README's Metrics section documents " + base);
                        }
                        queries++;
                    }
                }
                assertTrue(queries >= 15, queries + " queries");

                // compose/alerts.yml loads and evaluates over these real series, and a healthy cluster raises nothing
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).until(() -> {
                    JsonNode rules = prometheus.get("/api/v1/rules").path("data").path("groups").path(0).path("rules");
                    return rules.size() > 0 && java.util.stream.StreamSupport.stream(rules.spliterator(), false)
                            .allMatch(r -> !r.path("lastEvaluation").asText().startsWith("0001"));
                });
                JsonNode rules = prometheus.get("/api/v1/rules").path("data").path("groups").path(0).path("rules");
                assertEquals(AlertRulesTest.alertNames().size(), rules.size(), rules.toString());
                for (JsonNode rule : rules) {
                    assertEquals("ok", rule.path("health").asText(), rule.toString());
                    assertEquals("inactive", rule.path("state").asText(), rule.toString());
                }
            }
        }
    }

    private static double value(JsonNode result) {
        assertTrue(result.size() > 0, "no series");
        return Double.parseDouble(result.path(0).path("value").path(1).asText());
    }

    /** A Prometheus process of this test's, scraping the targets every second, on a free loopback port. */
    record Prometheus(Process process, String url, Path log) implements AutoCloseable {

        static Prometheus start(Path dir, Map<String, InetSocketAddress> targets) throws Exception {
            Files.createDirectories(dir);
            Files.copy(AlertRulesTest.RULES, dir.resolve("alerts.yml"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            StringBuilder config = new StringBuilder("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    + "  evaluation_interval: 1s\nrule_files: [alerts.yml]\nscrape_configs:\n");
            targets.forEach((job, address) -> config.append("  - job_name: ").append(job).append('\n')
                    .append("    static_configs:\n      - targets: ['127.0.0.1:").append(address.getPort()).append("']\n"));
            Path file = Files.writeString(dir.resolve("prometheus.yml"), config);
            int port;
            try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                port = socket.getLocalPort();
            }
            Path log = dir.resolve("prometheus.log");
            Process process = new ProcessBuilder(binary().toString(), "--config.file=" + file,
                    "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + port)
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            return new Prometheus(process, "http://127.0.0.1:" + port, log);
        }

        /** $PMIG_PROMETHEUS, the private install, or installed now by the project's script (idempotent). */
        static Path binary() throws Exception {
            String env = System.getenv("PMIG_PROMETHEUS");
            Path path = env != null ? Path.of(env) : Path.of("/opt/pmig/prometheus/usr/bin/prometheus");
            if (Files.isExecutable(path)) {
                return path;
            }
            Path script = Path.of("..", "scripts", "install-prometheus.sh").toAbsolutePath().normalize();
            Process p = new ProcessBuilder(script.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            assertTrue(p.waitFor(5, TimeUnit.MINUTES) && p.exitValue() == 0, "scripts/install-prometheus.sh failed");
            return Path.of(out.lines().reduce((a, b) -> b).orElseThrow());
        }

        /** The result array of an instant query (empty while Prometheus is not up yet). */
        JsonNode query(String promql) throws IOException {
            return get("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8)).path("data").path("result");
        }

        JsonNode get(String pathAndQuery) throws IOException {
            if (!process.isAlive()) {
                throw new AssertionError("prometheus exited: " + Files.readString(log));
            }
            try {
                HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create(url + pathAndQuery))
                        .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
                return JSON.readTree(response.body());
            } catch (IOException e) {
                return JSON.createObjectNode(); // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }
}
