package io.pmig.systemtest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code compose/docker-compose.yml} as the README runs it - broker, three nodes, two analytics replicas, dashboard,
 * Prometheus - under its own project name, with this build's images. The README's commands move a workload between
 * node containers twice: by hand ({@code pmig migrate}) and by analytics, when a CPU fault overloads its node; the
 * analytics service scales to three replicas; Prometheus' query API answers pmig's series from every role.
 */
class ComposeIT {

    private static final String PROJECT = "pmig-it";
    /**
     * Counts once a second and burns a fifth of a core (0.2 s of every second): analytics moves only a workload whose
     * move relieves its node (issue 16), so the witness must carry load of its own beside the pinned fault.
     */
    private static final String COUNTER = "sh -c 'while :; do :; done' & b=$!; trap \"kill -CONT $b; kill $b\" EXIT; i=0; while :; do i=$((i+1)); echo $i > n; kill -CONT $b; sleep 0.2; kill -STOP $b; sleep 0.8; done";
    private static final Pattern COMPLETED_ON = Pattern.compile("COMPLETED\\s+witness on (node\\d)");
    private static final Pattern WORKLOAD_ADDRESS = Pattern.compile("(?m)^witness\\s.*?\\b(10\\.213\\.\\d+\\.\\d+)/16");

    private static List<String> compose;
    private static Map<String, String> env;
    private static int dashboardPort;
    private static int prometheusPort;

