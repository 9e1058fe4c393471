package io.pmig.cli.dashboard;

import io.pmig.platform.config.ConfigException;
import io.pmig.platform.config.KafkaClientOptions;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code pmig dashboard}: the live web page. */
@Command(name = "dashboard", mixinStandardHelpOptions = true,
        description = "Serve the live dashboard: node charts, workloads, migration timeline, event feed, model.")
public final class DashboardCommand implements Callable<Integer> {

    @Mixin KafkaClientOptions kafka;

    @Option(names = "--http-port", defaultValue = "8080", description = "Port on --http-host (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--http-host", defaultValue = "127.0.0.1", description = "Address to serve on (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--analytics", paramLabel = "URL", split = ",",
            description = "Interactive-query endpoints of analytics instances, e.g. http://127.0.0.1:7070/ (any one answers for all).")
    List<URI> analytics = new ArrayList<>();

    @Option(names = "--top", paramLabel = "N", defaultValue = "" + DashboardServer.TOP_NODES,
            description = "Chart the N hottest nodes (overloaded, then by score); the others are counted in the summary (default: ${DEFAULT-VALUE}).")
    int top;

    @Override
    public Integer call() throws Exception {
        if (top < 1) {
            throw new ConfigException("--top", top + " is not a number of nodes (at least 1)");
        }
        if (port < 0 || port > 65535) {
            throw new ConfigException("--http-port", port + " is not a TCP port");
        }
        CountDownLatch stopped = new CountDownLatch(1);
        try (DashboardServer server = new DashboardServer(kafka.clientProperties(), analytics,
                new InetSocketAddress(host, port), top).start()) {
            System.out.println("pmig dashboard: " + server.url());
            Runtime.getRuntime().addShutdownHook(new Thread(stopped::countDown));
            stopped.await();
        }
        return 0;
    }
}
