package io.pmig.executor;

import static io.pmig.executor.TestNodes.ended;
import static io.pmig.executor.TestNodes.phase;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.network.AddressBook;
import io.pmig.executor.network.AddressRange;
import io.pmig.executor.network.LocalSegment;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.NetworkIdentity;
import io.pmig.schemas.Phase;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Workloads with their own network identity (NETWORK-IDENTITY.md) keep their clients when they move: real executors and
 * criu, a real redis-server and HTTP server, clients in a network namespace of their own on a segment whose nodes each
 * have their own bridge ({@link LocalSegment}). What the clients saw is checked by the clients' own records.
 */
class NetworkIdentityMigrationTest {

    private static final Duration WAIT = Duration.ofSeconds(120);
    private static final int KEYS = 100_000;
    private static LocalSegment segment;
    private static TestNodes nodes;
    private static SegmentClients clients;

    @BeforeAll
    static void startNodes() throws Exception {
        assertTrue(Files.isExecutable(Path.of("/usr/bin/redis-server")),
                "no /usr/bin/redis-server: scripts/test.sh installs Debian's redis-server package");
        segment = new LocalSegment();
        nodes = new TestNodes();
        clients = new SegmentClients(segment, nodes.root);
        for (String name : List.of("a", "b", "c")) {
            String bridge = segment.nodeBridge(name);
            nodes.start(name, c -> c.set(ExecutorConfig.WORKLOAD_BRIDGE, bridge)
                    .set(ExecutorConfig.WORKLOAD_RANGE, segment.range().toString()));
        }
        nodes.start("plain", c -> c.set(ExecutorConfig.WORKLOAD_RANGE, segment.range().toString())); // no bridge
        String failing = segment.nodeBridge("f");
        Path corrupting = nodes.corruptingCriu();
        nodes.start("f", c -> c.set(ExecutorConfig.WORKLOAD_BRIDGE, failing).set(ExecutorConfig.WORKLOAD_RANGE, segment.range().toString())
                .set(ExecutorConfig.CRIU_PATH, corrupting));
    }

    @AfterAll
    static void stopNodes() throws Exception {
        if (clients != null) {
            clients.close();
        }
        if (nodes != null) {
            nodes.close();
        }
        if (segment != null) {
            segment.close();
        }
    }

    /**
     * The proof: a redis with 100k keys and a client issuing INCR on one connection moves a -> b -> c -> a, once
     * in each mode; the connection is never re-made, no INCR is lost or repeated, every key is intact.
     */
    @Test
    void redisKeepsItsClientAndItsKeysThroughAHopInEveryMode() throws Exception {
        String w = nodes.prefix + "redis";
        String address = launch(w, "a", List.of("/usr/bin/redis-server", "--port", "6379", "--bind", "0.0.0.0",
                "--protected-mode", "no", "--save", "", "--appendonly", "no"));
        String ip = address.substring(0, address.indexOf('/'));
        await().atMost(WAIT).until(() -> clients.run("redis_client.py", "check", ip, "6379", "0").exitValue() == 0);
        assertEquals(0, clients.run("redis_client.py", "load", ip, "6379", String.valueOf(KEYS)).exitValue(), "loading keys");
        Path replies = nodes.root.resolve("incr.log");
        Process incr = clients.background(List.of("python3", clients.script("redis_client.py"), "incr", ip, "6379", replies.toString()),
                nodes.root.resolve("incr.err"));
        clients.awaitReplies(incr, replies, 50);

        List<String> hops = new ArrayList<>();
        String from = "a";
        for (String[] hop : new String[][] {{"b", "PAGE_SERVER"}, {"c", "PLAIN"}, {"a", "LAZY"}}) {
            MigrationEvent done = migrate(w, from, hop[0], MigrationMode.valueOf(hop[1]));
            assertEquals(Phase.COMPLETED, done.getPhase(), hop[1] + ": " + nodes.eventsSummary());
            int before = SegmentClients.replies(replies).size();
            clients.awaitReplies(incr, replies, before + 50);
            hops.add(hop[1] + " " + from + "->" + hop[0] + ": downtime " + done.getTimings().getDowntimeMs() + " ms, client gap "
                    + SegmentClients.longestGap(replies) + " ms so far");
            from = hop[0];
        }
        System.out.println("redis hops: " + hops);
        assertTrue(incr.isAlive(), "the INCR client's connection broke: " + Files.readString(nodes.root.resolve("incr.err")));
        incr.destroy();
        assertTrue(incr.waitFor(10, TimeUnit.SECONDS));

        Process check = clients.run("redis_client.py", "check", ip, "6379", String.valueOf(KEYS));
        String summary = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        // the server was reached by: the readiness checks (>= 1), the loader, the INCR client and this check
        assertTrue(summary.contains("\"dbsize\": " + (KEYS + 1)) && summary.contains("\"wrong\": 0"), summary);
        List<String> values = SegmentClients.replies(replies);
        for (int i = 1; i < values.size(); i++) {
            assertEquals(Long.parseLong(values.get(i - 1).split(" ")[0]) + 1, Long.parseLong(values.get(i).split(" ")[0]),
                    "INCR replies " + i + " of the one connection");
        }
        kill(w, "a");
    }

