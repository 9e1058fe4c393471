package io.pmig.tools.bench;

import io.pmig.executor.ExecutorConfig;
import io.pmig.executor.criu.Criu;
import io.pmig.executor.network.LocalSegment;
import io.pmig.executor.node.NodeExecutor;
import io.pmig.executor.workload.InitBinary;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.broker.EmbeddedBroker;
import io.pmig.platform.commands.CommandDeadline;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.topics.Topic;
import io.pmig.platform.topics.TopicCreator;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.NetworkIdentity;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code pmig bench migrate}: per memory size, a raw {@code criu dump} + {@code criu restore} of the heartbeat
 * workload (the baseline), then a migration of the same workload between two real executors in this process for
 * each mode. Downtime is the longest gap in the workload's own heartbeat, for pmig and the baseline alike.
 */
@Command(name = "migrate", mixinStandardHelpOptions = true,
        description = "Migration downtime and total time per mode against raw criu dump + restore, same run.")
public final class MigrateBench implements Callable<Integer> {

    /** Goals of issue 10. */
    static final double DEFAULT_MODE_RATIO_GOAL = 1.15;
    static final long LAZY_DOWNTIME_GOAL_MS = 300;
    private static final Duration WAIT = Duration.ofMinutes(3);

    @Option(names = "--sizes-mib", split = ",", defaultValue = "64,256,1024", description = "Dirtied memory of the workload, MiB (default: ${DEFAULT-VALUE}).")
    List<Integer> sizesMib;

    @Option(names = "--modes", split = ",", defaultValue = "PAGE_SERVER,PLAIN,LAZY", description = "Migration modes (default: ${DEFAULT-VALUE}).")
    List<MigrationMode> modes;

    @Option(names = "--criu", paramLabel = "PATH", description = "criu binary (default: $PMIG_CRIU, else /opt/pmig/criu/bin/criu).")
    Path criuPath;

    @Option(names = "--json", description = "End with one JSON line: an entry per size and mode with downtime_ms, total_ms, raw_ms, ratio.")
    boolean json;

    /** Who watches the workload besides its own heartbeat. */
    enum ClientKind { NONE, TCP }

    @Option(names = "--client", paramLabel = "NONE|TCP", defaultValue = "NONE", description = {
            "TCP: the workload gets its own network identity on a local segment (bridges of its own) and echoes a",
            "client in its own namespace, which keeps one connection and opens a new one every 50 ms; adds",
            "client_gap_ms, client_resets, client_refused, client_errors, client_timeouts; a client's logs that show a failure",
            "are kept under $TMPDIR/pmig-bench-clients/ (client_logs) (default: ${DEFAULT-VALUE})."})
    ClientKind client;

    /** Whether a frozen workload's clients get ICMP host-unreachable from its node (executor.workload.unreachable.answers). */
    enum Answers { ON, OFF, BOTH }

    @Option(names = "--unreachable-answers", paramLabel = "ON|OFF|BOTH", defaultValue = "ON", description = {
            "With --client tcp: whether the source node answers a frozen workload's clients with ICMP host-unreachable",
            "(its bridges then hold an address on the segment, in this namespace). BOTH: every migration twice, once",
            "between nodes with the answers and once between nodes without (the same-run baseline), alternating which",
            "goes first; rows add unreachable_answers (default: ${DEFAULT-VALUE})."})
    Answers answers;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--repeats", defaultValue = "1", description = "Migrations per size and mode (default: ${DEFAULT-VALUE}).")
    int repeats;

    /** Goal of issue 15: what a client sees is what pmig reports. */
    static final double CLIENT_GAP_RATIO_GOAL = 1.1;
    static final long LAZY_CLIENT_GAP_GOAL_MS = 500;
    private static final int ECHO_PORT = 7000;
    private LocalSegment segment;
    private Path clientBinary;

