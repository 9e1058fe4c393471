package io.pmig.platform.config;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An endpoint as every pmig option and key takes one: {@code HOST:PORT}, or {@code [IPv6]:PORT}, port 0 to 65535. The
 * host is kept as written; {@link #toSocketAddress} resolves it.
 */
public record HostPort(String host, int port) {

    private static final Pattern HOST_PORT = Pattern.compile("(?:\\[([0-9A-Fa-f:.%\\w]+)]|([^\\s:\\[\\]]+)):(\\d{1,5})");
    private static final String ACCEPTED = "HOST:PORT or [IPv6]:PORT, port 0 to 65535, e.g. 10.0.0.1:7070";

    public HostPort {
        if (host == null || host.isEmpty() || port < 0 || port > 65535) {
            throw new IllegalArgumentException("not an endpoint: " + host + " port " + port);
        }
    }

    /** The endpoint {@code text} names; a {@link ConfigException} naming {@code key} if it is not one. */
    public static HostPort parse(String key, String text) {
        Matcher m = HOST_PORT.matcher(text.strip());
        if (!m.matches()) {
            throw new ConfigException(key, "'" + text + "' is not " + ACCEPTED);
        }
        int port = Integer.parseInt(m.group(3));
        if (port > 65535) {
            throw new ConfigException(key, "'" + text + "' has no valid port: " + ACCEPTED);
        }
        return new HostPort(m.group(1) != null ? m.group(1) : m.group(2), port);
    }

    /** A comma-separated list of endpoints (bootstrap servers): at least one, each as {@link #parse}. */
    public static List<HostPort> parseList(String key, String text) {
        List<HostPort> endpoints = new ArrayList<>();
        for (String part : text.split(",", -1)) {
            if (part.isBlank()) {
                throw new ConfigException(key, "'" + text + "' is not a list of " + ACCEPTED + ", separated by commas");
            }
            endpoints.add(parse(key, part));
        }
        return endpoints;
    }

    /** The endpoint of an address: its IP when resolved, so it names the same host wherever it is read. */
    public static HostPort of(InetSocketAddress address) {
        return new HostPort(address.isUnresolved() ? address.getHostString() : address.getAddress().getHostAddress(),
                address.getPort());
    }

    /** Resolves the host now (an unresolvable name gives an unresolved address, as {@link InetSocketAddress} does). */
    public InetSocketAddress toSocketAddress() {
        return new InetSocketAddress(host, port);
    }

    /** As it is written back: {@code host:port}, an IPv6 host in brackets. */
    @Override
    public String toString() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