    /** A UDP server that counts the datagrams it received: the one server socket the client talks to before a move. */
    private static final String UDP_SERVER = "import os, socket\n"
            + "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 5353))\n"
            + "token = os.urandom(6).hex().encode(); n = 0\n"
            + "while True:\n"
            + "    d, a = s.recvfrom(512); n += 1; s.sendto(b'%s %d %s' % (token, n, d), a)\n";

    /**
     * UDP sockets survive a move in every mode: a client sends a datagram every 10 ms from one socket throughout three
     * hops; each reply carries the token the server drew at its start and its count of datagrams received, so the same
     * process with the same socket state answers after every hop (the client exits if either restarts), and no
     * datagram is answered with a port-unreachable.
     */
    @Test
    void aUdpServerAnswersTheSameClientFromTheSameSocketAfterAHopInEveryMode() throws Exception {
        String w = nodes.prefix + "udp";
        String address = launch(w, "a", List.of("/usr/bin/python3", "-u", "-c", UDP_SERVER));
        String ip = address.substring(0, address.indexOf('/'));
        Path stop = nodes.root.resolve("udp.stop");
        Path replies = nodes.root.resolve("udp.log");
        Path result = nodes.root.resolve("udp.json");
        Process client = clients.background(List.of("python3", clients.script("udp_client.py"), ip, "5353", stop.toString(),
                replies.toString()), result);
        awaitUdpReplies(client, replies, 50);
        String token = udpLines(replies).get(0)[2];

        List<String> hops = new ArrayList<>();
        String from = "a";
        for (String[] hop : new String[][] {{"b", "PAGE_SERVER"}, {"c", "PLAIN"}, {"a", "LAZY"}}) {
            int start = udpLines(replies).size();
            MigrationEvent done = migrate(w, from, hop[0], MigrationMode.valueOf(hop[1]));
            assertEquals(Phase.COMPLETED, done.getPhase(), hop[1] + ": " + nodes.eventsSummary());
            long before = Long.parseLong(udpLines(replies).get(udpLines(replies).size() - 1)[0]);
            awaitUdpReplies(client, replies, udpLines(replies).size() + 50);
            List<String[]> after = udpLines(replies);
            assertTrue(Long.parseLong(after.get(after.size() - 1)[0]) > before, "the count did not go on after " + hop[1]);
            hops.add(hop[1] + " " + from + "->" + hop[0] + ": downtime " + done.getTimings().getDowntimeMs()
                    + " ms, longest gap between replies " + after.subList(start, after.size()).stream()
                    .mapToLong(l -> Long.parseLong(l[1])).max().orElse(0) + " ms");
            from = hop[0];
        }
        Files.writeString(stop, "");
        assertTrue(client.waitFor(30, TimeUnit.SECONDS));
        String summary = Files.readString(result).strip();
        System.out.println("udp hops: " + hops + "; client: " + summary);
        assertEquals(0, client.exitValue(), summary);
        assertTrue(summary.contains("\"refused\": 0,"), summary);
        assertTrue(udpLines(replies).stream().allMatch(l -> l[2].equals(token)), "a reply came from another server");
        kill(w, "a");
    }

