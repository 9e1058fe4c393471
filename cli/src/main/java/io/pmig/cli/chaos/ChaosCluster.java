package io.pmig.cli.chaos;

import io.pmig.cli.operator.EventFeed;
import io.pmig.executor.criu.Criu;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The system under test, every role in its own process on this machine: a broker ({@code pmig broker} on a fixed
 * port and data dir, so it can be killed and restarted) and four executors ({@code pmig executor}, own work dir,
 * fixed transfer port behind a {@link TransferProxy}, one shared secret file). Two are healthy; {@code corrupt} and
 * {@code failing} run with a hidden fault-injection flag so every restore on them really fails. The harness itself
 * only produces commands and reads pmig.events.
 */
final class ChaosCluster implements AutoCloseable {

    static final String A = "n1";
    static final String B = "n2";
    static final String CORRUPT = "corrupt";
    static final String FAILING = "failing";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(120);
    private static final List<String> EXECUTOR_JVM = List.of("-Xms32m", "-Xmx256m", "-Xss1m", "-XX:+UseSerialGC",
            "-XX:-UsePerfData", "-XX:TieredStopAtLevel=1");
    private static final List<String> BROKER_JVM = List.of("-Xmx512m", "-XX:+UseSerialGC", "-XX:-UsePerfData");

    record Node(String id, Path workdir, ChildJvm jvm, TransferProxy proxy) {
    }

    private final Path root;
    private final Map<String, Node> nodes = new LinkedHashMap<>();
    private ChildJvm broker;
    private Properties kafka;
    private KafkaProducer<String, MigrationCommand> commands;
    private EventFeed feed;
    private Thread collector;
    private volatile boolean collecting = true;
    private final List<MigrationEvent> events = new ArrayList<>();

    private ChaosCluster(Path root) {
        this.root = root;
    }

    static ChaosCluster start(Criu criu, Path root) throws Exception {
        ChaosCluster cluster = new ChaosCluster(root);
        try {
            cluster.startAll(criu);
            return cluster;
        } catch (Exception | Error e) {
            cluster.close();
            throw e;
        }
    }

    private void startAll(Criu criu) throws Exception {
        Path logs = Files.createDirectories(root.resolve("logs"));
        int brokerPort = freePort();
        broker = new ChildJvm("broker", BROKER_JVM, List.of("broker", "--port", String.valueOf(brokerPort),
                "--data-dir", root.resolve("broker").toString()), logs, "pmig broker ready");
        broker.start(START_TIMEOUT);
        kafka = KafkaClientOptions.of("127.0.0.1:" + brokerPort).clientProperties();

        Path secret = root.resolve("transfer.secret");
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        Files.createFile(secret, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(secret, HexFormat.of().formatHex(bytes) + "\n");

        for (String id : List.of(A, B, CORRUPT, FAILING)) {
            Path workdir = Files.createDirectories(root.resolve("nodes").resolve(id));
            int listenPort = freePort();
            TransferProxy proxy = new TransferProxy(new InetSocketAddress(InetAddress.getLoopbackAddress(), listenPort));
            List<String> args = new ArrayList<>(List.of("executor", "--node", id,
                    "--bootstrap-server", "127.0.0.1:" + brokerPort, "--workdir", workdir.toString(),
                    "--listen", "127.0.0.1:" + listenPort,
                    "--advertise", "127.0.0.1:" + proxy.address().getPort(),
                    "--secret-file", secret.toString(), "--criu", criu.binary().toString(),
                    "--prepare-timeout", "10", "--kill-workloads-on-exit",
                    // a private copy: a concurrent build replacing the shared one cannot break this run's restores
                    "--init-path", root.resolve("bin").resolve("pmig-init").toString()));
            if (id.equals(CORRUPT)) {
                args.addAll(List.of("--inject-restore-fault", "corrupt-images"));
            } else if (id.equals(FAILING)) {
                args.addAll(List.of("--inject-restore-fault", "fail-restore"));
            }
            nodes.put(id, new Node(id, workdir, new ChildJvm(id, EXECUTOR_JVM, args, logs, "executor " + id + " ready"),
                    proxy));
        }
        // JVM start-up dominates: start the executors side by side
        ExecutorService starter = Executors.newFixedThreadPool(nodes.size());
        try {
            List<Future<Object>> started = new ArrayList<>();
            for (Node n : nodes.values()) {
                started.add(starter.submit(() -> {
                    n.jvm().start(START_TIMEOUT);
                    return null;
                }));
            }
            for (Future<Object> f : started) {
                f.get();
            }
        } finally {
            starter.shutdownNow();
        }

        Properties producer = (Properties) kafka.clone();
        producer.put(ProducerConfig.ACKS_CONFIG, "all");
        producer.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        producer.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "60000");
        commands = new KafkaProducer<>(producer, new StringSerializer(), Topic.COMMANDS.<MigrationCommand>serde().serializer());
        feed = EventFeed.fromBeginning(kafka);
        collector = new Thread(this::collect, "chaos-events");
        collector.setDaemon(true);
        collector.start();
    }