    @BeforeAll
    static void up() throws Exception {
        PmigImages.build();
        Path file = PmigImages.repository().resolve("compose/docker-compose.yml");
        compose = new ArrayList<>(composeCommand());
        compose.addAll(List.of("-p", PROJECT, "-f", file.toString()));
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            dashboardPort = free.getLocalPort();
        }
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            prometheusPort = free.getLocalPort();
        }
        env = Map.of("PMIG_IMAGE", PmigImages.PMIG, "PMIG_DASHBOARD_PORT", String.valueOf(dashboardPort),
                "PMIG_PROMETHEUS_IMAGE", PmigImages.PROMETHEUS, "PMIG_PROMETHEUS_PORT", String.valueOf(prometheusPort));
        compose("down", "-v", "-t", "5"); // a previous run killed before its @AfterAll
        Result up = compose("up", "-d");
        assertEquals(0, up.code(), "compose up:\n" + up.output());
        for (String node : List.of("node1", "node2", "node3")) {
            Await.until(node + "'s executor ready", Duration.ofMinutes(3),
                    () -> compose("logs", "--no-color", node).output().contains("executor " + node + " ready"));
        }
    }

    @AfterAll
    static void down() throws Exception {
        if (compose != null) {
            compose("down", "-v", "-t", "5");
        }
    }

    @Test
    void theReadmesCommandsMoveAWorkloadBetweenNodeContainersByHandAndByAnalytics() throws Exception {
        exec("node1", "pmig", "launch", "--bootstrap-server", "kafka:9092", "--node", "node1", "--id", "witness", "--",
                "sh", "-c", COUNTER);
        Await.until("the witness counting on node1", Duration.ofMinutes(1), () -> counter("node1") >= 3);
        // every node has a workload bridge, so `launch` (--net auto) gave the witness its own address on `workloads`
        String address = Await.value("the witness's address in pmig ps", Duration.ofMinutes(1), () -> {
            Matcher m = WORKLOAD_ADDRESS.matcher(exec("node1", "pmig", "ps", "--bootstrap-server", "kafka:9092").output());
            return m.find() ? m.group(1) : null;
        });
        Await.until("the witness's own kernel answering at " + address + " on node1", Duration.ofSeconds(30),
                () -> answers(address));

        Result moved = exec("node1", "pmig", "migrate", "--bootstrap-server", "kafka:9092", "--to", "node2",
                "--mode", "PLAIN", "witness");
        assertTrue(moved.output().contains("COMPLETED   witness on node2"), moved.output());
        long onArrival = counter("node2");
        Await.until("the witness counting on node2", Duration.ofSeconds(30), () -> counter("node2") > onArrival + 2);
        Await.until("the witness answering at " + address + " on node2", Duration.ofSeconds(30), () -> answers(address));

        // overload node2 (a pinned core on a node of half a core): analytics moves the witness on
        exec("node2", "pmig", "fault", "cpu", "--bootstrap-server", "kafka:9092", "--node", "node2", "--duration-s", "600");
        String destination = Await.value("analytics to move the witness off node2", Duration.ofMinutes(3), () -> {
            Matcher m = COMPLETED_ON.matcher(exec("node1", "pmig", "events", "--bootstrap-server", "kafka:9092",
                    "--workload", "witness").output());
            String last = null;
            while (m.find()) {
                last = m.group(1);
            }
            return "node2".equals(last) || last == null ? null : last;
        });
        long resumed = counter(destination);
        Await.until("the witness counting on " + destination, Duration.ofSeconds(30), () -> counter(destination) > resumed + 2);
        String events = exec("node1", "pmig", "console-consumer", "--bootstrap-server", "kafka:9092",
                "--topic", "pmig.commands", "--from-beginning", "--timeout-ms", "10000").output();
        assertTrue(events.contains("\"issuedBy\":\"analytics\""), "the second move was analytics' decision:\n" + events);

        HttpResponse<String> dashboard = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + dashboardPort + "/")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, dashboard.statusCode(), "the dashboard answers on the published port");
    }

    @Test
    void theAnalyticsServiceScalesAndEveryReplicaKeepsRunning() throws Exception {
        Result scaled = compose("up", "-d", "--scale", "analytics=3");
        assertEquals(0, scaled.code(), scaled.output());
        List<String> ids = compose("ps", "-q", "analytics").output().lines().filter(l -> !l.isBlank()).toList();
        assertEquals(3, ids.size(), "three analytics containers: " + ids);
        for (String id : ids) {
            Await.until("analytics " + id + " serving", Duration.ofMinutes(2),
                    () -> docker("logs", id).contains("serving http://"));
            String restarts = docker("inspect", "-f", "{{.RestartCount}}", id).strip();
            if (!restarts.equals("0")) { // what the previous run said before it stopped
                fail("analytics " + id + " restarted " + restarts + " time(s); its log ends:\n" + docker("logs", "--tail", "40", id));
            }
        }
    }

    @Test
    void prometheusScrapesEveryRoleAndItsQueryApiAnswersPmigSeries() throws Exception {
        // every target up: three agents, three executors, the analytics replicas (2, or 3 once scaled)
        Await.until("Prometheus scraping every agent", Duration.ofMinutes(2),
                () -> promQuery("count(up{job=\"pmig-agent\"} == 1)") == 3);
        Await.until("Prometheus scraping every executor", Duration.ofMinutes(1),
                () -> promQuery("count(up{job=\"pmig-executor\"} == 1)") == 3);
        Await.until("Prometheus scraping the analytics replicas", Duration.ofMinutes(1),
                () -> promQuery("count(up{job=\"pmig-analytics\"} == 1)") >= 2);
        // pmig's own series, from each role, per node
        Await.until("samples published by every node's agent", Duration.ofMinutes(1),
                () -> promQuery("count(pmig_agent_samples_published_total{job=\"pmig-agent\"} > 0)") == 3);
        assertEquals(3, promQuery("count(pmig_executor_workloads{job=\"pmig-executor\"})"), "every executor's gauge");
        assertEquals(3, promQuery("count(count by (node) (pmig_executor_migrations_total{job=\"pmig-executor\"}))"));
        Await.until("analytics scoring every node", Duration.ofMinutes(1),
                () -> promQuery("count(count by (node) (pmig_analytics_node_score{job=\"pmig-analytics\"} >= 0))") == 3);
        assertTrue(promQuery("sum(pmig_analytics_model_info{job=\"pmig-analytics\"})") >= 2,
                "each replica reports the scorer it uses");
        assertTrue(promQuery("count({job=\"pmig-analytics\",__name__=~\"kafka_stream_.*\"})") > 0, "Kafka Streams metrics");
        // the image's alerting rules (compose/alerts.yml) are loaded and evaluate without error
        HttpResponse<String> rules = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
                "http://127.0.0.1:" + prometheusPort + "/api/v1/rules?type=alert")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        var loaded = new com.fasterxml.jackson.databind.ObjectMapper().readTree(rules.body()).path("data").path("groups");
        List<String> names = new ArrayList<>();
        loaded.forEach(g -> g.path("rules").forEach(r -> names.add(r.path("name").asText())));
        assertTrue(names.contains("PmigExecutorReaderFailing") && names.contains("PmigTargetDown"), rules.body());
        loaded.forEach(g -> g.path("rules").forEach(r -> assertTrue(!"err".equals(r.path("health").asText()), r.toString())));
    }

    /** A PromQL query's single value from the compose Prometheus' HTTP API; NaN when it has none (yet). */
    private static double promQuery(String promql) throws Exception {
        URI uri = URI.create("http://127.0.0.1:" + prometheusPort + "/api/v1/query?query="
                + java.net.URLEncoder.encode(promql, StandardCharsets.UTF_8));
        try {
            HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(uri)
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            var result = new com.fasterxml.jackson.databind.ObjectMapper().readTree(response.body()).path("data").path("result");
            return result.isEmpty() ? Double.NaN : Double.parseDouble(result.path(0).path("value").path(1).asText());
        } catch (java.io.IOException notUpYet) {
            return Double.NaN;
        }
    }

    private static String docker(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("docker"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(1, TimeUnit.MINUTES);
        return out;
    }

    /**
     * True if the kernel of the witness's network namespace answers a connection to a closed port (with a reset) from
     * this host, over the Docker bridge of the compose file's `workloads` network (10.213.0.1 here).
     */
    private static boolean answers(String address) {
        try (java.net.Socket s = new java.net.Socket()) {
            s.connect(new java.net.InetSocketAddress(address, 9), 2000);
            return true;
        } catch (java.net.ConnectException refused) {
            return String.valueOf(refused.getMessage()).contains("refused");
        } catch (java.io.IOException unreachable) {
            return false;
        }
    }

    /** The witness's counter in a node container (-1 when it has none). */
    private static long counter(String node) throws Exception {
        Result r = compose("exec", "-T", node, "cat", "/var/lib/pmig/workloads/witness/work/n");
        return r.code() == 0 ? Long.parseLong(r.output().strip()) : -1;
    }

    private static Result exec(String service, String... command) throws Exception {
        List<String> args = new ArrayList<>(List.of("exec", "-T", service));
        args.addAll(List.of(command));
        Result r = compose(args.toArray(String[]::new));
        if (r.code() != 0) {
            fail(String.join(" ", command) + " in " + service + " exited " + r.code() + ":\n" + r.output());
        }
        return r;
    }

    record Result(int code, String output) {
    }

    private static Result compose(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(compose);
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile("pmig-compose", ".out");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().putAll(env == null ? Map.of() : env);
            Process p = pb.start();
            if (!p.waitFor(5, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                fail(String.join(" ", cmd) + " did not finish within 5 minutes");
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** `docker compose` (v2 plugin) where it exists, else Debian's `docker-compose` (v1; build-images.sh installs it). */
    private static List<String> composeCommand() throws Exception {
        Process v2 = new ProcessBuilder("docker", "compose", "version").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return v2.waitFor(30, TimeUnit.SECONDS) && v2.exitValue() == 0 ? List.of("docker", "compose") : List.of("docker-compose");
    }
}
