package io.pmig.executor.network;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What criu would carry of a workload's network namespace (its links, addresses, routes, rules, firewall tables and
 * the interface sysctls criu dumps: {@code criu/net.c}), as text in which two copies compare equal when a restore into
 * either would give the workload the same network. Left out is what differs by nature between a running namespace and
 * one just built for it: interface indexes and peers, link and carrier states, address lifetimes, the IPv6 link-local
 * address and routes the kernel adds once the carrier is up, counters. A destination builds the workload's namespace
 * itself (before the freeze) only where its {@link #digest} equals the source's, so nothing the workload set up in its
 * own namespace is lost; otherwise criu dumps and restores the namespace as before.
 */
public final class NamespaceContents {

    private static final Pattern LINK = Pattern.compile(
            "^\\d+: ([^:@\\s]+)(?:@\\S+)?: <[^>]*> mtu (\\d+) .*?link/(\\S+)(?: (\\S+))?");
    private static final Pattern ADDR = Pattern.compile("^\\d+: (\\S+)\\s+(inet6?) (\\S+)(?: brd (\\S+))? scope (\\S+)");
    private static final Pattern COUNTERS = Pattern.compile("\\[\\d+:\\d+\\]");
    private static final Pattern ROUTE_NOISE = Pattern.compile(" (linkdown|pref medium|expires \\S+|dead|onlink)\\b");

    private NamespaceContents() {
    }

    /** The shell script that prints the raw contents; run inside the namespace. {@code nft} may be null. */
    static String script(Path nft) {
        List<String> lines = new ArrayList<>(List.of(
                "echo '# link'; ip -o link show",
                "echo '# addr'; ip -o addr show",
                "echo '# route'; ip route show table all; ip -6 route show table all",
                "echo '# rule'; ip rule show; ip -6 rule show"));
        if (nft != null) {
            lines.add("echo '# nft'; '" + nft + "' list ruleset");
        }
        // criu saves the legacy tables where the legacy tools exist (the nft-based ones are in the nft ruleset)
        lines.add("echo '# iptables'; for t in iptables-legacy-save ip6tables-legacy-save; do"
                + " command -v $t >/dev/null && $t; done; true");
        lines.add("echo '# sysctl'; grep -r . /proc/sys/net/ipv4/conf /proc/sys/net/ipv6/conf"
                + " /proc/sys/net/unix/max_dgram_qlen /proc/sys/net/ipv4/ping_group_range 2>/dev/null | sort; true");
        return String.join("\n", lines);
    }

    /** The contents of the network namespace of {@code pid}, normalised ({@link #normalise}). */
    public static String of(int pid, Path nft) throws IOException {
        return normalise(HostCommand.output(List.of("nsenter", "--net=/proc/" + pid + "/ns/net", "sh", "-c", script(nft)),
                null));
    }

    /** A short fingerprint of normalised contents, for the HELLO exchange. */
    public static String digest(String contents) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(contents.getBytes(StandardCharsets.UTF_8))).substring(0, 32);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The raw output of {@link #script} with what differs by nature between two copies left out. */
    static String normalise(String raw) {
        StringBuilder out = new StringBuilder();
        String section = "";
        for (String line : raw.split("\n")) {
            String l = line.strip();
            if (l.startsWith("# ") && List.of("# link", "# addr", "# route", "# rule", "# nft", "# iptables", "# sysctl")
                    .contains(l)) {
                section = l.substring(2);
                out.append(l).append('\n');
                continue;
            }
            String kept = switch (section) {
                case "link" -> link(l);
                case "addr" -> address(l);
                case "route" -> route(l);
                case "iptables" -> l.startsWith("#") ? null : COUNTERS.matcher(l).replaceAll("[]");
                default -> l;
            };
            if (kept != null && !kept.isEmpty()) {
                out.append(kept).append('\n');
            }
        }
        return out.toString();
    }

    private static String link(String line) {
        Matcher m = LINK.matcher(line);
        return m.find() ? m.group(1) + " mtu " + m.group(2) + " " + m.group(3) + (m.group(4) == null ? "" : " " + m.group(4))
                : line;
    }

    private static String address(String line) {
        Matcher m = ADDR.matcher(line);
        if (!m.find()) {
            return line;
        }
        if (m.group(2).equals("inet6") && m.group(3).startsWith("fe80:")) {
            return null; // made by the kernel once the carrier is up, from the MAC, which the copy has too
        }
        return m.group(1) + " " + m.group(2) + " " + m.group(3) + (m.group(4) == null ? "" : " brd " + m.group(4))
                + " scope " + m.group(5);
    }

    private static String route(String line) {
        // IPv6 link-local and multicast routes come with the carrier (the copy's is down until it is attached)
        if (line.startsWith("fe80::") || line.contains(" fe80::") || line.startsWith("multicast ff00::/8")
                || line.startsWith("ff00::/8")) {
            return null;
        }
        return ROUTE_NOISE.matcher(line).replaceAll("").strip();
    }

    /** For tests and logs: the first line where two normalised contents differ, or empty. */
    public static String firstDifference(String a, String b) {
        String[] x = a.split("\n");
        String[] y = b.split("\n");
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            String l = i < x.length ? x[i] : "(none)";
            String r = i < y.length ? y[i] : "(none)";
            if (!l.equals(r)) {
                return l + " <> " + r;
            }
        }
        return "";
    }
}