    private void collect() {
        while (collecting) {
            try {
                List<MigrationEvent> batch = feed.poll(Duration.ofMillis(100));
                if (!batch.isEmpty()) {
                    synchronized (events) {
                        events.addAll(batch);
                        events.notifyAll();
                    }
                }
            } catch (RuntimeException e) {
                if (collecting) {
                    sleep(200); // the broker is restarting; the consumer reconnects by itself
                }
            }
        }
    }

    /** Every event read so far, in topic order per workload. */
    List<MigrationEvent> events() {
        synchronized (events) {
            return List.copyOf(events);
        }
    }

    /** Waits up to {@code timeout} for more events than {@code seen}. */
    void awaitEvents(int seen, Duration timeout) throws InterruptedException {
        synchronized (events) {
            if (events.size() <= seen) {
                events.wait(Math.max(1, timeout.toMillis()));
            }
        }
    }

    void send(MigrationCommand command) throws InterruptedException {
        try {
            commands.send(new ProducerRecord<>(Topic.COMMANDS.topicName(), command.getWorkloadId(), command))
                    .get(90, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot send " + command.getKind() + " " + command.getCommandId() + ": " + e, e);
        }
    }

    /** Re-produces every record of pmig.commands so far (same key, same value), in order; returns how many. */
    int replayCommands() throws InterruptedException {
        Properties props = (Properties) kafka.clone();
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        List<ConsumerRecord<String, MigrationCommand>> all = new ArrayList<>();
        try (KafkaConsumer<String, MigrationCommand> consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                Topic.COMMANDS.<MigrationCommand>serde().deserializer())) {
            List<TopicPartition> parts = consumer.partitionsFor(Topic.COMMANDS.topicName()).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            Map<TopicPartition, Long> end = consumer.endOffsets(parts);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (parts.stream().anyMatch(p -> consumer.position(p) < end.get(p)) && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(all::add);
            }
        }
        for (ConsumerRecord<String, MigrationCommand> r : all) {
            if (r.value() != null) {
                commands.send(new ProducerRecord<>(Topic.COMMANDS.topicName(), r.key(), r.value()));
            }
        }
        commands.flush();
        return all.size();
    }

    Node node(String id) {
        return nodes.get(id);
    }

    List<Node> nodes() {
        return List.copyOf(nodes.values());
    }

    ChildJvm broker() {
        return broker;
    }

    static Duration startTimeout() {
        return START_TIMEOUT;
    }

    Path root() {
        return root;
    }

    /** Executors first (SIGTERM: they stop their workloads), then the broker; then the whole root dir goes. */
    @Override
    public void close() throws Exception {
        collecting = false;
        if (collector != null) {
            collector.join(5_000);
        }
        if (feed != null) {
            feed.close();
        }
        if (commands != null) {
            commands.close(Duration.ofSeconds(5));
        }
        for (Node n : nodes.values()) {
            n.jvm().stop(Duration.ofSeconds(60));
            n.proxy().close();
        }
        if (broker != null) {
            broker.stop(Duration.ofSeconds(60));
        }
    }

    /** Deletes everything under the root (work dirs, images, broker data, logs). */
    void deleteFiles() throws IOException {
        NodeWorkloads.deleteTree(root);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
