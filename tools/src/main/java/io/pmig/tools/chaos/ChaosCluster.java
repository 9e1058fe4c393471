package io.pmig.tools.chaos;

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
 * port and data dir, so it can be killed and restarted) and executors ({@code pmig executor}, own work dir, fixed
 * transfer port behind a {@link TransferProxy}, one shared secret file). Two are healthy; {@code corrupt} and
 * {@code failing} run a criu wrapper that breaks every restore of migrated images on them for real. Three more start
 * when a trial first needs them, each broken from the outside only: {@code badsecret} reads another secret file,
 * {@code incompatible} runs a criu whose restores criu itself refuses, {@code diskfull} works on a small tmpfs the
 * harness fills. The harness itself only produces commands and reads pmig.events.
 */
final class ChaosCluster implements AutoCloseable {

    static final String A = "n1";
    static final String B = "n2";
    static final String CORRUPT = "corrupt";
    static final String FAILING = "failing";
    static final String BAD_SECRET = "badsecret";
    static final String INCOMPATIBLE = "incompatible";
    static final String DISK_FULL = "diskfull";
    /**
     * The disk-full node's tmpfs: more than the 256 MiB headroom its executor checks for before accepting a
     * migration, so a disk that fills up during the migration gets past that check; filled to {@link #DISK_FULL_FREE}.
     */
    private static final String DISK_FULL_SIZE = "320m";
    static final long DISK_FULL_FREE = 64 * 1024;
    private static final String FILLER = "chaos-filler";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(120);
    private static final List<String> EXECUTOR_JVM = List.of("-Xms32m", "-Xmx256m", "-Xss1m", "-XX:+UseSerialGC",
            "-XX:-UsePerfData", "-XX:TieredStopAtLevel=1");
    private static final List<String> BROKER_JVM = List.of("-Xmx512m", "-XX:+UseSerialGC", "-XX:-UsePerfData");

    record Node(String id, Path workdir, ChildJvm jvm, TransferProxy proxy) {
    }

    private final Path root;
    private String classPath;
    private final Map<String, Node> nodes = new LinkedHashMap<>();
    private final List<Path> mounts = new ArrayList<>();
    private Criu criu;
    private Path logs;
    private Path secret;
    private int brokerPort;
    private int duplicates;
    private final List<ChildJvm> duplicateJvms = new ArrayList<>();
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
        this.criu = criu;
        logs = Files.createDirectories(root.resolve("logs"));
        classPath = ChildJvm.pinClassPath(root.resolve("classpath"));
        brokerPort = freePort();
        broker = new ChildJvm("broker", classPath, BROKER_JVM, List.of("broker", "--port", String.valueOf(brokerPort),
                "--data-dir", root.resolve("broker").toString()), logs, "pmig broker ready");
        broker.start(START_TIMEOUT);
        kafka = KafkaClientOptions.of("127.0.0.1:" + brokerPort).clientProperties();
        secret = secretFile("transfer.secret");

        for (String id : List.of(A, B, CORRUPT, FAILING)) {
            Path workdir = Files.createDirectories(root.resolve("nodes").resolve(id));
            Path criuBinary = id.equals(CORRUPT) ? corruptingCriu() : id.equals(FAILING) ? failingCriu() : criu.binary();
            define(id, workdir, secret, criuBinary, List.of());
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

    private Path secretFile(String name) throws IOException {
        Path file = root.resolve(name);
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, HexFormat.of().formatHex(bytes) + "\n");
        return file;
    }

    private List<String> executorArgs(String id, Path workdir, Path secretFile, Path criuBinary, int listenPort,
                                      int advertisePort) {
        return new ArrayList<>(List.of("executor", "--node", id,
                "--bootstrap-server", "127.0.0.1:" + brokerPort, "--workdir", workdir.toString(),
                "--listen", "127.0.0.1:" + listenPort,
                "--advertise", "127.0.0.1:" + advertisePort,
                "--secret-file", secretFile.toString(), "--criu", criuBinary.toString(),
                "--prepare-timeout", "10", "--kill-workloads-on-exit",
                // a private copy: a concurrent build replacing the shared one cannot break this run's restores
                "--init-path", root.resolve("bin").resolve("pmig-init").toString()));
    }