    /** New connections made while the service is frozen wait and then succeed: none is refused or reset. */
    @Test
    void anHttpServerAnswersEveryRequestOfAClientThatConnectsEvery50msAcrossMigrations() throws Exception {
        String w = nodes.prefix + "http";
        String address = launch(w, "b", List.of("/usr/bin/python3", "-m", "http.server", "8080", "--bind", "0.0.0.0"));
        String ip = address.substring(0, address.indexOf('/'));
        Path stop = nodes.root.resolve("http.stop");
        Path result = nodes.root.resolve("http.json");
        await().atMost(WAIT).until(() -> segmentAnswers(ip, 8080));
        Path requests = nodes.root.resolve("http.log");
        Process client = clients.background(List.of("python3", clients.script("http_client.py"), ip, "8080", stop.toString(),
                requests.toString()), result);
        awaitRequests(client, requests, 20);
        assertEquals(Phase.COMPLETED, migrate(w, "b", "c", MigrationMode.PLAIN).getPhase(), nodes.eventsSummary());
        awaitRequests(client, requests, Files.readAllLines(requests).size() + 20);
        assertEquals(Phase.COMPLETED, migrate(w, "c", "b", MigrationMode.PAGE_SERVER).getPhase(), nodes.eventsSummary());
        awaitRequests(client, requests, Files.readAllLines(requests).size() + 20);
        Files.writeString(stop, "");
        assertTrue(client.waitFor(60, TimeUnit.SECONDS));
        String summary = Files.readString(result).strip();
        System.out.println("http client across PLAIN and PAGE_SERVER migrations: " + summary);
        assertTrue(summary.contains("\"failed\": 0,"), summary);
        kill(w, "b");
    }

    /**
     * A node with no workload bridge refuses to launch a workload with its own address, and refuses to receive one
     * before anything is frozen (its client's connection stays up); a destination whose restore fails hands the
     * workload back, serving at its address where it was.
     */
    @Test
    void refusalsAndAFailedRestoreLeaveTheWorkloadServingItsClientsWhereItWas() throws Exception {
        String refused = nodes.prefix + "nobridge";
        MigrationCommand refusedLaunch = launchCommand(refused, "plain", List.of("sleep", "100"));
        nodes.send(refusedLaunch);
        String launch = refusedLaunch.getCommandId();
        MigrationEvent noBridge = nodes.await(e -> e.getCommandId().equals(launch), WAIT, "answer to " + launch);
        assertEquals(Phase.LAUNCH_FAILED, noBridge.getPhase());
        assertTrue(noBridge.getError().contains("no workload bridge"), noBridge.getError());

        String w = nodes.prefix + "kept";
        String address = launch(w, "c", List.of("/usr/bin/redis-server", "--port", "6380", "--bind", "0.0.0.0",
                "--protected-mode", "no", "--save", "", "--appendonly", "no"));
        String ip = address.substring(0, address.indexOf('/'));
        await().atMost(WAIT).until(() -> clients.run("redis_client.py", "check", ip, "6380", "0").exitValue() == 0);
        Path replies = nodes.root.resolve("kept.log");
        Process incr = clients.background(List.of("python3", clients.script("redis_client.py"), "incr", ip, "6380", replies.toString()),
                nodes.root.resolve("kept.err"));
        clients.awaitReplies(incr, replies, 20);

        String toPlain = nodes.send(CommandKind.MIGRATE, w, "c", "plain", MigrationMode.PLAIN, List.of());
        MigrationEvent notThere = nodes.await(ended(toPlain), WAIT, "end of " + toPlain);
        assertEquals(Phase.ROLLED_BACK, notThere.getPhase(), nodes.eventsSummary());
        assertTrue(notThere.getError().contains("cannot host workload addresses"), notThere.getError());
        assertTrue(nodes.find(phase(toPlain, Phase.FROZEN)).isEmpty(), "frozen although the destination could not host it");
        clients.awaitReplies(incr, replies, SegmentClients.replies(replies).size() + 20);

        MigrationEvent failed = migrate(w, "c", "f", MigrationMode.PLAIN);
        assertEquals(Phase.ROLLED_BACK, failed.getPhase(), nodes.eventsSummary());
        assertEquals(Optional.of(failed.getPid()), nodes.runningPid("c", w), "the workload does not run on c again");
        int before = SegmentClients.replies(replies).size();
        clients.awaitReplies(incr, replies, before + 50);
        System.out.println("client gap across a rollback after a failed restore: " + SegmentClients.longestGap(replies) + " ms, reported "
                + failed.getTimings().getDowntimeMs() + " ms");
        incr.destroy();
        incr.destroy();
        kill(w, "c");
    }

