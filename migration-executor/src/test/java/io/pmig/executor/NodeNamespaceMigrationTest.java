package io.pmig.executor;

import static io.pmig.executor.TestNodes.ended;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.network.LocalSegment;
import io.pmig.broker.EmbeddedBroker;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.topics.TopicCreator;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.NetworkIdentity;
import io.pmig.schemas.Phase;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The test topology: every node is a network namespace with its own address on a control bridge, its executor
 * a process inside it (so page-server, lazy-pages and transfer connections cross between namespaces, not loopback), its
 * workload bridge inside it, cabled to the switch; the client in a namespace of its own; a broker of the test's own,
 * listening on the control bridge as well as on loopback.
 */
class NodeNamespaceMigrationTest {

    private static final Duration WAIT = Duration.ofSeconds(180);
    private static final int KEYS = 20_000;
    private static LocalSegment segment;
    private static EmbeddedBroker broker;
    private static TestNodes nodes;
    private static final Map<String, ExecutorProcess> executors = new java.util.HashMap<>();
    private static final List<Process> clients = new ArrayList<>();

    @BeforeAll
    static void startNodes() throws Exception {
        assertTrue(Files.isExecutable(Path.of("/usr/bin/redis-server")), "no /usr/bin/redis-server");
        segment = new LocalSegment();
        String control = segment.controlAddress();
        int port = freePort(InetAddress.getLoopbackAddress());
        int nodePort = freePort(InetAddress.getByName(control));
        String listeners = "PLAINTEXT://127.0.0.1:" + port + ",NODES://" + control + ":" + nodePort;
        broker = EmbeddedBroker.start(port, null, Map.of("listeners", listeners, "advertised.listeners", listeners,
                "listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,NODES:PLAINTEXT"));
        java.util.Properties kafka = KafkaClientOptions.of(broker.bootstrapServers()).clientProperties();
        TopicCreator.ensureTopics(kafka);
        nodes = new TestNodes(kafka, control + ":" + nodePort);
        for (String name : List.of("a", "b", "c")) {
            LocalSegment.NodeNamespace ns = segment.nodeNamespace(name);
            executors.put(name, nodes.startProcess(name, Map.of(), ns.launcher(), ns.address() + ":0",
                    List.of("--workload-bridge", ns.bridge(), "--workload-range", segment.range().toString())));
        }
    }

    @AfterAll
    static void stopNodes() throws Exception {
        clients.forEach(Process::destroyForcibly);
        if (nodes != null) {
            nodes.close();
        }
        if (broker != null) {
            broker.close();
        }
        if (segment != null) {
            segment.close();
        }
    }

    /** redis with its keys and one INCR connection moves a -> b -> c -> a between node namespaces, once in each mode. */
    @Test
    void redisKeepsItsClientWhileItMovesBetweenNodesThatAreNetworkNamespaces() throws Exception {
        for (var e : executors.entrySet()) {
            assertNotEquals(Files.readSymbolicLink(Path.of("/proc/self/ns/net")),
                    Files.readSymbolicLink(Path.of("/proc/" + e.getValue().pid() + "/ns/net")),
                    "executor " + e.getKey() + " runs in the test's network namespace");
        }
        String w = nodes.prefix + "redis";
        MigrationCommand launch = nodes.command(CommandKind.LAUNCH, w, null, "a", null, List.of("/usr/bin/redis-server",
                "--port", "6379", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"));
        launch.setNetwork(NetworkIdentity.OWN);
        nodes.send(launch);
        MigrationEvent launched = nodes.await(e -> e.getCommandId().equals(launch.getCommandId()), WAIT, "LAUNCHED " + w);
        assertEquals(Phase.LAUNCHED, launched.getPhase(), String.valueOf(launched.getError()));
        String ip = launched.getAddress().substring(0, launched.getAddress().indexOf('/'));
        await().atMost(WAIT).until(() -> client("check", ip, "6379", "0").exitValue() == 0);
        assertEquals(0, client("load", ip, "6379", String.valueOf(KEYS)).exitValue(), "loading keys");
        Path replies = nodes.root.resolve("incr.log");
        Process incr = new ProcessBuilder(segment.inClient(List.of("python3", script(), "incr", ip, "6379",
                replies.toString()))).redirectErrorStream(true).redirectOutput(nodes.root.resolve("incr.err").toFile()).start();
        clients.add(incr);
        awaitReplies(incr, replies, 50);

        List<String> hops = new ArrayList<>();
        String from = "a";
        for (String[] hop : new String[][] {{"b", "PAGE_SERVER"}, {"c", "LAZY"}, {"a", "PLAIN"}}) {
            String mid = nodes.send(CommandKind.MIGRATE, w, from, hop[0], MigrationMode.valueOf(hop[1]), List.of());
            MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);
            assertEquals(Phase.COMPLETED, done.getPhase(), hop[1] + ": " + nodes.eventsSummary());
            awaitReplies(incr, replies, lines(replies).size() + 50);
            hops.add(hop[1] + " " + from + "->" + hop[0] + ": downtime " + done.getTimings().getDowntimeMs() + " ms");
            from = hop[0];
        }
        System.out.println("redis hops between node namespaces: " + hops);
        assertTrue(incr.isAlive(), "the INCR client's connection broke: " + Files.readString(nodes.root.resolve("incr.err")));
        incr.destroy();
        Process check = client("check", ip, "6379", String.valueOf(KEYS));
        String summary = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(summary.contains("\"dbsize\": " + (KEYS + 1)) && summary.contains("\"wrong\": 0"), summary);
        List<String> values = lines(replies);
        for (int i = 1; i < values.size(); i++) {
            assertEquals(Long.parseLong(values.get(i - 1).split(" ")[0]) + 1, Long.parseLong(values.get(i).split(" ")[0]),
                    "INCR replies " + i + " of the one connection");
        }
        String kill = nodes.send(CommandKind.KILL, w, "a", null, null, List.of());
        assertEquals(Phase.KILLED, nodes.await(e -> e.getCommandId().equals(kill), WAIT, "KILLED " + w).getPhase());
    }

    private static int freePort(InetAddress address) throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, address)) {
            return s.getLocalPort();
        }
    }

    private static Process client(String... args) throws Exception {
        List<String> argv = new ArrayList<>(List.of("python3", script()));
        argv.addAll(List.of(args));
        Process p = new ProcessBuilder(segment.inClient(argv)).redirectErrorStream(true).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "redis_client.py " + List.of(args) + " did not end");
        return p;
    }

    private static String script() throws Exception {
        Path file = nodes.root.resolve("redis_client.py");
        if (!Files.exists(file)) {
            try (InputStream in = NodeNamespaceMigrationTest.class.getResourceAsStream("/network/redis_client.py")) {
                Files.copy(in, file);
            }
        }
        return file.toString();
    }

    private static void awaitReplies(Process client, Path replies, int count) {
        await().atMost(WAIT).pollInterval(Duration.ofMillis(50)).until(() -> {
            assertTrue(client.isAlive(), "the INCR client ended");
            return lines(replies).size() >= count;
        });
    }

    private static List<String> lines(Path file) throws Exception {
        return Files.exists(file) ? Files.readAllLines(file).stream().filter(l -> l.matches("\\d+ \\d+")).toList() : List.of();
    }
}
