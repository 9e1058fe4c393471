package io.pmig.executor.network;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * nft rules on a node for the clients of one of its workloads (one with its own network identity) while it is frozen
 * for a migration (NETWORK-IDENTITY.md, "Clients of a frozen workload"). Two parts:
 *
 * <p><b>New connections held</b> ({@link #holdNewConnections}), from just before criu freezes the workload: its clients'
 * SYNs are dropped at the node's bridge, so they retry them (1 s, 3 s...) and the handshake completes wherever the
 * workload then runs. Without it, a handshake the workload's kernel completes between criu's freeze and its network
 * lock sits in a listening socket's accept queue, which criu refuses to dump ({@code sk-inet.c: In-flight connection
 * (l)}): measured, 3 of 17 migrations of a server with a client connecting every 50 ms rolled back so. Handshakes under
 * way when the hold begins are left to finish, and completed connections to be accepted, before the freeze
 * ({@link #handshakes}): criu carries neither.
 *
 * <p><b>TCP data answered</b> ({@link #answerUnreachable}), once criu's lock is in place: with ICMP host-unreachable.
 * Linux reverts one RTO backoff step per such ICMP (RFC 6069), so a client keeps retransmitting about every 200 ms
 * instead of backing off to 1.4, 3.0 s... and sees the resume within about one RTO. The answer comes from the node
 * itself, its bridge's MAC and IPv4 address: the {@code bridge}-family table hands the workload's TCP frames that carry
 * data to the node's own stack (destination MAC set to the bridge's, packet type host), where an {@code inet}-family
 * table rejects them. A reject in the bridge family would answer from the workload's own IP and MAC and teach the
 * segment's switches that MAC at this node's port again, after its destination announced it. SYNs are not answered:
 * an ICMP error aborts a connect() in SYN_SENT, while a dropped SYN is only retried. Nor are segments without payload:
 * a timeout retransmits data only, and an ICMP about a handshake's last ACK fails a non-blocking connect, which reads
 * SO_ERROR.
 *
 * <p>Both tables are named after the workload's host side, so they are per node and workload. They match the address
 * on every bridge of the namespace: this kernel has no {@code meta ibrname} (nft_meta_bridge), so where several nodes
 * share one namespace (bench, in-process tests) the destination's bridge is covered too until the source's COMMIT.
 */
public final class FrozenClientRules {

    /** Every table of these rules starts with this, followed by the workload's host-side name. */
    public static final String TABLE_PREFIX = "pmig-frozen-";
    private static final Pattern INET = Pattern.compile("inet (\\d+\\.\\d+\\.\\d+\\.\\d+)/\\d+");
    /** IPv4 length . TCP data offset of every TCP segment without payload (a 20-byte IP header). */
    private static final String BARE_SEGMENTS = java.util.stream.IntStream.rangeClosed(5, 15)
            .mapToObj(doff -> (20 + 4 * doff) + " . " + doff).collect(java.util.stream.Collectors.joining(", "));
    private static final Pattern ETHER = Pattern.compile("link/ether ([0-9a-f:]{17})");
    private static final String LISTEN = "0A";
    private static final String SYN_RECV = "03";

    private final Path nft;
    private final String bridge;
    private final String table;

    /** The rules for the workload whose host side is {@code hostSide}, on {@code bridge}, written with {@code nft}. */
    public FrozenClientRules(Path nft, String bridge, String hostSide) {
        this.nft = nft;
        this.bridge = bridge;
        this.table = TABLE_PREFIX + hostSide;
    }

    public String table() {
        return table;
    }

    /** The bridge's own IPv4 address (the answers' source), if it has one. */
    public static Optional<String> nodeAddress(String bridge) {
        try {
            Matcher m = INET.matcher(output(List.of("ip", "-o", "-4", "addr", "show", "dev", bridge)));
            return m.find() ? Optional.of(m.group(1)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Holds new connections to {@code workloadIp} (no prefix) from now on, replacing any rules left from before. */
    public void holdNewConnections(String workloadIp) throws IOException {
        write(bridgeTable(workloadIp, null));
    }

    /** New connections still held, and TCP data to {@code workloadIp} answered from now on, in one transaction. */
    public void answerUnreachable(String workloadIp) throws IOException {
        Matcher mac = ETHER.matcher(output(List.of("ip", "-o", "link", "show", "dev", bridge)));
        if (!mac.find()) {
            throw new IOException("the workload bridge " + bridge + " has no MAC address");
        }
        write(bridgeTable(workloadIp, mac.group(1)) + String.join("\n",
                "table inet " + table + " {",
                "  chain frozen { type filter hook prerouting priority -300;",
                // only what the bridge table handed up: with br_netfilter, bridged frames pass this hook as well
                "    ether daddr " + mac.group(1) + " ip daddr " + workloadIp + " tcp flags & syn == 0"
                        + " reject with icmp type host-unreachable",
                "  }",
                "}", ""));
    }

    private void write(String rules) throws IOException {
        Path file = Files.createTempFile("pmig-frozen", ".nft");
        try {
            Files.writeString(file, deletions() + rules);
            output(List.of(nft.toString(), "-f", file.toString()));
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /**
     * TCP connections in the network namespace of {@code initPid} that criu would not carry as they are: handshakes
     * its kernel has answered but not completed ({@code halfOpen}, SYN_RECV: request sockets, which criu does not dump,
     * so the client's next segment meets the restored listener, which resets it) and completed connections the
     * workload has not accepted yet ({@code unaccepted}, which criu refuses to dump: "In-flight connection").
     */
    public record Handshakes(int halfOpen, int unaccepted) {
        public boolean settled() {
            return halfOpen == 0 && unaccepted == 0;
        }
    }

    /**
     * Read from the namespace's {@code /proc/<pid>/net/tcp*}: a request socket is listed in state 03, and the rx_queue
     * of a listening socket (state 0A) is its accept queue's length.
     */
    public static Handshakes handshakes(int initPid) {
        int halfOpen = 0;
        int unaccepted = 0;
        for (String file : List.of("tcp", "tcp6")) {
            try {
                for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(initPid), "net", file))) {
                    String[] f = line.strip().split("\\s+");
                    // sl local rem st tx_queue:rx_queue ...
                    if (f.length > 4 && f[3].equals(SYN_RECV)) {
                        halfOpen++;
                    } else if (f.length > 4 && f[3].equals(LISTEN) && f[4].indexOf(':') > 0) {
                        unaccepted += (int) Long.parseLong(f[4].substring(f[4].indexOf(':') + 1), 16);
                    }
                }
            } catch (IOException | NumberFormatException e) {
                // no such table (no IPv6) or the workload is gone: nothing to wait for there
            }
        }
        return new Handshakes(halfOpen, unaccepted);
    }

    /**
     * Waits until {@code settled} holds for the namespace of {@code initPid}'s {@link #handshakes}, up to
     * {@code timeout}; returns the last reading.
     */
    public static Handshakes awaitHandshakes(int initPid, java.time.Duration timeout,
                                             java.util.function.Predicate<Handshakes> settled) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Handshakes now = handshakes(initPid);
            if (settled.test(now) || System.nanoTime() > deadline) {
                return now;
            }
            Thread.sleep(2);
        }
    }

    /** Whether criu's network lock is in place in the namespace of {@code initPid} (its {@code inet CRIU-*} table). */
    public boolean lockedByCriu(int initPid) {
        try {
            return output(List.of("nsenter", "--net=/proc/" + initPid + "/ns/net", nft.toString(), "list", "tables"))
                    .contains("table inet CRIU-");
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * The bridge table: SYNs to the workload dropped; with {@code bridgeMac}, its TCP data (not bare segments) also
     * handed up to the node's stack to be answered.
     */
    private String bridgeTable(String workloadIp, String bridgeMac) {
        List<String> lines = new java.util.ArrayList<>(List.of(
                "table bridge " + table + " {",
                "  chain frozen { type filter hook prerouting priority -300;",
                "    ip daddr " + workloadIp + " tcp flags & (syn | ack) == syn drop"));
        if (bridgeMac != null) {
            // segments without payload (a handshake's last ACK, a bare ACK or FIN) pass: an ICMP error about one
            // is reported by SO_ERROR, which non-blocking connects read (Python, Go, Java NIO) as a failed connect
            lines.add("    ip daddr " + workloadIp + " ip hdrlength 5 ip length . tcp doff { " + BARE_SEGMENTS + " } accept");
            lines.add("    ip daddr " + workloadIp + " tcp flags & syn == 0 ether daddr set " + bridgeMac
                    + " meta pkttype set host");
        }
        lines.addAll(List.of("  }", "}", ""));
        return String.join("\n", lines);
    }

    /** Removes the rules, if there are any: clients' packets reach the workload (or its new place) again. */
    public void remove() throws IOException {
        String deletions = deletions();
        if (!deletions.isEmpty()) {
            output(List.of(nft.toString(), "-f", "-"), deletions);
        }
    }

    /** Whether any of the two tables exists. */
    public boolean installed() throws IOException {
        return !deletions().isEmpty();
    }

    private String deletions() throws IOException {
        StringBuilder script = new StringBuilder();
        for (String line : output(List.of(nft.toString(), "list", "tables")).lines().toList()) {
            for (String family : List.of("bridge", "inet")) {
                if (line.strip().equals("table " + family + " " + table)) {
                    script.append("delete table ").append(family).append(' ').append(table).append('\n');
                }
            }
        }
        return script.toString();
    }

    private static String output(List<String> cmd) throws IOException {
        return HostCommand.output(cmd, null);
    }

    private static String output(List<String> cmd, String stdin) throws IOException {
        return HostCommand.output(cmd, stdin);
    }
}