    /** Two executors that claim one address at once: one of them gets it, the other is told who holds it. */
    @Test
    void theAddressBookGivesAnAddressToOneWorkloadOnlyAndTakesItBack() throws Exception {
        AddressRange range = segment.range();
        try (AddressBook x = new AddressBook(SharedBroker.clientProperties(), range, nodes.node("x"));
             AddressBook y = new AddressBook(SharedBroker.clientProperties(), range, nodes.node("y"))) {
            String wanted = AddressRange.format(range.address(100));
            var first = java.util.concurrent.CompletableFuture.supplyAsync(() -> attempt(x, nodes.prefix + "one", wanted));
            var second = java.util.concurrent.CompletableFuture.supplyAsync(() -> attempt(y, nodes.prefix + "two", wanted));
            List<String> outcomes = List.of(first.get(30, TimeUnit.SECONDS), second.get(30, TimeUnit.SECONDS));
            assertEquals(1, outcomes.stream().filter(o -> o.equals(wanted + "/" + range.prefixLength())).count(), outcomes.toString());
            assertEquals(1, outcomes.stream().filter(o -> o.contains("is held by workload")).count(), outcomes.toString());

            String winner = outcomes.get(0).equals(wanted + "/" + range.prefixLength()) ? nodes.prefix + "one" : nodes.prefix + "two";
            String other = winner.endsWith("one") ? nodes.prefix + "two" : nodes.prefix + "one";
            assertEquals(Optional.of(wanted + "/" + range.prefixLength()), y.held(winner));
            String elsewhere = y.claim(other, "c", null);
            assertTrue(!elsewhere.equals(wanted + "/" + range.prefixLength()) && range.refusal(AddressRange.parseAddress(
                    elsewhere.substring(0, elsewhere.indexOf('/'))).orElseThrow()).isEmpty(), elsewhere);
            x.release(winner);
            assertEquals(Optional.empty(), y.held(winner));
            assertEquals(wanted + "/" + range.prefixLength(), y.claim(nodes.prefix + "three", "c", wanted), "a released address is free");
        }
    }

    private static String attempt(AddressBook book, String workload, String address) {
        try {
            return book.claim(workload, "c-" + workload, address);
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    private static String launch(String w, String node, List<String> argv) throws Exception {
        MigrationCommand command = launchCommand(w, node, argv);
        nodes.send(command);
        String launch = command.getCommandId();
        MigrationEvent launched = nodes.await(e -> e.getCommandId().equals(launch), WAIT, "LAUNCHED " + w);
        assertEquals(Phase.LAUNCHED, launched.getPhase(), String.valueOf(launched.getError()));
        assertNotNull(launched.getAddress(), "LAUNCHED names no address");
        assertTrue(segment.range().refusal(AddressRange.parseAddress(
                launched.getAddress().substring(0, launched.getAddress().indexOf('/'))).orElseThrow()).isEmpty(),
                launched.getAddress() + " is not in " + segment.range());
        return launched.getAddress();
    }

    private static MigrationCommand launchCommand(String w, String node, List<String> argv) {
        MigrationCommand command = nodes.command(CommandKind.LAUNCH, w, null, node, null, argv);
        command.setNetwork(NetworkIdentity.OWN);
        return command;
    }

    private static MigrationEvent migrate(String w, String from, String to, MigrationMode mode) throws Exception {
        String mid = nodes.send(CommandKind.MIGRATE, w, from, to, mode, List.of());
        return nodes.await(ended(mid), WAIT, "end of " + mid);
    }

    private static void kill(String w, String node) throws Exception {
        String kill = nodes.send(CommandKind.KILL, w, node, null, null, List.of());
        assertEquals(Phase.KILLED, nodes.await(e -> e.getCommandId().equals(kill), WAIT, "KILLED " + w).getPhase());
    }

    private static boolean segmentAnswers(String ip, int port) throws Exception {
        return new ProcessBuilder(segment.inClient(List.of("python3", "-c", "import socket; socket.create_connection(('"
                + ip + "', " + port + "), timeout=2)"))).start().waitFor() == 0;
    }

    private static void awaitUdpReplies(Process client, Path replies, int count) {
        await().atMost(WAIT).pollInterval(Duration.ofMillis(50)).until(() -> {
            assertTrue(client.isAlive(), () -> "the client ended (exit " + client.exitValue() + "): " + clients.said(client));
            return udpLines(replies).size() >= count;
        });
    }

    /** The UDP client's replies: count, gap ms, server token. */
    private static List<String[]> udpLines(Path replies) throws IOException {
        return Files.exists(replies) ? Files.readAllLines(replies).stream().filter(l -> l.matches("\\d+ \\d+ \\p{XDigit}+"))
                .map(l -> l.split(" ")).toList() : List.of();
    }

    private static void awaitRequests(Process client, Path log, int count) {
        await().atMost(WAIT).pollInterval(Duration.ofMillis(50)).until(() -> {
            assertTrue(client.isAlive(), () -> "the client ended: " + clients.said(client));
            return Files.exists(log) && Files.readAllLines(log).size() >= count;
        });
    }
}
