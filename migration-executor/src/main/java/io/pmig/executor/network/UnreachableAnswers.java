package io.pmig.executor.network;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * nft rules on a node that answer the clients of one of its workloads, frozen for a migration, with ICMP
 * host-unreachable (NETWORK-IDENTITY.md, "ICMP host-unreachable answers"): Linux reverts one RTO backoff step per such
 * ICMP about the segment it retransmits (RFC 6069), so a client keeps retransmitting about every 200 ms instead of
 * backing off to 1.4, 3.0 s... and sees the resume within about one RTO.
 *
 * <p>The answer comes from the node itself, its bridge's MAC and IPv4 address: a {@code bridge}-family table hands
 * the workload's TCP frames that carry data to the node's own stack (destination MAC set to the bridge's, packet type
 * host), where an {@code inet}-family table rejects them. A reject in the bridge family would answer from the
 * workload's own IP and MAC and teach the segment's switches that MAC at this node's port again, after its
 * destination announced it. SYNs are left alone: an ICMP error aborts a connect() in SYN_SENT, while a dropped SYN
 * (criu's lock) is only retried. So are segments without payload: a timeout retransmits data only, and an ICMP about a
 * handshake's last ACK (the live workload still completes handshakes until criu's lock is in place) fails a
 * non-blocking connect, which reads SO_ERROR.
 *
 * <p>Both tables are named after the workload's host side, so they are per node and workload. They match the address
 * on every bridge of the namespace: this kernel has no {@code meta ibrname} (nft_meta_bridge), so where several nodes
 * share one namespace (bench, in-process tests) the destination's bridge is covered too until the source's COMMIT.
 */
public final class UnreachableAnswers {

    /** Every table of these rules starts with this, followed by the workload's host-side name. */
    public static final String TABLE_PREFIX = "pmig-unreach-";
    private static final Pattern INET = Pattern.compile("inet (\\d+\\.\\d+\\.\\d+\\.\\d+)/\\d+");
    /** IPv4 length . TCP data offset of every TCP segment without payload (a 20-byte IP header). */
    private static final String BARE_SEGMENTS = java.util.stream.IntStream.rangeClosed(5, 15)
            .mapToObj(doff -> (20 + 4 * doff) + " . " + doff).collect(java.util.stream.Collectors.joining(", "));
    private static final Pattern ETHER = Pattern.compile("link/ether ([0-9a-f:]{17})");

    private final Path nft;
    private final String bridge;
    private final String table;

    /** The rules for the workload whose host side is {@code hostSide}, on {@code bridge}, written with {@code nft}. */
    public UnreachableAnswers(Path nft, String bridge, String hostSide) {
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

    /** Installs the rules for {@code workloadIp} (no prefix) now, replacing any left from before, in one transaction. */
    public void install(String workloadIp) throws IOException {
        Path file = Files.createTempFile("pmig-unreach", ".nft");
        try {
            Files.writeString(file, deletions() + rules(workloadIp));
            output(List.of(nft.toString(), "-f", file.toString()));
        } finally {
            Files.deleteIfExists(file);
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

    private String rules(String workloadIp) throws IOException {
        Matcher mac = ETHER.matcher(output(List.of("ip", "-o", "link", "show", "dev", bridge)));
        if (!mac.find()) {
            throw new IOException("the workload bridge " + bridge + " has no MAC address");
        }
        return String.join("\n",
                "table bridge " + table + " {",
                "  chain frozen { type filter hook prerouting priority -300;",
                // segments without payload (a handshake's last ACK, a bare ACK or FIN) pass: an ICMP error about one
                // is reported by SO_ERROR, which non-blocking connects read (Python, Go, Java NIO) as a failed connect
                "    ip daddr " + workloadIp + " ip hdrlength 5 ip length . tcp doff { " + BARE_SEGMENTS + " } accept",
                "    ip daddr " + workloadIp + " tcp flags & syn == 0 ether daddr set " + mac.group(1)
                        + " meta pkttype set host",
                "  }",
                "}",
                "table inet " + table + " {",
                "  chain frozen { type filter hook prerouting priority -300;",
                // only what the bridge table handed up: with br_netfilter, bridged frames pass this hook as well
                "    ether daddr " + mac.group(1) + " ip daddr " + workloadIp + " tcp flags & syn == 0"
                        + " reject with icmp type host-unreachable",
                "  }",
                "}", "");
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