    private Node define(String id, Path workdir, Path secretFile, Path criuBinary, List<String> extra) throws IOException {
        int listenPort = freePort();
        TransferProxy proxy = new TransferProxy(new InetSocketAddress(InetAddress.getLoopbackAddress(), listenPort));
        List<String> args = executorArgs(id, workdir, secretFile, criuBinary, listenPort, proxy.address().getPort());
        args.addAll(extra);
        Node node = new Node(id, workdir, new ChildJvm(id, classPath, EXECUTOR_JVM, args, logs, "executor " + id + " ready"), proxy);
        nodes.put(id, node);
        return node;
    }

    /**
     * The node, started first if it is one of the broken-from-outside ones a trial needs for the first time. Each is
     * a real executor, broken only by its environment: another secret file, a criu that refuses restores, a full disk.
     */
    synchronized Node ensureStarted(String id) throws Exception {
        Node node = nodes.get(id);
        if (node == null) {
            // pmig-init detaches every mount under /tmp/ from a workload's namespace (foreign test mounts), so the
            // disk-full node's tmpfs must sit elsewhere, or none of its workloads could even start
            Path workdir = Files.createDirectories(id.equals(DISK_FULL)
                    ? Path.of("/var/lib/pmig/chaos").resolve(root.getFileName() + "-" + id)
                    : root.resolve("nodes").resolve(id));
            node = switch (id) {
                case BAD_SECRET -> define(id, workdir, secretFile("other.secret"), criu.binary(), List.of());
                case INCOMPATIBLE -> define(id, workdir, secret, incompatibleCriu(), List.of());
                case DISK_FULL -> {
                    mount(workdir);
                    yield define(id, workdir, secret, criu.binary(), List.of());
                }
                default -> throw new IllegalArgumentException("no node " + id);
            };
        }
        if (!node.jvm().alive()) {
            node.jvm().start(START_TIMEOUT);
        }
        return node;
    }

    /**
     * A criu for the incompatible node: a restore of migrated images runs the real criu restore with an LSM profile
     * this host has no LSM for, so criu itself refuses it, as on a node whose security setup cannot take the workload.
     */
    private Path incompatibleCriu() throws IOException {
        return criuWrapper("criu-incompatible", """
                set -- "$@" --lsm-profile apparmor:pmig-chaos-incompatible""");
    }

    /** A criu for the corrupt node: a restore of migrated images first truncates their core images, so criu fails. */
    private Path corruptingCriu() throws IOException {
        return criuWrapper("criu-corrupting", """
                for f in "$images"/core-*.img; do truncate -c -s '<12' "$f"; done""");
    }

    /**
     * A criu for the failing node: a restore of migrated images runs with the workload's directory (the mount source
     * of its files) missing, so criu fails.
     */
    private Path failingCriu() throws IOException {
        return criuWrapper("criu-failing", """
                for a in "$@"; do
                  shift
                  case "$a" in mnt\\[*\\]:*) a="${a%%]:*}]:$images/no-such-workload-dir" ;; esac
                  set -- "$@" "$a"
                done""");
    }

