package io.pmig.platform.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.pmig.platform.config.ConfigException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /metrics} of one role for Prometheus, on the JDK's HTTP server (one thread: a scrape every few seconds).
 * Roles that already serve HTTP mount {@link #handler} on their own server as well.
 * <pre>
 * pmig executor ... --metrics-port 9402
 * curl -s http://127.0.0.1:9402/metrics | grep pmig_
 * </pre>
 */
public final class MetricsServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(MetricsServer.class);
    /** Prometheus' text format; what its scraper asks for first among the ones Micrometer writes. */
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final HttpServer server;
    private final ExecutorService executor;

    private MetricsServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /**
     * Serves {@code metrics} at http://host:port/metrics (port 0 picks a free one). A port that cannot be bound is a
     * {@link ConfigException} naming {@code key} and the address.
     */
    public static MetricsServer start(RoleMetrics metrics, String host, int port, String key) {
        HttpServer server;
        try {
            server = HttpServer.create(new InetSocketAddress(host, port), 0);
        } catch (BindException e) {
            throw new ConfigException(key, "cannot listen on " + host + ":" + port + " (" + e.getMessage()
                    + "): another process holds it, or the address is not this host's; choose another port");
        } catch (IOException e) {
            throw new ConfigException(key, "cannot listen on " + host + ":" + port + ": " + e);
        }
        ExecutorService executor = Executors.newSingleThreadExecutor(runnable -> {
            Thread thread = new Thread(runnable, "pmig-metrics-http");
            thread.setDaemon(true);
            return thread;
        });
        server.setExecutor(executor);
        server.createContext("/metrics", handler(metrics));
        server.start();
        log.info("metrics on http://{}:{}/metrics", host, server.getAddress().getPort());
        return new MetricsServer(server, executor);
    }

    /** The /metrics handler, for a role's own HTTP server. */
    public static HttpHandler handler(RoleMetrics metrics) {
        return exchange -> {
            try (exchange) {
                if (!"GET".equals(exchange.getRequestMethod()) && !"HEAD".equals(exchange.getRequestMethod())) {
                    respond(exchange, 405, "only GET\n");
                    return;
                }
                exchange.getResponseHeaders().set("Content-Type", CONTENT_TYPE);
                respond(exchange, 200, metrics.scrape());
            }
        };
    }

    private static void respond(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        boolean head = "HEAD".equals(exchange.getRequestMethod());
        exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
        if (!head) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    /** The bound address (the real port when 0 was asked for). */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
