package io.pmig.broker;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node Apache Kafka broker (KRaft, broker and controller in one process) running inside this
 * JVM. Used by {@code pmig broker}, the one-command demo and the integration tests alike.
 */
public final class EmbeddedBroker implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedBroker.class);

    private final Path dataDir;
    private final boolean temporaryDataDir;
    private final int port;
    private final int controllerPort;
    private final Map<String, String> overrides;
    private KafkaRaftServer server;
    private Thread shutdownHook;

    private EmbeddedBroker(Path dataDir, boolean temporaryDataDir, int port, int controllerPort,
                           Map<String, String> overrides) {
        this.dataDir = dataDir;
        this.temporaryDataDir = temporaryDataDir;
        this.port = port;
        this.controllerPort = controllerPort;
        this.overrides = overrides;
    }

    /**
     * Starts a broker on 127.0.0.1:port (0 picks a free port). A null dataDir means a temporary directory
     * deleted on close; a given one is formatted on first use and reused (topics and records kept) after.
     */
    public static EmbeddedBroker start(int port, Path dataDir) {
        return start(port, dataDir, Map.of());
    }

    /**
     * As {@link #start(int, Path)}, with broker properties that override pmig's defaults. Secured listeners:
     * override {@code listeners} (the controller's is added), {@code advertised.listeners},
     * {@code listener.security.protocol.map} (keep {@code CONTROLLER:PLAINTEXT}) and {@code inter.broker.listener.name};
     * {@code port} must then be the port clients bootstrap from, and {@code pmig.client.}-prefixed entries are the
     * client properties (security.protocol, ssl.truststore...) the start-up readiness check connects with.
     */
    public static EmbeddedBroker start(int port, Path dataDir, Map<String, String> overrides) {
        boolean temporary = dataDir == null;
        try {
            Path dir = temporary ? Files.createTempDirectory("pmig-broker-") : Files.createDirectories(dataDir);
            int brokerPort = port == 0 ? freePort() : port;
            EmbeddedBroker broker = new EmbeddedBroker(dir, temporary, brokerPort, freePort(), overrides);
            broker.startServer();
            return broker;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare broker data dir: " + e.getMessage(), e);
        }
    }

    public String bootstrapServers() {
        return "127.0.0.1:" + port;
    }

    public int port() {
        return port;
    }

    public Path dataDir() {
        return dataDir;
    }

    private Properties brokerProperties() {
        Properties props = new Properties();
        props.put("process.roles", "broker,controller");
        props.put("node.id", "1");
        props.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        props.put("listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
        props.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
        props.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        props.put("controller.listener.names", "CONTROLLER");
        props.put("inter.broker.listener.name", "PLAINTEXT");
        props.put("log.dirs", dataDir.resolve("logs").toString());
        // One broker: every internal topic must have replication factor 1.
        props.put("offsets.topic.replication.factor", "1");
        props.put("offsets.topic.num.partitions", "10");
        props.put("transaction.state.log.replication.factor", "1");
        props.put("transaction.state.log.min.isr", "1");
        props.put("transaction.state.log.num.partitions", "10");
        props.put("share.coordinator.state.topic.replication.factor", "1");
        props.put("share.coordinator.state.topic.min.isr", "1");
        props.put("group.initial.rebalance.delay.ms", "0");
        props.put("auto.create.topics.enable", "false");
        // The default 128 MiB dedupe buffer dominates the heap of a demo broker.
        props.put("log.cleaner.dedupe.buffer.size", "4194304");
        props.put("message.max.bytes", String.valueOf(64 * 1024 * 1024));
        props.putAll(overrides);
        // Overridden listeners (SSL, SASL_SSL) still need the controller's, whose port only this class knows.
        String listeners = props.getProperty("listeners");
        if (!listeners.contains("CONTROLLER://")) {
            props.put("listeners", listeners + ",CONTROLLER://127.0.0.1:" + controllerPort);
        }
        return props;
    }

    private void startServer() {
        KafkaConfig config = KafkaConfig.fromProps(brokerProperties(), false);
        format(config);
        server = new KafkaRaftServer(config, Time.SYSTEM);
        // A JVM killed by a signal must still release the broker's log dir lock and temp files.
        shutdownHook = new Thread(this::stopServer, "pmig-broker-shutdown");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        server.startup();
        awaitReady();
        log.info("embedded Kafka broker ready at {} (data in {})", bootstrapServers(), dataDir);
    }

    private void format(KafkaConfig config) {
        if (Files.exists(dataDir.resolve("logs").resolve("meta.properties"))) {
            return; // a reused data dir keeps its cluster id, topics and records
        }
        try {
            new Formatter()
                    .setPrintStream(new PrintStream(PrintStream.nullOutputStream()))
                    .setNodeId(1)
                    .setClusterId(Uuid.randomUuid().toString())
                    .setControllerListenerName("CONTROLLER")
                    .setMetadataLogDirectory(config.metadataLogDir())
                    .setDirectories(List.of(dataDir.resolve("logs").toString()))
                    .setReleaseVersion(MetadataVersion.LATEST_PRODUCTION)
                    .run();
        } catch (Exception e) {
            throw new IllegalStateException("cannot format broker storage in " + dataDir + ": " + e.getMessage(), e);
        }
    }

    private void awaitReady() {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        props.putAll(overrides.entrySet().stream()
                .filter(e -> e.getKey().startsWith("pmig.client."))
                .collect(java.util.stream.Collectors.toMap(e -> e.getKey().substring("pmig.client.".length()), Map.Entry::getValue)));
        try (Admin admin = Admin.create(props)) {
            admin.describeCluster().nodes().get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            close();
            throw new IllegalStateException("embedded broker did not become ready: " + e.getMessage(), e);
        }
    }

    private synchronized void stopServer() {
        if (server == null) {
            return;
        }
        try {
            server.shutdown();
            server.awaitShutdown();
        } finally {
            server = null;
            if (temporaryDataDir) {
                deleteRecursively(dataDir);
            }
        }
    }

    @Override
    public void close() {
        stopServer();
        if (shutdownHook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException alreadyShuttingDown) {
                // the hook is running or has run; nothing left to do
            }
            shutdownHook = null;
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static void deleteRecursively(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            log.warn("could not delete {}: {}", dir, e.getMessage());
        }
    }
}