    /**
     * A criu wrapper in the run's bin dir: every command runs the real criu unchanged, except a restore of a
     * migration's received images ({@code .../incoming/images}), which first runs {@code onReceivedRestore} (with the
     * images dir in {@code $images}). The executor's start-up self-test, rollbacks and checkpoints restore normally,
     * else the executor would refuse to start at all. The real criu's nft goes beside it (lock tables are deleted with
     * it).
     */
    private Path criuWrapper(String name, String onReceivedRestore) throws IOException {
        Path bin = Files.createDirectories(root.resolve("bin"));
        Path nft = bin.resolve("nft");
        if (!Files.exists(nft, java.nio.file.LinkOption.NOFOLLOW_LINKS) && Files.isExecutable(criu.binary().resolveSibling("nft"))) {
            Files.createSymbolicLink(nft, criu.binary().resolveSibling("nft"));
        }
        Path wrapper = bin.resolve(name);
        Files.writeString(wrapper, """
                #!/bin/sh
                # pmig chaos: restores of migrated images are broken on purpose; everything else is plain criu
                if [ "$1" = restore ]; then
                  images=; previous=
                  for a in "$@"; do [ "$previous" = -D ] && images=$a; previous=$a; done
                  case "$images" in
                    */incoming/images)
                %s
                      ;;
                  esac
                fi
                exec '%s' "$@"
                """.formatted(onReceivedRestore.indent(6).stripTrailing(), criu.binary()));
        Files.setPosixFilePermissions(wrapper, PosixFilePermissions.fromString("rwxr-xr-x"));
        return wrapper;
    }

    private void mount(Path dir) throws IOException, InterruptedException {
        run(List.of("mount", "-t", "tmpfs", "-o", "size=" + DISK_FULL_SIZE + ",mode=0755", "pmig-chaos", dir.toString()));
        mounts.add(dir);
    }

    /**
     * Fills the disk-full node's tmpfs so that about {@code free} bytes stay free (the node's own files included).
     * Images may be landing meanwhile: a fill that no longer fits is retried smaller, and a disk that filled up by
     * itself on the way is what was wanted.
     */
    void fillDisk(Path workdir, long free) throws IOException, InterruptedException {
        Path filler = workdir.resolve(FILLER);
        Files.deleteIfExists(filler);
        for (int attempt = 0; attempt < 5; attempt++) {
            long have = Files.exists(filler) ? Files.size(filler) : 0;
            long more = Files.getFileStore(workdir).getUsableSpace() - free;
            if (more <= 0) {
                return;
            }
            try { // tmpfs: the pages are taken at once
                run(List.of("fallocate", "-o", String.valueOf(have), "-l", String.valueOf(more), filler.toString()));
                return;
            } catch (IOException noSpace) {
                // something else took space since we looked: look again
            }
        }
    }

    /** Frees the disk-full node's tmpfs again, so its work dir can be cleaned up after a trial. */
    void unfillDisk(Path workdir) throws IOException {
        Files.deleteIfExists(workdir.resolve(FILLER));
    }

