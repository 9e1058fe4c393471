package io.pmig.executor;

import static io.pmig.executor.TestNodes.ended;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.network.LocalSegment;
import io.pmig.executor.network.UnreachableAnswers;
import io.pmig.broker.EmbeddedBroker;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.topics.TopicCreator;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.NetworkIdentity;
import io.pmig.schemas.Phase;
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
    private static final Map<String, LocalSegment.NodeNamespace> namespaces = new java.util.HashMap<>();
    private static SegmentClients clients;
    /** Node c's restores of received images wait until this exists, and fail if {@link #failing} exists then. */
    private static Path gate;
    private static Path failing;

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
        clients = new SegmentClients(segment, nodes.root);
        gate = Files.createFile(nodes.root.resolve("c.gate"));
        failing = nodes.root.resolve("c.failing");
        Path gatedCriu = nodes.gatedCriu(gate, failing);
        for (String name : List.of("a", "b", "c")) {
            LocalSegment.NodeNamespace ns = segment.nodeNamespace(name);
            namespaces.put(name, ns);
            executors.put(name, nodes.startProcess(name, Map.of(), ns.launcher(), ns.address() + ":0",
                    List.of("--workload-bridge", ns.bridge(), "--workload-range", segment.range().toString(),
                            "--config", ExecutorConfig.WORKLOAD_UNREACHABLE_ANSWERS + "=true"),
                    name.equals("c") ? gatedCriu : TestNodes.criu().binary()));
        }
    }

    @AfterAll
    static void stopNodes() throws Exception {
        if (clients != null) {
            clients.close();
        }
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
        String ip = launch(w, "a", List.of("/usr/bin/redis-server",
                "--port", "6379", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"));
        await().atMost(WAIT).until(() -> clients.run("redis_client.py", "check", ip, "6379", "0").exitValue() == 0);
        assertEquals(0, clients.run("redis_client.py", "load", ip, "6379", String.valueOf(KEYS)).exitValue(), "loading keys");
        Path replies = nodes.root.resolve("incr.log");
        Process incr = clients.background(List.of("python3", clients.script("redis_client.py"), "incr", ip, "6379",
                replies.toString()), nodes.root.resolve("incr.err"));
        clients.awaitReplies(incr, replies, 50);

        List<String> hops = new ArrayList<>();
        String from = "a";
        for (String[] hop : new String[][] {{"b", "PAGE_SERVER"}, {"c", "LAZY"}, {"a", "PLAIN"}}) {
            String mid = nodes.send(CommandKind.MIGRATE, w, from, hop[0], MigrationMode.valueOf(hop[1]), List.of());
            MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);
            assertEquals(Phase.COMPLETED, done.getPhase(), hop[1] + ": " + nodes.eventsSummary());
            clients.awaitReplies(incr, replies, SegmentClients.replies(replies).size() + 50);
            hops.add(hop[1] + " " + from + "->" + hop[0] + ": downtime " + done.getTimings().getDowntimeMs() + " ms");
            from = hop[0];
        }
        System.out.println("redis hops between node namespaces: " + hops);
        assertTrue(incr.isAlive(), "the INCR client's connection broke: " + Files.readString(nodes.root.resolve("incr.err")));
        incr.destroy();
        Process check = clients.run("redis_client.py", "check", ip, "6379", String.valueOf(KEYS));
        String summary = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(summary.contains("\"dbsize\": " + (KEYS + 1)) && summary.contains("\"wrong\": 0"), summary);
        List<String> values = SegmentClients.replies(replies);
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


    /** An echo server for any number of connections, one thread each. */
    private static final String ECHO_SERVER = "import socket, threading\n"
            + "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            + "s.bind(('0.0.0.0', 7000)); s.listen(16)\n"
            + "def serve(c):\n"
            + "    while True:\n"
            + "        d = c.recv(4096)\n"
            + "        if not d: break\n"
            + "        c.sendall(d)\n"
            + "while True:\n"
            + "    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()\n";

    /**
     * While a workload is frozen on its source for a migration, the source node answers its clients' TCP with ICMP
     * host-unreachable from its own bridge (its MAC and its address on the segment, never the workload's), so the
     * client's retransmissions stay about one RTO apart instead of backing off; SYNs are not answered, so a connection
     * opened during the freeze is made once the workload runs again; the answers end at a rollback and at a COMMIT.
     * Node c's restores wait at a gate: the freeze lasts until the test has seen what it needs.
     */
    @Test
    void aFrozenWorkloadsClientsAreAnsweredHostUnreachableByItsNodeUntilRollbackOrCommit() throws Exception {
        String w = nodes.prefix + "echo";
        String ip = launch(w, "a", List.of("/usr/bin/python3", "-u", "-c", ECHO_SERVER));
        await().atMost(WAIT).until(() -> clients.run("frozen_client.py", "--probe", ip, "7000").exitValue() == 0);
        Path log = nodes.root.resolve("frozen.log");
        Path connects = Files.createDirectories(nodes.root.resolve("connects"));
        Process client = clients.background(List.of("python3", clients.script("frozen_client.py"), ip, "7000",
                log.toString(), connects.toString()), nodes.root.resolve("frozen.out"));
        awaitLines(client, log, "reply ", 50);
        LocalSegment.NodeNamespace a = namespaces.get("a");
        String bridgeMac = macOf(a);

        // held, then rolled back: c's restore fails once the gate opens
        Files.createFile(failing);
        Files.delete(gate);
        int replies = lines(log, "reply ").size();
        String toFail = nodes.send(CommandKind.MIGRATE, w, "a", "c", MigrationMode.PLAIN, List.of());
        awaitLines(client, log, "icmp ", 4);
        Files.createFile(connects.resolve("1"));
        awaitLines(client, log, "dialing 1", 1);
        Files.createFile(gate);
        MigrationEvent rolledBack = nodes.await(ended(toFail), WAIT, "end of " + toFail);
        assertEquals(Phase.ROLLED_BACK, rolledBack.getPhase(), nodes.eventsSummary());
        awaitLines(client, log, "connected 1", 1);
        await().atMost(WAIT).until(() -> answerTables(a).isEmpty()); // removed before the frozen copy resumed
        awaitLines(client, log, "reply ", lines(log, "reply ").size() + 50);

        List<String[]> icmps = lines(log, "icmp ").stream().map(l -> l.split(" ")).toList();
        for (String[] icmp : icmps) { // icmp <code> <source> <mac> <quoted tcp flags> <ms>
            assertEquals("1", icmp[1], "not host-unreachable: " + String.join(" ", icmp));
            assertEquals(a.segmentAddress(), icmp[2], "not from node a's address: " + String.join(" ", icmp));
            assertEquals(bridgeMac, icmp[3], "not from node a's bridge: " + String.join(" ", icmp));
            assertEquals(0, Integer.parseInt(icmp[4]) & 0x02, "a SYN was answered: " + String.join(" ", icmp));
        }
        // each ICMP reverts one backoff step: the retransmissions stay one RTO apart (dropped, they would double)
        List<Long> intervals = new ArrayList<>();
        for (int i = 1; i < 4; i++) {
            intervals.add(Long.parseLong(icmps.get(i)[5]) - Long.parseLong(icmps.get(i - 1)[5]));
        }
        assertTrue(intervals.stream().mapToLong(Long::longValue).max().orElseThrow()
                < 2 * intervals.stream().mapToLong(Long::longValue).min().orElseThrow(),
                "the client's retransmissions backed off although answered: intervals " + intervals + " ms");
        String rollbackSeen = "rollback: " + icmps.size() + " ICMP, intervals " + intervals + " ms, client gap "
                + gapsSince(log, replies) + " ms (reported downtime " + rolledBack.getTimings().getDowntimeMs() + " ms)";

        // held, then committed
        Files.delete(failing);
        Files.delete(gate);
        int answered = icmps.size();
        replies = lines(log, "reply ").size();
        String toCommit = nodes.send(CommandKind.MIGRATE, w, "a", "c", MigrationMode.PLAIN, List.of());
        awaitLines(client, log, "icmp ", answered + 1);
        Files.createFile(connects.resolve("2"));
        awaitLines(client, log, "dialing 2", 1);
        Files.createFile(gate);
        MigrationEvent completed = nodes.await(ended(toCommit), WAIT, "end of " + toCommit);
        assertEquals(Phase.COMPLETED, completed.getPhase(), nodes.eventsSummary());
        awaitLines(client, log, "connected 2", 1);
        // removed once the source has the COMMIT's answer (the destination publishes COMPLETED before it answers)
        await().atMost(WAIT).until(() -> answerTables(a).isEmpty());
        awaitLines(client, log, "reply ", lines(log, "reply ").size() + 50);
        System.out.println(rollbackSeen + "; commit: " + (lines(log, "icmp ").size() - answered) + " ICMP, client gap "
                + gapsSince(log, replies) + " ms (reported downtime " + completed.getTimings().getDowntimeMs() + " ms)");
        assertTrue(client.isAlive(), "the client's connection broke: " + lines(log, "broken"));
        String kill = nodes.send(CommandKind.KILL, w, "c", null, null, List.of());
        assertEquals(Phase.KILLED, nodes.await(e -> e.getCommandId().equals(kill), WAIT, "KILLED " + w).getPhase());
    }

    /** Launches {@code argv} on {@code node} with its own network identity; returns its address (no prefix). */
    private static String launch(String w, String node, List<String> argv) throws Exception {
        MigrationCommand launch = nodes.command(CommandKind.LAUNCH, w, null, node, null, argv);
        launch.setNetwork(NetworkIdentity.OWN);
        nodes.send(launch);
        MigrationEvent launched = nodes.await(e -> e.getCommandId().equals(launch.getCommandId()), WAIT, "LAUNCHED " + w);
        assertEquals(Phase.LAUNCHED, launched.getPhase(), String.valueOf(launched.getError()));
        return launched.getAddress().substring(0, launched.getAddress().indexOf('/'));
    }

    /** Waits for {@code count} lines of the frozen client's log starting with {@code prefix}; fails if it ended or a dial failed. */
    private static void awaitLines(Process client, Path log, String prefix, int count) {
        await().atMost(WAIT).pollInterval(Duration.ofMillis(20)).until(() -> {
            assertTrue(client.isAlive(), () -> "the client ended: " + lines(log, "broken") + " " + clients.said(client));
            assertTrue(lines(log, "failed ").isEmpty(), () -> "a connection made during the freeze failed: " + lines(log, "failed ")
                    + "; ICMP seen: " + lines(log, "icmp ").stream().skip(Math.max(0, lines(log, "icmp ").size() - 8)).toList());
            return lines(log, prefix).size() >= count;
        });
    }

    private static List<String> lines(Path log, String prefix) {
        try {
            if (!Files.exists(log)) {
                return List.of();
            }
            String text = Files.readString(log);
            // the client is still writing: a last line without its newline may be cut short
            return text.substring(0, text.lastIndexOf('\n') + 1).lines().filter(l -> l.startsWith(prefix)).toList();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The longest gap between echo replies from the {@code after}-th on (the first one after it included). */
    private static long gapsSince(Path log, int after) throws Exception {
        List<String> replies = lines(log, "reply ");
        return replies.subList(Math.max(0, after), replies.size()).stream()
                .mapToLong(l -> Long.parseLong(l.split(" ")[2])).max().orElse(0);
    }

    private static String macOf(LocalSegment.NodeNamespace node) throws Exception {
        String out = run(List.of("ip", "-n", node.namespace(), "-o", "link", "show", node.bridge()));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("link/ether ([0-9a-f:]{17})").matcher(out);
        assertTrue(m.find(), out);
        return m.group(1);
    }

    /** The node's nft tables of ICMP answers ({@link UnreachableAnswers}), in its namespace. */
    private static List<String> answerTables(LocalSegment.NodeNamespace node) throws Exception {
        String nft = TestNodes.criu().nft().orElseThrow().toString();
        return run(List.of("ip", "netns", "exec", node.namespace(), nft, "list", "tables")).lines()
                .filter(l -> l.contains(UnreachableAnswers.TABLE_PREFIX)).toList();
    }

    private static String run(List<String> argv) throws Exception {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, argv + ": " + out);
        return out;
    }
}
