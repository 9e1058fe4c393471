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
 * {@code compose/docker-compose.yml} as the README runs it - broker, three nodes, two analytics replicas, dashboard -
 * under its own project name, with this build's images. The README's commands move a workload between node
 * containers twice: by hand ({@code pmig migrate}) and by analytics, when a CPU fault overloads its node; and the
 * analytics service scales to three replicas.
 */
class ComposeIT {

    private static final String PROJECT = "pmig-it";
    /**
     * Counts once a second and burns a fifth of a core (0.2 s of every second): analytics moves only a workload whose
     * move relieves its node (issue 16), so the witness must carry load of its own beside the pinned fault.
     */
    private static final String COUNTER = "sh -c 'while :; do :; done' & b=$!; trap \"kill -CONT $b; kill $b\" EXIT; i=0; while :; do i=$((i+1)); echo $i > n; kill -CONT $b; sleep 0.2; kill -STOP $b; sleep 0.8; done";
    private static final Pattern COMPLETED_ON = Pattern.compile("COMPLETED\\s+witness on (node\\d)");

    private static List<String> compose;
    private static Map<String, String> env;
    private static int dashboardPort;

    @BeforeAll
    static void up() throws Exception {
        PmigImages.build();
        Path file = PmigImages.repository().resolve("compose/docker-compose.yml");
        compose = new ArrayList<>(composeCommand());
        compose.addAll(List.of("-p", PROJECT, "-f", file.toString()));
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            dashboardPort = free.getLocalPort();
        }
        env = Map.of("PMIG_IMAGE", PmigImages.PMIG, "PMIG_DASHBOARD_PORT", String.valueOf(dashboardPort));
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

        Result moved = exec("node1", "pmig", "migrate", "--bootstrap-server", "kafka:9092", "--to", "node2",
                "--mode", "PLAIN", "witness");
        assertTrue(moved.output().contains("COMPLETED   witness on node2"), moved.output());
        long onArrival = counter("node2");
        Await.until("the witness counting on node2", Duration.ofSeconds(30), () -> counter("node2") > onArrival + 2);

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
            assertEquals("0", docker("inspect", "-f", "{{.RestartCount}}", id).strip(), "never restarted: " + id);
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
