package io.pmig.executor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.criu.Criu;
import io.pmig.executor.migration.CheckpointEngine;
import io.pmig.executor.node.NodeExecutor;
import io.pmig.executor.workload.InitBinary;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Several real executors in this JVM, each with its own work dir and transfer port, on the shared embedded
 * broker, plus a reader of every event and a writer of commands - the fixture of the migration tests.
 */
final class TestNodes implements AutoCloseable {

    static final byte[] SECRET = "pmig-test-secret-0123456789abcdef".getBytes(StandardCharsets.UTF_8);
    private static Criu criu;

    final Path root;
    final String prefix = "t" + UUID.randomUUID().toString().substring(0, 6) + "-";
    private final Map<String, NodeExecutor> executors = new ConcurrentHashMap<>();
    private final Map<String, Path> workdirs = new ConcurrentHashMap<>();
    private final KafkaProducer<String, MigrationCommand> commands;
    private final KafkaConsumer<String, MigrationEvent> eventReader;
    private final List<MigrationEvent> events = new ArrayList<>();
    private final List<ExecutorProcess> processes = new ArrayList<>();
    private final java.util.Properties kafka;
    private final String bootstrapServers;

    TestNodes() throws IOException {
        this(SharedBroker.clientProperties(), SharedBroker.bootstrapServers());
    }

