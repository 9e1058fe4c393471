package io.pmig.executor.migration;

import io.pmig.executor.criu.PageServerAddress;
import java.net.InetSocketAddress;

/**
 * What a destination announces in its PREPARED event: its transfer endpoint and, in page-server mode, where its
 * criu page server waits. Text form: {@code transfer=HOST:PORT} plus {@code ;pages=HOST:PORT}.
 */
public record PreparedEndpoint(InetSocketAddress transfer, PageServerAddress pages) {

    public String format() {
        String host = transfer.getAddress() != null ? transfer.getAddress().getHostAddress() : transfer.getHostString();
        String s = "transfer=" + host + ":" + transfer.getPort();
        return pages == null ? s : s + ";pages=" + pages.host() + ":" + pages.port();
    }

    public static PreparedEndpoint parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("PREPARED event without an endpoint");
        }
        InetSocketAddress transfer = null;
        PageServerAddress pages = null;
        for (String part : text.split(";")) {
            String[] kv = part.split("=", 2);
            if (kv.length != 2) {
                throw new IllegalArgumentException("bad endpoint '" + text + "'");
            }
            int colon = kv[1].lastIndexOf(':');
            String host = kv[1].substring(0, colon);
            int port = Integer.parseInt(kv[1].substring(colon + 1));
            switch (kv[0]) {
                case "transfer" -> transfer = InetSocketAddress.createUnresolved(host, port);
                case "pages" -> pages = new PageServerAddress(host, port);
                default -> { } // newer fields are ignored by older executors
            }
        }
        if (transfer == null) {
            throw new IllegalArgumentException("endpoint '" + text + "' names no transfer address");
        }
        return new PreparedEndpoint(new InetSocketAddress(transfer.getHostString(), transfer.getPort()), pages);
    }
}