    /**
     * A second executor claiming node {@code id}: its own work dir and transfer port, same broker, same secret,
     * started in the background (JVM start-up takes seconds); the caller stops it.
     */
    Duplicate duplicate(String id) throws IOException {
        Node of = nodes.get(id);
        String name = id + "-dup" + (++duplicates);
        Path workdir = Files.createDirectories(root.resolve("nodes").resolve(name));
        int port = freePort();
        List<String> args = executorArgs(id, workdir, secret, criu.binary(), port, port);
        ChildJvm jvm = new ChildJvm(name, classPath, EXECUTOR_JVM, args, logs, "executor " + id + " ready");
        duplicateJvms.add(jvm);
        java.util.concurrent.CompletableFuture<String> started = new java.util.concurrent.CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                jvm.start(START_TIMEOUT);
                started.complete(null);
            } catch (Exception | Error e) {
                started.complete(e.getMessage()); // e.g. refused to start: the fencing the executor should do
            }
        }, "chaos-" + name);
        t.setDaemon(true);
        t.start();
        return new Duplicate(of, name, workdir, jvm, started);
    }

    /** A duplicate executor; {@code started} completes with null once ready, or with why it did not start. */
    record Duplicate(Node of, String name, Path workdir, ChildJvm jvm,
                     java.util.concurrent.CompletableFuture<String> started) {
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
            commands.send(io.pmig.platform.commands.CommandRouting.record(command))
                    .get(90, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot send " + command.getKind() + " " + command.getCommandId() + ": " + e, e);
        }
    }

    /**
     * Re-produces every command of pmig.commands so far (same key, same value), in order, once each: the records of
     * earlier replays are copies, and replaying them too would double the topic with every replay trial. Returns how
     * many were re-produced.
     */
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
        Map<String, ConsumerRecord<String, MigrationCommand>> distinct = new java.util.LinkedHashMap<>();
        for (ConsumerRecord<String, MigrationCommand> r : all) {
            if (r.value() != null) { // a source's relay to its destination has the MIGRATE's id under another key
                distinct.putIfAbsent(r.key() + "\0" + r.value().getCommandId(), r);
            }
        }
        for (ConsumerRecord<String, MigrationCommand> r : distinct.values()) {
            commands.send(new ProducerRecord<>(Topic.COMMANDS.topicName(), r.key(), r.value()));
        }
        commands.flush();
        return distinct.size();
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

    /**
     * Why the broker cannot serve the run, or null if its JVM runs and its port takes connections (a broker stopped on
     * purpose still does: the kernel completes the handshake).
     */
    String brokerProblem() {
        String where = "127.0.0.1:" + brokerPort;
        if (!broker.alive()) {
            return "the broker at " + where + " is gone: its JVM (" + broker.status() + ") is not running; see " + broker.log();
        }
        try (java.net.Socket s = new java.net.Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), brokerPort), 5_000);
            return null;
        } catch (IOException e) {
            return "the broker at " + where + " does not take connections (" + e.getMessage() + ") though its JVM ("
                    + broker.status() + ") runs; see " + broker.log();
        }
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
        // side by side: without a broker each executor may spend its whole grace period on its Kafka clients
        duplicateJvms.forEach(ChildJvm::terminate);
        nodes.values().forEach(n -> n.jvm().terminate());
        for (ChildJvm dup : duplicateJvms) {
            dup.stop(Duration.ofSeconds(60));
        }
        for (Node n : nodes.values()) {
            n.jvm().stop(Duration.ofSeconds(60));
            n.proxy().close();
        }
        if (broker != null) {
            broker.stop(Duration.ofSeconds(60));
        }
        unmount();
    }

    /** Every process of the cluster killed at once (the run was interrupted): no clean shutdown, no waiting. */
    void kill9() {
        List<ChildJvm> all = new ArrayList<>(duplicateJvms);
        nodes.values().forEach(n -> all.add(n.jvm()));
        if (broker != null) {
            all.add(broker);
        }
        for (ChildJvm jvm : all) {
            try {
                jvm.kill9();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Unmounts the disk-full node's tmpfs (lazily if something still uses it) and removes its mount point. */
    synchronized void unmount() {
        for (Path dir : mounts) {
            try {
                try {
                    run(List.of("umount", dir.toString()));
                } catch (IOException busy) {
                    run(List.of("umount", "-l", dir.toString())); // a process left in it: detach now, freed when it exits
                }
                Files.deleteIfExists(dir);
            } catch (IOException | InterruptedException e) {
                System.err.println("pmig chaos: cannot unmount " + dir + ": " + e.getMessage());
            }
        }
        mounts.clear();
    }

    private static void run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out.strip());
        }
    }

    /** Deletes everything under the root (work dirs, images, broker data, logs). */
    void deleteFiles() throws IOException {
        NodeWorkloads.deleteTree(root);
    }

    /** Workload ids {@code prefix-0}, {@code prefix-1}, ... until one lands on each partition of pmig.commands. */
    static List<String> onePerPartition(String prefix) {
        int partitions = Topic.COMMANDS.partitions();
        Map<Integer, String> byPartition = new java.util.TreeMap<>();
        for (int i = 0; byPartition.size() < partitions; i++) {
            String key = prefix + "-" + i;
            int p = Topic.partitionOf(key, partitions);
            byPartition.putIfAbsent(p, key);
        }
        return List.copyOf(byPartition.values());
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