    private final String prefix = "bench" + UUID.randomUUID().toString().substring(0, 4) + "-";
    private KafkaProducer<String, MigrationCommand> commands;
    private KafkaConsumer<String, MigrationEvent> eventReader;
    private final List<MigrationEvent> events = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        if (repeats < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--repeats: must be at least 1, got " + repeats);
        }
        Criu criu = Criu.verified(criuPath != null ? criuPath
                : Path.of(System.getenv().getOrDefault("PMIG_CRIU", Criu.PROJECT_INSTALL.toString())), true);
        Path init = InitBinary.install(InitBinary.DEFAULT_PATH);
        Path root = Files.createTempDirectory("pmig-bench-migrate-");
        List<Map<String, Object>> entries = new ArrayList<>();
        List<NodeExecutor> executors = new ArrayList<>();
        try (EmbeddedBroker broker = EmbeddedBroker.start(0, null)) {
            try {
                Properties client = KafkaClientOptions.of(broker.bootstrapServers()).clientProperties();
                TopicCreator.ensureTopics(client);
                Path workload = HeartbeatWorkload.build(root.resolve("bin"));
                if (this.client == ClientKind.TCP) {
                    segment = new LocalSegment();
                    clientBinary = TcpClient.build(root.resolve("bin"));
                }
                openClients(client);
                byte[] secret = new byte[32];
                new SecureRandom().nextBytes(secret);
                // a, b: with ICMP answers where asked; c, d: without (--unreachable-answers BOTH)
                List<String> names = segment != null && answers == Answers.BOTH ? List.of("a", "b", "c", "d") : List.of("a", "b");
                for (String name : names) {
                    boolean answering = segment != null && answers != Answers.OFF && (name.equals("a") || name.equals("b"));
                    ExecutorConfig.Builder builder = ExecutorConfig.local(prefix + name, client, root.resolve(name), criu, init, secret)
                            .set(ExecutorConfig.SESSION_TIMEOUT_MS, Duration.ofMinutes(2).toMillis())
                            .set(ExecutorConfig.KILL_WORKLOADS_ON_EXIT, false);
                    if (segment != null) {
                        builder.set(ExecutorConfig.WORKLOAD_BRIDGE, segment.nodeBridge(name, answering))
                                .set(ExecutorConfig.WORKLOAD_RANGE, segment.range().toString())
                                .set(ExecutorConfig.WORKLOAD_UNREACHABLE_ANSWERS, answering);
                    }
                    ExecutorConfig config = builder.build();
                    NodeExecutor executor = new NodeExecutor(config).start();
                    executors.add(executor);
                    if (!executor.awaitReady(Duration.ofSeconds(60))) {
                        throw new IllegalStateException("executor " + name + " was never assigned pmig.commands");
                    }
                }
                System.out.printf(Locale.ROOT, "migration: heartbeat workload every 10 ms, sizes %s MiB, modes %s, criu %s%n",
                        sizesMib, modes, criu.binary());
                System.out.printf(Locale.ROOT, "  %8s %-11s %11s %9s %9s %7s  %s%n", "size", "mode", "downtime", "total", "raw",
                        "ratio", "phases (executor's events): freeze / dump / transfer / restore, ms");
                for (int size : sizesMib) {
                    RawResult raw = raw(criu, init, workload, root.resolve("raw"), size);
                    System.out.printf(Locale.ROOT, "  %5d MiB %-11s %8d ms %6d ms %6d ms %7s  criu dump %d + restore %d%n",
                            size, "raw criu", raw.gapMs(), raw.dumpMs() + raw.restoreMs(), raw.gapMs(), "1.00",
                            raw.dumpMs(), raw.restoreMs());
                    for (int repeat = 0; repeat < repeats; repeat++) {
                        for (MigrationMode mode : modes) {
                            for (boolean answering : variants(repeat)) {
                                entries.add(measure(workload, root, size, mode, raw, answering, repeat));
                            }
                        }
                    }
                }
                printGoals(entries);
            } finally {
                // before the broker goes: an executor stopping without one waits a minute for each write
                executors.forEach(NodeExecutor::close);
                if (commands != null) {
                    commands.close();
                }
                if (eventReader != null) {
                    eventReader.close();
                }
            }
        } finally {
            if (segment != null) {
                segment.close();
            }
            killLeftovers(root);
            NodeWorkloads.deleteTree(root);
        }
        if (json) {
            System.out.println(JsonLine.of(entries));
        }
        return 0;
    }

    /** With answers first on even repeats, without first on odd ones ({@code --unreachable-answers BOTH}). */
    private List<Boolean> variants(int repeat) {
        if (segment == null || answers != Answers.BOTH) {
            return List.of(segment != null && answers == Answers.ON);
        }
        return repeat % 2 == 0 ? List.of(true, false) : List.of(false, true);
    }

    /** One migration, printed: between a and b, or c and d for the same-run baseline without answers. */
    private Map<String, Object> measure(Path workload, Path root, int size, MigrationMode mode, RawResult raw,
                                        boolean answering, int repeat) throws Exception {
        boolean baselinePair = answers == Answers.BOTH && !answering;
        Map<String, Object> entry = migrate(workload, root, size, mode, raw, answering, baselinePair ? "c" : "a",
                baselinePair ? "d" : "b", repeat);
        String label = mode.name() + (answering ? "+icmp" : "");
        PhaseTimings t = (PhaseTimings) entry.remove("timings");
        if ("COMPLETED".equals(entry.get("status"))) {
            System.out.printf(Locale.ROOT, "  %5d MiB %-11s %8d ms %6d ms %6d ms %7.2f  %d / %d / %d / %d (executor downtime %d)%n",
                    size, label, entry.get("downtime_ms"), entry.get("total_ms"), raw.gapMs(), entry.get("ratio"),
                    t.getFreezeMs(), t.getDumpMs(), t.getTransferMs(), t.getRestoreMs(), t.getDowntimeMs());
            if (entry.containsKey("client_gap_ms")) {
                System.out.printf(Locale.ROOT, "  %9s %-11s client: longest gap %d ms on its connection, %d resets,"
                                + " %d refused, %d other errors, %d timed out of %d new connections%n", "", "", entry.get("client_gap_ms"),
                        entry.get("client_resets"), entry.get("client_refused"), entry.get("client_errors"), entry.get("client_timeouts"),
                        entry.get("client_probes"));
            }
        } else {
            System.out.printf(Locale.ROOT, "  %5d MiB %-11s %s: %s%n", size, label, entry.get("status"), entry.get("error"));
        }
        return entry;
    }

    record RawResult(long gapMs, long dumpMs, long restoreMs) {
    }

    /** The baseline: the same workload under the same pmig-init, checkpointed and restored by criu alone, in place. */
    private RawResult raw(Criu criu, Path init, Path workload, Path workdir, int sizeMib) throws Exception {
        NodeWorkloads node = new NodeWorkloads(workdir, init);
        String id = prefix + "raw-" + sizeMib;
        int pid = node.launch(id, List.of(workload.toString(), String.valueOf(sizeMib)));
        Path dir = node.dir(id);
        Path images = workdir.resolve("images-" + sizeMib);
        Files.createDirectories(images);
        int restored = -1;
        try {
            HeartbeatWorkload.awaitBeatAfter(dir.resolve("work"), System.currentTimeMillis() + 100, WAIT.toMillis());
            long started = System.currentTimeMillis();
            long t0 = System.nanoTime();
            // The executor's own flags (Criu.dump / Criu.restore), so the baseline does the same work minus pmig.
            runCriu(criu, List.of("dump", "-t", String.valueOf(pid), "-D", images.toString(), "-o", "dump.log",
                    "--tcp-established", "--file-locks", "--network-lock", "nftables",
                    "--external", "mnt[" + Criu.WORKLOAD_MOUNT + "]:wl"));
            long t1 = System.nanoTime();
            Path pidFile = images.resolve("restored.pid");
            runCriu(criu, List.of("restore", "-D", images.toString(), "-o", "restore.log", "--tcp-established",
                    "--file-locks", "--root", "/", "-d", "--pidfile", pidFile.toString(),
                    "--external", "mnt[wl]:" + dir));
            long t2 = System.nanoTime();
            restored = Integer.parseInt(Files.readString(pidFile).strip());
            HeartbeatWorkload.awaitBeatAfter(dir.resolve("work"), System.currentTimeMillis() + 100, WAIT.toMillis());
            long gap = HeartbeatWorkload.longestGapMs(HeartbeatWorkload.beats(dir.resolve("work")), started);
            return new RawResult(gap, TimeUnit.NANOSECONDS.toMillis(t1 - t0), TimeUnit.NANOSECONDS.toMillis(t2 - t1));
        } finally {
            ProcessTable.killNamespace(restored > 0 ? restored : pid);
            NodeWorkloads.deleteTree(images);
            NodeWorkloads.deleteTree(dir);
        }
    }

    private Map<String, Object> migrate(Path workload, Path root, int sizeMib, MigrationMode mode, RawResult raw,
                                        boolean answering, String source, String destination, int repeat) throws Exception {
        String id = prefix + mode.name().toLowerCase(Locale.ROOT).replace('_', '-') + "-" + sizeMib + "-" + source + repeat;
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("size_mib", sizeMib);
        entry.put("mode", mode.name());
        if (segment != null) {
            entry.put("unreachable_answers", answering);
        }
        List<String> argv = segment == null ? List.of(workload.toString(), String.valueOf(sizeMib))
                : List.of(workload.toString(), String.valueOf(sizeMib), String.valueOf(ECHO_PORT));
        String launchId = send(CommandKind.LAUNCH, id, null, prefix + source, mode, argv);
        MigrationEvent launched = await(e -> e.getCommandId().toString().equals(launchId), "LAUNCHED " + id);
        if (launched.getPhase() != Phase.LAUNCHED) {
            throw new IllegalStateException("launch of " + id + " failed: " + launched.getError());
        }
        Path sourceWork = root.resolve(source).resolve("workloads").resolve(id).resolve("work");
        Path destinationWork = root.resolve(destination).resolve("workloads").resolve(id).resolve("work");
        HeartbeatWorkload.awaitBeatAfter(sourceWork, System.currentTimeMillis() + 100, WAIT.toMillis());
        TcpClient tcp = segment == null ? null : TcpClient.start(clientBinary, segment,
                launched.getAddress().substring(0, launched.getAddress().indexOf('/')), ECHO_PORT, root.resolve("client-" + id));
        long started = System.currentTimeMillis();
        long t0 = System.nanoTime();
        String migrationId = send(CommandKind.MIGRATE, id, prefix + source, prefix + destination, mode, List.of());
        MigrationEvent end = await(e -> e.getMigrationId().toString().equals(migrationId)
                && Set.of(Phase.COMPLETED, Phase.ROLLED_BACK, Phase.FAILED).contains(e.getPhase()), "end of " + migrationId);
        long totalMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        entry.put("status", end.getPhase().name());
        String where = source;
        if (tcp != null) {
            tcp.awaitReplyAfter(System.currentTimeMillis() + 100, WAIT.toMillis());
            tcp.close();
            TcpClient.Seen seen = tcp.seen(started);
            entry.put("client_gap_ms", seen.longestGapMs());
            entry.put("client_resets", seen.resets());
            entry.put("client_refused", seen.refused());
            entry.put("client_timeouts", seen.timeouts());
            entry.put("client_errors", seen.errors());
            entry.put("client_probes", seen.probes());
            if (seen.resets() + seen.refused() + seen.errors() + seen.timeouts() > 0) {
                Path kept = keepClientLogs(root.resolve("client-" + id), id, started, end);
                if (kept != null) {
                    entry.put("client_logs", kept.toString());
                }
            }
        }
        if (end.getPhase() == Phase.COMPLETED) {
            where = destination;
            HeartbeatWorkload.awaitBeatAfter(destinationWork, System.currentTimeMillis() + 100, WAIT.toMillis());
            long gap = HeartbeatWorkload.longestGapMs(HeartbeatWorkload.beats(destinationWork), started);
            entry.put("downtime_ms", gap);
            entry.put("total_ms", totalMs);
            entry.put("raw_ms", raw.gapMs());
            entry.put("ratio", Stats.round(Stats.ratio(gap, raw.gapMs()), 3));
            PhaseTimings t = end.getTimings();
            entry.put("freeze_ms", t.getFreezeMs());
            entry.put("dump_ms", t.getDumpMs());
            entry.put("transfer_ms", t.getTransferMs());
            entry.put("restore_ms", t.getRestoreMs());
            entry.put("executor_downtime_ms", t.getDowntimeMs());
            entry.put("timings", t);
        } else {
            entry.put("error", end.getError() == null ? null : end.getError().toString());
            entry.put("raw_ms", raw.gapMs());
        }
        String killId = send(CommandKind.KILL, id, prefix + where, null, mode, List.of());
        await(e -> e.getCommandId().toString().equals(killId), "KILLED " + id);
        return entry;
    }

    /**
     * A client that saw a failure keeps its logs beyond the run ({@code $TMPDIR/pmig-bench-clients/<id>/}, probes.log:
     * outcome, start ms, duration ms), with the migration's start and end beside them to line the probes up against.
     */
    private static Path keepClientLogs(Path clientDir, String id, long startedMs, MigrationEvent end) {
        Path kept = Path.of(System.getenv().getOrDefault("TMPDIR", System.getProperty("java.io.tmpdir")), "pmig-bench-clients", id);
        try {
            Files.createDirectories(kept);
            try (var files = Files.list(clientDir)) {
                for (Path file : files.filter(f -> f.toString().endsWith(".log") || f.toString().endsWith(".out")).toList()) {
                    Files.copy(file, kept.resolve(file.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
            Files.writeString(kept.resolve("migration.txt"), "migration " + end.getMigrationId() + " started " + startedMs
                    + " ended " + end.getPhase() + " at " + end.getTimestampMs() + (end.getTimings() == null ? ""
                    : " freeze " + end.getTimings().getFreezeMs() + " downtime " + end.getTimings().getDowntimeMs())
                    + (end.getError() == null ? "" : " error " + end.getError()) + "\n");
            System.out.printf(Locale.ROOT, "  %9s %-11s client logs kept in %s%n", "", "", kept);
            return kept;
        } catch (IOException e) {
            System.err.println("bench migrate: cannot keep the client's logs of " + id + ": " + e.getMessage());
            return null;
        }
    }

    private void printGoals(List<Map<String, Object>> entries) {
        for (Map<String, Object> entry : entries) {
            Object ratio = entry.get("ratio");
            if (entry.get("mode").equals(MigrationMode.PAGE_SERVER.name()) && ratio instanceof Double r) {
                System.out.printf(Locale.ROOT, "  goal default mode (PAGE_SERVER) downtime <= %.2fx raw at %d MiB: %.2fx %s%n",
                        DEFAULT_MODE_RATIO_GOAL, entry.get("size_mib"), r, r <= DEFAULT_MODE_RATIO_GOAL ? "met" : "MISSED");
            }
            if (entry.get("mode").equals(MigrationMode.LAZY.name()) && (Integer) entry.get("size_mib") == 1024) {
                Object downtime = entry.get("downtime_ms");
                System.out.printf(Locale.ROOT, "  goal LAZY downtime <= %d ms at 1 GiB: %s%n", LAZY_DOWNTIME_GOAL_MS,
                        downtime == null ? "not measured (" + entry.get("status") + ": " + entry.get("error") + ")"
                                : downtime + " ms " + ((Long) downtime <= LAZY_DOWNTIME_GOAL_MS ? "met" : "MISSED"));
            }
            if (entry.get("client_gap_ms") instanceof Long gap && entry.get("executor_downtime_ms") instanceof Long reported) {
                double clientRatio = Stats.ratio(gap, reported);
                boolean clean = (Integer) entry.get("client_resets") == 0 && (Integer) entry.get("client_refused") == 0
                        && (Integer) entry.get("client_errors") == 0;
                System.out.printf(Locale.ROOT, "  goal client gap <= %.1fx reported downtime, 0 resets, 0 refused (%s%s, %d MiB):"
                                + " %d ms / %d ms = %.2fx, %d resets, %d refused, %d other errors, %d timeouts of %d probes %s%n",
                        CLIENT_GAP_RATIO_GOAL, entry.get("mode"), Boolean.TRUE.equals(entry.get("unreachable_answers")) ? "+icmp" : "",
                        entry.get("size_mib"), gap, reported, clientRatio,
                        entry.get("client_resets"), entry.get("client_refused"), entry.get("client_errors"),
                        entry.get("client_timeouts"), entry.get("client_probes"), clientRatio <= CLIENT_GAP_RATIO_GOAL && clean ? "met" : "MISSED");
                if (entry.get("mode").equals(MigrationMode.LAZY.name()) && (Integer) entry.get("size_mib") == 1024) {
                    System.out.printf(Locale.ROOT, "  goal LAZY%s client gap <= %d ms at 1 GiB: %d ms %s%n",
                            Boolean.TRUE.equals(entry.get("unreachable_answers")) ? "+icmp" : "", LAZY_CLIENT_GAP_GOAL_MS, gap, gap <= LAZY_CLIENT_GAP_GOAL_MS ? "met" : "MISSED");
                }
            }
        }
    }

    private void runCriu(Criu criu, List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(criu.binary().toString());
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IOException("criu " + args.get(0) + " failed: " + out.strip());
        }
    }

    private void openClients(Properties client) {
        commands = new KafkaProducer<>(client, new StringSerializer(), Topic.COMMANDS.<MigrationCommand>serde().serializer());
        Properties committed = (Properties) client.clone();
        committed.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"); // a COMPLETED is a committed transaction
        eventReader = new KafkaConsumer<>(committed, new StringDeserializer(), Topic.EVENTS.<MigrationEvent>serde().deserializer());
        List<TopicPartition> partitions = eventReader.partitionsFor(Topic.EVENTS.topicName()).stream()
                .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
        eventReader.assign(partitions);
        eventReader.seekToBeginning(partitions);
    }

    private String send(CommandKind kind, String workloadId, String source, String destination, MigrationMode mode,
                        List<String> argv) throws Exception {
        String commandId = prefix + kind + "-" + UUID.randomUUID();
        MigrationCommand command = CommandDeadline.stamp(MigrationCommand.newBuilder().setCommandId(commandId).setKind(kind)
                .setNetwork(segment != null ? NetworkIdentity.OWN : NetworkIdentity.NODE)
                .setWorkloadId(workloadId).setSourceNode(source).setDestinationNode(destination).setMode(mode)
                .setArgv(argv).setIssuedBy("bench"), System.currentTimeMillis(), CommandDeadline.OPERATOR_TTL).build();
        commands.send(io.pmig.platform.commands.CommandRouting.record(command)).get();
        return commandId;
    }

    private MigrationEvent await(Predicate<MigrationEvent> match, String what) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            for (MigrationEvent event : events) {
                if (match.test(event)) {
                    return event;
                }
            }
            for (ConsumerRecord<String, MigrationEvent> record : eventReader.poll(Duration.ofMillis(20))) {
                if (record.value() != null) {
                    events.add(record.value());
                }
            }
        }
        throw new IllegalStateException("no event " + what + " within " + WAIT);
    }

    /** Workloads a failed run left behind (each dir's pid file names its init). */
    private static void killLeftovers(Path root) {
        for (String node : List.of("a", "b", "c", "d", "raw")) {
            Path workloads = root.resolve(node).resolve("workloads");
            if (!Files.isDirectory(workloads)) {
                continue;
            }
            try (var dirs = Files.list(workloads)) {
                for (Path dir : dirs.toList()) {
                    try {
                        ProcessTable.killNamespace(Integer.parseInt(Files.readString(dir.resolve(NodeWorkloads.PID_FILE)).strip()));
                    } catch (IOException | NumberFormatException notRunning) {
                        // nothing to stop
                    }
                }
            } catch (IOException e) {
                System.err.println("bench migrate: cannot list " + workloads + ": " + e.getMessage());
            }
        }
    }
}