    /** Nodes on another broker than the shared one (e.g. one that node namespaces can reach). */
    TestNodes(java.util.Properties kafka, String bootstrapServers) throws IOException {
        this.kafka = kafka;
        this.bootstrapServers = bootstrapServers;
        root = Files.createTempDirectory("pmig-executor-test");
        commands = new KafkaProducer<>(kafka, new StringSerializer(),
                Topic.COMMANDS.<MigrationCommand>serde().serializer());
        java.util.Properties committed = new java.util.Properties();
        committed.putAll(kafka);
        committed.put(org.apache.kafka.clients.consumer.ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"); // as pmig reads
        eventReader = new KafkaConsumer<>(committed, new StringDeserializer(), Topic.EVENTS.<MigrationEvent>serde().deserializer());
        List<TopicPartition> parts = eventReader.partitionsFor(Topic.EVENTS.topicName()).stream()
                .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
        eventReader.assign(parts);
        eventReader.seekToEnd(parts);
        parts.forEach(eventReader::position);
    }

    /** criu from PMIG_CRIU, the private install, or installed now by the project's script (idempotent). */
    static synchronized Criu criu() throws Exception {
        if (criu != null) {
            return criu;
        }
        String env = System.getenv("PMIG_CRIU");
        Path path = env != null ? Path.of(env) : Path.of("/opt/pmig/criu/bin/criu");
        if (!Files.isExecutable(path)) {
            Path script = Path.of("..", "scripts", "install-criu.sh").toAbsolutePath().normalize();
            Process p = new ProcessBuilder(script.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            assertTrue(p.waitFor(10, TimeUnit.MINUTES) && p.exitValue() == 0, "scripts/install-criu.sh failed");
            path = Path.of(out.lines().reduce((a, b) -> b).orElseThrow());
        }
        criu = Criu.verified(path, true); // a test machine: LAZY must run
        return criu;
    }

    NodeExecutor start(String name) throws Exception {
        return start(name, UnaryOperator.identity());
    }

    /** Starts executor {@code name} (again: same work dir) with its config adjusted by {@code tweak}. */
    NodeExecutor start(String name, UnaryOperator<ExecutorConfig.Builder> tweak) throws Exception {
        return start(name, tweak, null, Map.of());
    }

    /** Starts executor {@code name} whose migrations act through {@code engine} (the fake: no criu). */
    NodeExecutor start(String name, CheckpointEngine engine) throws Exception {
        return start(name, UnaryOperator.identity(), engine, Map.of());
    }

    /** The same, with these Kafka client properties on top of the shared broker's. */
    NodeExecutor start(String name, CheckpointEngine engine, Map<String, String> kafkaOverrides) throws Exception {
        return start(name, UnaryOperator.identity(), engine, kafkaOverrides);
    }

    private NodeExecutor start(String name, UnaryOperator<ExecutorConfig.Builder> tweak, CheckpointEngine engine,
                               Map<String, String> kafkaOverrides) throws Exception {
        String node = prefix + name;
        Path workdir = workdirs.computeIfAbsent(node, n -> root.resolve(n));
        java.util.Properties kafka = (java.util.Properties) this.kafka.clone();
        kafka.putAll(kafkaOverrides);
        ExecutorConfig.Builder config = ExecutorConfig.local(node, kafka, workdir, criu(),
                InitBinary.install(InitBinary.DEFAULT_PATH), SECRET)
                .set(ExecutorConfig.SESSION_TIMEOUT_MS, Duration.ofMinutes(2).toMillis())
                .set(ExecutorConfig.KILL_WORKLOADS_ON_EXIT, false); // a stopped executor leaves its workloads, as in production
        ExecutorConfig built = tweak.apply(config).build();
        NodeExecutor executor = engine == null ? NodeExecutor.start(built) : NodeExecutor.start(built, engine);
        executors.put(node, executor);
        return executor;
    }

    /**
     * Starts executor {@code name} as {@code pmig executor} in a JVM of its own (same work dir, broker and secret as
     * the in-process ones), so that a test can kill -9 it; {@link #start} restarts it in this JVM on the same work dir.
     */
    ExecutorProcess startProcess(String name) throws Exception {
        return startProcess(name, Map.of());
    }

    /** {@link #startProcess(String)} with these Java system properties (e.g. the node's Docker engine). */
    ExecutorProcess startProcess(String name, Map<String, String> systemProperties) throws Exception {
        return startProcess(name, systemProperties, List.of(), "127.0.0.1:0", List.of());
    }

    /**
     * {@link #startProcess(String)} run through {@code launcher} (e.g. {@code ip netns exec NS}: the executor inside a
     * node's network namespace), listening on {@code listen}, with {@code extraArgs} after the usual ones.
     */
    ExecutorProcess startProcess(String name, Map<String, String> systemProperties, List<String> launcher, String listen,
                                 List<String> extraArgs) throws Exception {
        return startProcess(name, systemProperties, launcher, listen, extraArgs, criu().binary());
    }

    /** {@link #startProcess(String, Map, List, String, List)} with another criu (e.g. {@link #gatedCriu}). */
    ExecutorProcess startProcess(String name, Map<String, String> systemProperties, List<String> launcher, String listen,
                                 List<String> extraArgs, Path criuBinary) throws Exception {
        String node = prefix + name;
        Path workdir = workdirs.computeIfAbsent(node, n -> root.resolve(n));
        Path secret = root.resolve("transfer.secret");
        if (!Files.exists(secret)) {
            Files.createFile(secret, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.write(secret, SECRET);
        }
        List<String> args = new ArrayList<>(List.of(
                "--node", node, "--bootstrap-server", bootstrapServers, "--workdir", workdir.toString(),
                "--listen", listen, "--criu", criuBinary.toString(), "--secret-file", secret.toString(),
                "--config", ExecutorConfig.SESSION_TIMEOUT_MS + "=" + Duration.ofMinutes(2).toMillis()));
        args.addAll(extraArgs);
        ExecutorProcess process = ExecutorProcess.start(node, root.resolve(node + ".log"), systemProperties, launcher, args);
        processes.add(process);
        return process;
    }

    /**
     * A criu to give a destination (as {@link ExecutorConfig#CRIU_PATH}) whose restores of received images really fail:
     * a wrapper that runs the real criu for every command, but first truncates the core images of a migration's
     * received images ({@code .../incoming/images}) when asked to restore them. Rollbacks, checkpoints and the
     * self-test on the same node restore normally.
     */
    Path corruptingCriu() throws Exception {
        return criuWrapper("criu-corrupting", """
                for f in "$images"/core-*.img; do truncate -c -s '<12' "$f"; done""");
    }

    /**
     * A criu whose restores of received images wait until {@code gate} exists, then run as usual: holds a migration
     * between its dump and its COMMIT for as long as the test needs - or until the test's directory is gone (the
     * wrapper with it), so that a test that failed before opening the gate leaves no waiting script behind.
     */
    Path gatedCriu(Path gate) throws Exception {
        return criuWrapper("criu-gated-" + gate.getFileName(), """
                while [ ! -e '%s' ] && [ -e "$0" ]; do sleep 0.05; done""".formatted(gate));
    }

    /**
     * {@link #gatedCriu}, whose restore then fails if {@code failing} exists when the gate opens (the received core
     * images truncated, as {@link #corruptingCriu} does): one destination for a held commit and a held rollback.
     */
    Path gatedCriu(Path gate, Path failing) throws Exception {
        return criuWrapper("criu-gated-" + gate.getFileName() + "-" + failing.getFileName(), """
                while [ ! -e '%s' ] && [ -e "$0" ]; do sleep 0.05; done
                if [ -e '%s' ]; then for f in "$images"/core-*.img; do truncate -c -s '<12' "$f"; done; fi"""
                .formatted(gate, failing));
    }

    /**
     * A criu that appends {@code ls -ln} of every migration's received images to {@code listing} before restoring them
     * as usual: what a destination got, although the images are deleted once the migration ends.
     */
    Path listingCriu(Path listing) throws Exception {
        return criuWrapper("criu-listing-" + listing.getFileName(), """
                ls -ln "$images" >> '%s'""".formatted(listing));
    }

    /** A criu wrapper in {@code root/bin}, with the real criu's nft beside it (leftover lock tables are deleted with it). */
    private Path criuWrapper(String name, String onReceivedRestore) throws Exception {
        Path bin = Files.createDirectories(root.resolve("bin"));
        Path real = criu().binary();
        Path nft = bin.resolve("nft");
        if (!Files.exists(nft, java.nio.file.LinkOption.NOFOLLOW_LINKS) && Files.isExecutable(real.resolveSibling("nft"))) {
            Files.createSymbolicLink(nft, real.resolveSibling("nft"));
        }
        Path wrapper = bin.resolve(name);
        Files.writeString(wrapper, """
                #!/bin/sh
                # pmig test: restores of received images are tampered with; every other criu command is the real one
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
                """.formatted(onReceivedRestore.indent(6).stripTrailing(), real));
        Files.setPosixFilePermissions(wrapper, PosixFilePermissions.fromString("rwxr-xr-x"));
        return wrapper;
    }

    void stop(String name) {
        NodeExecutor e = executors.remove(prefix + name);
        if (e != null) {
            e.close();
        }
    }

    String node(String name) {
        return prefix + name;
    }

    Path workloadDir(String name, String workloadId) {
        return workdirs.get(prefix + name).resolve("workloads").resolve(workloadId);
    }

    Path workdir(String name) {
        return workdirs.get(prefix + name);
    }

    /** Host pid of the workload's init on that node, if it runs there. */
    Optional<Integer> runningPid(String name, String workloadId) {
        Path pidFile = workloadDir(name, workloadId).resolve(NodeWorkloads.PID_FILE);
        try {
            int pid = Integer.parseInt(Files.readString(pidFile).strip());
            return ProcessTable.isAlive(pid) ? Optional.of(pid) : Optional.empty();
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    String send(CommandKind kind, String workloadId, String sourceName, String destinationName, MigrationMode mode,
                List<String> argv) throws Exception {
        MigrationCommand command = command(kind, workloadId, sourceName, destinationName, mode, argv);
        send(command);
        return command.getCommandId();
    }

    MigrationCommand command(CommandKind kind, String workloadId, String sourceName, String destinationName,
                             MigrationMode mode, List<String> argv) {
        return MigrationCommand.newBuilder().setCommandId(prefix + kind + "-" + UUID.randomUUID())
                .setKind(kind).setWorkloadId(workloadId)
                .setSourceNode(sourceName == null ? null : node(sourceName))
                .setDestinationNode(destinationName == null ? null : node(destinationName))
                .setMode(mode == null ? MigrationMode.PAGE_SERVER : mode).setArgv(argv)
                .setIssuedAtMs(System.currentTimeMillis()).setDeadlineMs(System.currentTimeMillis() + 60_000)
                .setIssuedBy("test").build();
    }

    void send(MigrationCommand command) throws Exception {
        commands.send(io.pmig.platform.commands.CommandRouting.record(command)).get();
    }

    /** LAUNCHes {@code argv} as workload {@code w} on node {@code name}; its pid once LAUNCHED. */
    int launch(String name, String w, List<String> argv, Duration timeout) throws Exception {
        String id = send(CommandKind.LAUNCH, w, null, name, null, argv);
        MigrationEvent launched = await(e -> e.getCommandId().equals(id)
                && (e.getPhase() == Phase.LAUNCHED || e.getPhase() == Phase.FAILED), timeout, "LAUNCHED " + w);
        assertEquals(Phase.LAUNCHED, launched.getPhase(), launched.toString());
        return launched.getPid();
    }

    /** KILLs workload {@code w} on node {@code name} and checks it was KILLED. */
    void kill(String name, String w, Duration timeout) throws Exception {
        String id = send(CommandKind.KILL, w, name, null, null, List.of());
        assertEquals(Phase.KILLED, await(e -> e.getCommandId().equals(id), timeout, "KILLED " + w).getPhase());
    }

    /** The complete lines of {@code file} in workload {@code w}'s work dir on node {@code name} (none yet: empty). */
    List<String> workLines(String name, String w, String file) throws IOException {
        Path path = workloadDir(name, w).resolve("work").resolve(file);
        if (!Files.exists(path)) {
            return List.of();
        }
        String text = Files.readString(path);
        List<String> lines = text.lines().toList();
        // the writer may be mid-line (or the file just created, still empty)
        return text.isEmpty() || text.endsWith("\n") ? lines : lines.subList(0, lines.size() - 1);
    }

    /** Lines "1", "2", ... with none missing or repeated: a counting workload that was never run twice or rewound. */
    static void assertConsecutive(List<String> lines) {
        for (int i = 0; i < lines.size(); i++) {
            assertEquals(String.valueOf(i + 1), lines.get(i).strip(), "line " + (i + 1) + " of " + lines.size());
        }
    }

    /** Waits for an event (from any node) matching; fails the test if none comes within the timeout. */
    MigrationEvent await(Predicate<MigrationEvent> match, Duration timeout, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Optional<MigrationEvent> found = find(match);
            if (found.isPresent()) {
                return found.get();
            }
            poll();
        }
        throw new AssertionError("no event " + what + " within " + timeout + "; saw " + eventsSummary());
    }

    synchronized Optional<MigrationEvent> find(Predicate<MigrationEvent> match) {
        return events.stream().filter(match).findFirst();
    }

    synchronized List<MigrationEvent> all(Predicate<MigrationEvent> match) {
        poll();
        return events.stream().filter(match).toList();
    }

    private synchronized void poll() {
        for (ConsumerRecord<String, MigrationEvent> r : eventReader.poll(Duration.ofMillis(100))) {
            if (r.value() != null && r.value().getNode().startsWith(prefix)) {
                events.add(r.value());
            }
        }
    }

    synchronized String eventsSummary() {
        StringBuilder sb = new StringBuilder();
        events.forEach(e -> sb.append("\n  ").append(e.getNode().substring(prefix.length())).append(' ')
                .append(e.getPhase()).append(' ').append(e.getWorkloadId())
                .append(e.getError() == null ? "" : " error=" + e.getError()));
        return sb.toString();
    }

    static Predicate<MigrationEvent> phase(String migrationId, Phase phase) {
        return e -> e.getMigrationId().equals(migrationId) && e.getPhase() == phase;
    }

    static Predicate<MigrationEvent> ended(String migrationId) {
        return e -> e.getMigrationId().equals(migrationId)
                && (e.getPhase() == Phase.COMPLETED || e.getPhase() == Phase.ROLLED_BACK || e.getPhase() == Phase.FAILED);
    }

    /** A free loopback port (for a listen address that must be known before the executor starts). */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Kills every workload the nodes still run, stops the executors and deletes their work dirs. */
    @Override
    public void close() throws Exception {
        for (ExecutorProcess process : processes) {
            process.kill9();
        }
        executors.keySet().forEach(n -> executors.remove(n).close());
        for (Path workdir : workdirs.values()) {
            Path workloads = workdir.resolve("workloads");
            if (Files.isDirectory(workloads)) {
                try (var dirs = Files.list(workloads)) {
                    for (Path d : dirs.toList()) {
                        try {
                            int pid = Integer.parseInt(Files.readString(d.resolve("pid")).strip());
                            ProcessTable.killNamespace(pid);
                        } catch (IOException | NumberFormatException ignored) {
                            // not running
                        }
                    }
                }
            }
        }
        for (Path workdir : workdirs.values()) {
            // a source frozen for a migration that never ended has no pid file any more: its journal names the init
            for (io.pmig.executor.migration.MigrationJournal journal : io.pmig.executor.migration.MigrationJournal.all(workdir)) {
                io.pmig.executor.workload.WorkloadIdentity.parse(journal.get("init"))
                        .filter(io.pmig.executor.workload.WorkloadIdentity::isPresent)
                        .ifPresent(init -> ProcessTable.killNamespace(init.pid()));
            }
        }
        commands.close();
        eventReader.close();
        if (System.getenv("PMIG_KEEP_TEST_DIR") == null) {
            NodeWorkloads.deleteTree(root);
        } else { // to read the executors' logs (<root>/<node>.log) after a failure
            System.out.println("kept " + root);
        }
    }

    /**
     * The criu network-lock tables (nft {@code inet CRIU-*}) on this machine now. Other programs leave theirs
     * behind too (FACTS), so a test compares the set before and after its own migrations.
     */
    static java.util.Set<String> criuLockTables() throws Exception {
        Path nft = criu().binary().resolveSibling("nft");
        if (!Files.isExecutable(nft)) {
            return java.util.Set.of();
        }
        Process p = new ProcessBuilder(nft.toString(), "list", "tables").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out.lines().map(String::strip).filter(l -> l.startsWith("table inet CRIU-"))
                .collect(java.util.stream.Collectors.toSet());
    }

    /** The lock tables that appeared since {@code before}. */
    static java.util.Set<String> newCriuLockTables(java.util.Set<String> before) throws Exception {
        java.util.Set<String> now = new java.util.TreeSet<>(criuLockTables());
        now.removeAll(before);
        return now;
    }

    /**
     * Asserts that no lock table appeared since {@code before} and stayed. Another criu on the machine (a chaos run,
     * another suite) holds a table while it dumps, for up to its broker-stall timeout; a table this test's
     * migrations left behind never goes away, so waiting out the transient ones keeps the check to this test's own.
     */
    static void assertNoLockTableLeftSince(java.util.Set<String> before) {
        org.awaitility.Awaitility.await("criu network-lock tables left behind")
                .atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                .until(() -> newCriuLockTables(before), org.hamcrest.Matchers.empty());
    }
}
