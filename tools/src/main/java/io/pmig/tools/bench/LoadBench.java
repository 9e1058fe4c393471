package io.pmig.tools.bench;

import io.pmig.analytics.AnalyticsApp;
import io.pmig.analytics.AnalyticsConfig;
import io.pmig.broker.EmbeddedBroker;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.config.OptionTypes;
import io.pmig.platform.topics.Topic;
import io.pmig.platform.topics.TopicCreator;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import io.pmig.schemas.serde.AvroSerde;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code pmig bench load}: many simulated node agents at 1 Hz against one or more analytics instances (one application,
 * sharing its tasks) on the embedded broker, for minutes. Every few seconds it reports the analytics consumer group's
 * lag (committed offsets vs end offsets, from the Admin API), the CPU used by the analytics stream threads and by the
 * whole process (broker and load generators included), heap and RSS, and the MIGRATE commands issued so far. A
 * rotating handful of nodes overloads periodically; a stand-in executor answers each MIGRATE with COMPLETED, so
 * decisions keep flowing under the caps. At the end: whether lag stayed bounded (flat: the second half's worst within
 * two seconds of production; and its slope over the last five minutes), the decision latency from each injected onset
 * (the node's first overloaded sample) to its MIGRATE, split into the stages of {@link OnsetTimeline} (pmig.commands is
 * stamped with append times for that), and whether every node was scored in every window of the second half
 * (pmig.scores counted per node).
 */
@Command(name = "load", mixinStandardHelpOptions = true,
        description = "N simulated agents at 1 Hz against analytics instances: lag, CPU, memory, decision latency, scoring coverage.")
public final class LoadBench implements Callable<Integer> {

    @Option(names = "--agents", defaultValue = "1000", description = "Simulated node agents, 1 sample/s each (default: ${DEFAULT-VALUE}).")
    int agents;

    @Option(names = {"--duration", "--duration-s"}, paramLabel = "DURATION", defaultValue = "600s",
            converter = OptionTypes.Seconds.class,
            description = "Length of the run, e.g. 600s or 10m; a bare number is seconds (default: ${DEFAULT-VALUE}).")
    Duration duration;

    private int durationS;

    @Option(names = "--instances", defaultValue = "1",
            description = "Analytics instances of the one application, in this process, sharing its tasks (default: ${DEFAULT-VALUE}).")
    int instances;

    @Option(names = "--producers", defaultValue = "4", description = "Threads producing the agents' samples (default: ${DEFAULT-VALUE}).")
    int producers;

    // 10 nodes every 30 s: about 180 timed onsets in 10 minutes, enough for a p99 that is not just the maximum
    @Option(names = "--overloaded", defaultValue = "10", description = "Nodes that overload in each episode (default: ${DEFAULT-VALUE}).")
    int overloaded;

    @Option(names = {"--episode", "--episode-s"}, paramLabel = "DURATION", defaultValue = "30s",
            converter = OptionTypes.Seconds.class,
            description = "An overload episode starts this often, e.g. 60s; a bare number is seconds (default: ${DEFAULT-VALUE}).")
    Duration episode;

    private int episodeS;

    @Option(names = {"--overload", "--overload-s"}, paramLabel = "DURATION", defaultValue = "15s",
            converter = OptionTypes.Seconds.class,
            description = "How long each episode lasts, e.g. 30s; a bare number is seconds (default: ${DEFAULT-VALUE}).")
    Duration overload;

    private int overloadS;

    @Option(names = {"--report-interval", "--report-s"}, paramLabel = "DURATION", defaultValue = "10s",
            converter = OptionTypes.Seconds.class,
            description = "Time between lag/CPU/memory reports, e.g. 10s; a bare number is seconds (default: ${DEFAULT-VALUE}).")
    Duration report;

    private int reportS;

    @Option(names = "--cells", paramLabel = "N", description = {
            "analytics.cells for the run: nodes hashed into N cells, each decided by the task owning its decision partition",
            "(default: one per 1,000 agents, as a fleet that size would be configured; 1 = a single decision point)."})
    Integer cells;

    @Option(names = "--config", paramLabel = "KEY=VALUE", description = "Any analytics setting for the run (see `pmig analytics --list-config`); repeatable.")
    Map<String, String> settings = new LinkedHashMap<>();

    @Option(names = "--json", description = "End with one JSON line: agents, instances, lag_max, lag_end, lag_slope_per_min,"
            + " lag_flat, decision_p50_ms, decision_p99_ms, cpu_cores, scores_per_node_min, migrate_commands, ...")
    boolean json;

    /** analytics.cells of the run. */
    private int cellCount;
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong sendErrors = new AtomicLong();
    private final AtomicLong migrateCommands = new AtomicLong();
    private final AtomicBoolean running = new AtomicBoolean(true);
    /** Every injected onset and the times its decision passed each stage; set before the agents start. */
    private OnsetTimeline timeline;
    /** Onsets timed: after the nodes' first windows have filled, and early enough before the end to be answered. */
    private volatile long timedFromMs = Long.MAX_VALUE;
    /** When the agents started: the reports' elapsed seconds count from here. */
    private volatile long runStartMs;
    private volatile long timedToMs = Long.MIN_VALUE;
    /** Scores per node with a timestamp in [scoredFromMs, scoredToMs): the second half of the run. */
    private final Map<String, AtomicLong> scoresPerNode = new ConcurrentHashMap<>();
    private volatile long scoredFromMs = Long.MAX_VALUE;
    private volatile long scoredToMs = Long.MAX_VALUE;

    record Report(long elapsedS, long sent, long metricsLag, long totalLag, double streamCores, double processCores,
                          long heapMiB, long rssMiB, long migrateCommands) {
    }

    @Override
    public Integer call() throws Exception {
        durationS = (int) Math.min(Integer.MAX_VALUE, duration.toSeconds());
        episodeS = (int) Math.min(Integer.MAX_VALUE, episode.toSeconds());
        overloadS = (int) Math.min(Integer.MAX_VALUE, overload.toSeconds());
        reportS = (int) Math.min(Integer.MAX_VALUE, report.toSeconds());
        String applicationId = "pmig-bench-load-" + UUID.randomUUID().toString().substring(0, 8);
        Map<String, Object> analytics = new LinkedHashMap<>();
        analytics.put(AnalyticsConfig.APPLICATION_ID, applicationId);
        // a node or workload may be moved again in the next episode that picks it
        analytics.put(AnalyticsConfig.NODE_COOLDOWN_MS, String.valueOf(Math.max(1, episodeS - 5) * 1000L));
        analytics.put(AnalyticsConfig.WORKLOAD_COOLDOWN_MS, String.valueOf(Math.max(1, episodeS - 5) * 1000L));
        analytics.put(AnalyticsConfig.CELLS, String.valueOf(cells != null ? cells : Math.max(1, (agents + 999) / 1000)));
        analytics.putAll(settings);
        AnalyticsConfig config = AnalyticsConfig.of(analytics);
        cellCount = config.cells();
        timeline = new OnsetTimeline(config.windowSizeMs(), config.windowAdvanceMs(), config.windowGraceMs());
        System.out.printf(Locale.ROOT, "load: %d agents at 1 Hz for %d s, %d overloading every %d s for %d s; %d analytics instance(s) of %s,"
                        + " %d cell(s)%n", agents, durationS, overloaded, episodeS, overloadS, instances, applicationId, config.cells());
        Path stateDir = Files.createTempDirectory("pmig-bench-load-");
        List<AnalyticsApp> apps = new ArrayList<>();
        List<Report> reports = new ArrayList<>();
        try (EmbeddedBroker broker = EmbeddedBroker.start(0, null)) {
            Properties client = KafkaClientOptions.of(broker.bootstrapServers()).clientProperties();
            TopicCreator.ensureTopics(client);
            stampAppendTimes(client, Topic.COMMANDS);
            for (int i = 0; i < instances; i++) {
                apps.add(AnalyticsApp.start(config, client, "load-" + i, "127.0.0.1", 0, stateDir.resolve("instance-" + i)));
            }
            try (Admin admin = Admin.create(client);
                 KafkaProducer<String, byte[]> metrics = new KafkaProducer<>(producerProps(client), new StringSerializer(), new ByteArraySerializer());
                 KafkaProducer<String, MigrationEvent> events = new KafkaProducer<>(producerProps(client), new StringSerializer(),
                         Topic.EVENTS.<MigrationEvent>serde().serializer())) {
                for (AnalyticsApp app : apps) {
                    awaitRunning(app.streams());
                }
                Thread executor = new Thread(() -> standInExecutor(client, events), "bench-load-executor");
                executor.setDaemon(true);
                executor.start();
                Thread scores = new Thread(() -> countScores(client), "bench-load-scores");
                scores.setDaemon(true);
                scores.start();
                ScheduledExecutorService agentsPool = Executors.newScheduledThreadPool(producers);
                long startMs = System.currentTimeMillis();
                for (int p = 0; p < producers; p++) {
                    int shard = p;
                    AvroSerde<NodeMetrics> serde = AvroSerde.of(NodeMetrics.class);
                    MetricsLoad load = new MetricsLoad(startMs);
                    Random random = new Random(shard);
                    long[] sequence = {0};
                    // staggered like real agents, whose clocks are not aligned
                    agentsPool.scheduleAtFixedRate(() -> tick(shard, startMs, sequence[0]++, load, serde, random, metrics),
                            shard * 1000L / producers, 1000, TimeUnit.MILLISECONDS);
                }
                Usage usage = new Usage(config.applicationId());
                long deadline = startMs + durationS * 1000L;
                // the second half, less the last few seconds whose windows may not have closed yet
                scoredFromMs = startMs + durationS * 500L;
                scoredToMs = deadline - 5_000;
                timedFromMs = startMs + WARM_UP_MS;
                runStartMs = startMs;
                timedToMs = deadline - ANSWER_WITHIN_MS;
                while (System.currentTimeMillis() < deadline) {
                    Thread.sleep(Math.min(reportS * 1000L, Math.max(1, deadline - System.currentTimeMillis())));
                    if (apps.stream().anyMatch(app -> app.streams().state() == KafkaStreams.State.ERROR)) {
                        throw new IllegalStateException("analytics failed during the run");
                    }
                    long[] lag = lag(admin, applicationId);
                    Usage.Sample u = usage.sample();
                    Report r = new Report((System.currentTimeMillis() - startMs) / 1000, sent.get(), lag[0], lag[1],
                            u.streamCores(), u.processCores(), u.heapMiB(), u.rssMiB(), migrateCommands.get());
                    reports.add(r);
                    System.out.printf(Locale.ROOT, "  t=%4ds sent=%,9d lag metrics=%,7d all=%,7d  cpu analytics=%.2f process=%.2f cores"
                                    + "  heap=%,5d MiB rss=%,5d MiB  MIGRATE=%d%n", r.elapsedS(), r.sent(), r.metricsLag(), r.totalLag(),
                            r.streamCores(), r.processCores(), r.heapMiB(), r.rssMiB(), r.migrateCommands());
                }
                running.set(false);
                agentsPool.shutdownNow();
                agentsPool.awaitTermination(10, TimeUnit.SECONDS);
                executor.join(5_000);
                scores.join(5_000);
            } finally {
                apps.forEach(AnalyticsApp::close);
            }
        } finally {
            StreamsThroughput.deleteTree(stateDir);
        }
        return summarise(reports);
    }

    private void tick(int shard, long startMs, long sequence, MetricsLoad load, AvroSerde<NodeMetrics> serde, Random random,
                      KafkaProducer<String, byte[]> metrics) {
        if (!running.get()) {
            return;
        }
        long now = System.currentTimeMillis();
        long second = (now - startMs) / 1000;
        long episode = second / episodeS;
        boolean episodeOn = second % episodeS < overloadS;
        for (int i = shard; i < agents; i += producers) {
            String node = nodeId(i);
            // each episode overloads the next few nodes, so decisions are fresh and not held back by cooldowns
            boolean hot = episodeOn && Math.floorMod(i - episode * overloaded, agents) < overloaded;
            double baseline = 20 + (i % 7) * 5;
            NodeMetrics sample = load.sample(node, now, sequence, baseline, hot, random);
            // the first hot sample of this episode: the onset a decision is timed from
            Object onset = hot && timeline.latestOnsetMs(node) < now - overloadS * 1000L ? timeline.onset(node, now) : null;
            metrics.send(new ProducerRecord<>(Topic.METRICS.topicName(), node, serde.encode(sample)), (meta, e) -> {
                if (e != null) {
                    sendErrors.incrementAndGet();
                } else if (onset != null) {
                    timeline.acked(onset, System.currentTimeMillis());
                }
            });
            sent.incrementAndGet();
        }
    }

    /** Answers every MIGRATE with COMPLETED at once, so the cluster-wide cap never holds decisions back. */
    private void standInExecutor(Properties client, KafkaProducer<String, MigrationEvent> events) {
        try (KafkaConsumer<String, MigrationCommand> consumer = TopicReader.fromBeginning(client, Topic.COMMANDS,
                Topic.COMMANDS.<MigrationCommand>serde().deserializer())) {
            while (running.get()) {
                for (var record : consumer.poll(Duration.ofMillis(200))) {
                    MigrationCommand command = record.value();
                    if (command == null || command.getKind() != CommandKind.MIGRATE) {
                        continue;
                    }
                    migrateCommands.incrementAndGet();
                    timeline.commandReadable(command.getSourceNode().toString(), command.getIssuedAtMs(),
                            record.timestampType() == TimestampType.LOG_APPEND_TIME ? record.timestamp() : -1, System.currentTimeMillis());
                    String id = command.getCommandId();
                    events.send(new ProducerRecord<>(Topic.EVENTS.topicName(), command.getWorkloadId(), MigrationEvent.newBuilder()
                            .setCommandId(id).setMigrationId(id).setWorkloadId(command.getWorkloadId())
                            .setNode(command.getDestinationNode()).setPhase(Phase.COMPLETED).setMode(command.getMode())
                            .setSourceNode(command.getSourceNode()).setDestinationNode(command.getDestinationNode())
                            .setTimings(PhaseTimings.newBuilder().build()).setTimestampMs(System.currentTimeMillis()).build()));
                }
            }
        }
    }

    /**
     * Counts pmig.scores records per node (keys only) whose timestamp (the window end) falls in the measured part of the
     * run, and tells the timeline when each score became readable.
     */
    private void countScores(Properties client) {
        try (KafkaConsumer<String, byte[]> consumer = TopicReader.fromBeginning(client, Topic.SCORES, new ByteArrayDeserializer())) {
            while (running.get()) {
                var records = consumer.poll(Duration.ofMillis(200));
                long readMs = System.currentTimeMillis();
                for (var record : records) {
                    if (record.key() == null) {
                        continue;
                    }
                    timeline.scoreReadable(record.key(), record.timestamp(), readMs);
                    if (record.timestamp() >= scoredFromMs && record.timestamp() < scoredToMs) {
                        scoresPerNode.computeIfAbsent(record.key(), k -> new AtomicLong()).incrementAndGet();
                    }
                }
            }
        }
    }

    /** Has the broker stamp each record of {@code topic} with its append time, so a reader sees when it was written. */
    private static void stampAppendTimes(Properties client, Topic topic) throws Exception {
        try (Admin admin = Admin.create(client)) {
            admin.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.TOPIC, topic.topicName()), List.of(
                    new AlterConfigOp(new ConfigEntry(TopicConfig.MESSAGE_TIMESTAMP_TYPE_CONFIG, "LogAppendTime"),
                            AlterConfigOp.OpType.SET)))).all().get(30, TimeUnit.SECONDS);
        }
    }

    /** Least-squares slope of the metrics lag over the reports of the last {@code seconds}, in records per minute. */
    static double lagSlopePerMinute(List<long[]> elapsedSAndLag, long seconds) {
        long end = elapsedSAndLag.get(elapsedSAndLag.size() - 1)[0];
        List<long[]> tail = elapsedSAndLag.stream().filter(r -> r[0] >= end - seconds).toList();
        if (tail.size() < 2) {
            return 0;
        }
        double meanX = tail.stream().mapToLong(r -> r[0]).average().orElse(0);
        double meanY = tail.stream().mapToLong(r -> r[1]).average().orElse(0);
        double num = 0;
        double den = 0;
        for (long[] r : tail) {
            num += (r[0] - meanX) * (r[1] - meanY);
            den += (r[0] - meanX) * (r[0] - meanX);
        }
        return den == 0 ? 0 : num / den * 60;
    }

    /**
     * Seconds into the run of the first report, after the metrics lag's peak over the first half, at which the lag was
     * at most {@code bound}; -1 if it never was. Before the peak a low lag means the backlog has not built up yet.
     */
    static long caughtUpS(List<Report> reports, long bound) {
        int half = Math.max(1, reports.size() / 2);
        int peak = 0;
        for (int i = 1; i < half; i++) {
            if (reports.get(i).metricsLag() > reports.get(peak).metricsLag()) {
                peak = i;
            }
        }
        for (int i = peak; i < reports.size(); i++) {
            if (reports.get(i).metricsLag() <= bound) {
                return reports.get(i).elapsedS();
            }
        }
        return -1;
    }

    /** [lag on pmig.metrics, lag on every topic the group reads (incl. its repartition topic)]. */
    private static long[] lag(Admin admin, String group) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        Map<TopicPartition, OffsetSpec> request = new LinkedHashMap<>();
        committed.keySet().forEach(tp -> request.put(tp, OffsetSpec.latest()));
        for (var p : admin.describeTopics(List.of(Topic.METRICS.topicName())).allTopicNames().get(30, TimeUnit.SECONDS)
                .get(Topic.METRICS.topicName()).partitions()) {
            request.put(new TopicPartition(Topic.METRICS.topicName(), p.partition()), OffsetSpec.latest());
        }
        var ends = admin.listOffsets(request).all().get(30, TimeUnit.SECONDS);
        long metricsLag = 0;
        long total = 0;
        for (var end : ends.entrySet()) {
            OffsetAndMetadata at = committed.get(end.getKey());
            long lag = Math.max(0, end.getValue().offset() - (at == null ? 0 : at.offset()));
            total += lag;
            if (end.getKey().topic().equals(Topic.METRICS.topicName())) {
                metricsLag += lag;
            }
        }
        return new long[] {metricsLag, total};
    }

    private int summarise(List<Report> reports) {
        if (reports.isEmpty()) {
            System.out.println("no reports: the run was shorter than --report-s");
            return 1;
        }
        List<Report> secondHalf = reports.subList(reports.size() / 2, reports.size());
        long lagMax = reports.stream().mapToLong(Report::metricsLag).max().orElse(0);
        long lagSecondHalfMax = secondHalf.stream().mapToLong(Report::metricsLag).max().orElse(0);
        double lagFirstHalfMean = reports.subList(0, Math.max(1, reports.size() / 2)).stream().mapToLong(Report::metricsLag).average().orElse(0);
        double lagSecondHalfMean = secondHalf.stream().mapToLong(Report::metricsLag).average().orElse(0);
        boolean flat = lagSecondHalfMax <= 2L * agents;
        double streamCores = reports.stream().mapToDouble(Report::streamCores).average().orElse(0);
        double processCores = reports.stream().mapToDouble(Report::processCores).average().orElse(0);
        long heapMax = reports.stream().mapToLong(Report::heapMiB).max().orElse(0);
        long rssMax = reports.stream().mapToLong(Report::rssMiB).max().orElse(0);
        Report last = reports.get(reports.size() - 1);
        double slope = lagSlopePerMinute(reports.stream().map(r -> new long[] {r.elapsedS(), r.metricsLag()}).toList(), 300);
        int timed = timeline.onsetsBetween(timedFromMs, timedToMs);
        List<OnsetTimeline.Stages> answered = timeline.answeredBetween(timedFromMs, timedToMs);
        List<Long> latencies = answered.stream().map(OnsetTimeline.Stages::totalMs).toList();
        Map<String, Object> stages = OnsetTimeline.summary(answered);
        List<OnsetTimeline.Stages> slowest = OnsetTimeline.slowest(answered, 5);
        double p50 = latencies.isEmpty() ? -1 : Stats.percentile(latencies, 0.50);
        double p99 = latencies.isEmpty() ? -1 : Stats.percentile(latencies, 0.99);
        // The same onsets without the start-up: from the first report at which analytics had read its start-up
        // backlog, i.e. a fleet's steady state rather than a cold app facing every node at once.
        long caughtUpS = caughtUpS(reports, 2L * agents);
        long steadyFromMs = caughtUpS < 0 ? Long.MAX_VALUE : Math.max(timedFromMs, runStartMs + caughtUpS * 1000);
        int timedSteady = timeline.onsetsBetween(steadyFromMs, timedToMs);
        List<Long> steady = timeline.answeredBetween(steadyFromMs, timedToMs).stream().map(OnsetTimeline.Stages::totalMs).toList();
        double steadyP50 = steady.isEmpty() ? -1 : Stats.percentile(steady, 0.50);
        double steadyP99 = steady.isEmpty() ? -1 : Stats.percentile(steady, 0.99);
        long expectedScores = Math.max(0, (scoredToMs - scoredFromMs) / 1000); // one window end per second per node
        long minScores = agents == 0 ? 0 : java.util.stream.IntStream.range(0, agents)
                .mapToLong(i -> scoresPerNode.getOrDefault(nodeId(i), new AtomicLong()).get()).min().orElse(0);
        long nodesShort = java.util.stream.IntStream.range(0, agents)
                .filter(i -> scoresPerNode.getOrDefault(nodeId(i), new AtomicLong()).get() < expectedScores - 1).count();
        long episodes = Math.max(1, (last.elapsedS() + episodeS - 1) / episodeS);
        System.out.printf(Locale.ROOT, "result: %,d samples sent (%,d send errors); metrics lag mean %.0f -> %.0f (first/second half),"
                        + " max %,d, second-half max %,d (%s: flat means <= %,d, two seconds of samples)%n",
                last.sent(), sendErrors.get(), lagFirstHalfMean, lagSecondHalfMean, lagMax, lagSecondHalfMax,
                flat ? "FLAT" : "GROWING", 2L * agents);
        System.out.printf(Locale.ROOT, "        cpu: analytics stream threads %.2f cores, whole process %.2f cores (broker and %d producer threads included)"
                        + " of %d; heap max %,d MiB, rss max %,d MiB%n", streamCores, processCores, producers,
                Runtime.getRuntime().availableProcessors(), heapMax, rssMax);
        System.out.printf(Locale.ROOT, "        decisions: %d MIGRATE commands over %d overload episodes of %d nodes; %d of %d onsets answered,"
                        + " onset -> MIGRATE p50 %.0f ms, p99 %.0f ms%n",
                last.migrateCommands(), episodes, overloaded, latencies.size(), timed, p50, p99);
        System.out.printf(Locale.ROOT, "        after the start-up backlog (metrics lag first <= %,d at t=%s): %d of %d onsets answered,"
                        + " p50 %.0f ms, p99 %.0f ms%n", 2L * agents, caughtUpS < 0 ? "never" : caughtUpS + "s",
                steady.size(), timedSteady, steadyP50, steadyP99);
        System.out.println("        where the time goes (ms: p50 / p99 / max over the answered onsets): " + stages.entrySet().stream()
                .map(e -> e.getKey() + " " + ((Map<?, ?>) e.getValue()).values().stream().limit(3).map(String::valueOf)
                        .collect(Collectors.joining(" / "))).collect(Collectors.joining("; ")));
        for (OnsetTimeline.Stages s : slowest) {
            System.out.printf(Locale.ROOT, "          %s: %,d ms = window %d + deferred %d + close %d + decide %d + deliver %d (send %d)%n",
                    s.onset(), s.totalMs(), s.windowMs(), s.deferredMs(), s.closeMs(), s.decideMs(), s.deliverMs(), s.sendMs());
        }
        System.out.printf(Locale.ROOT, "        lag: end %,d, slope over the last 5 min %+.0f records/min%n", last.metricsLag(), slope);
        System.out.printf(Locale.ROOT, "        scoring: every node %d windows in the second half expected; fewest %d; %d nodes short by more than one%n",
                expectedScores, minScores, nodesShort);
        if (json) {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("agents", agents);
            result.put("instances", instances);
            result.put("cells", cellCount);
            result.put("duration_s", last.elapsedS());
            result.put("samples_sent", last.sent());
            result.put("send_errors", sendErrors.get());
            result.put("lag_first_half_mean", Stats.round(lagFirstHalfMean, 0));
            result.put("lag_second_half_mean", Stats.round(lagSecondHalfMean, 0));
            result.put("lag_max", lagMax);
            result.put("lag_end", last.metricsLag());
            result.put("lag_slope_per_min", Stats.round(slope, 1));
            result.put("lag_second_half_max", lagSecondHalfMax);
            result.put("lag_flat", flat);
            result.put("analytics_cpu_cores", Stats.round(streamCores, 2));
            result.put("process_cpu_cores", Stats.round(processCores, 2));
            result.put("cpu_cores", Stats.round(processCores, 2));
            result.put("onsets", timed);
            result.put("onsets_answered", latencies.size());
            result.put("decision_p50_ms", Math.round(p50));
            result.put("decision_p99_ms", Math.round(p99));
            result.put("caught_up_s", caughtUpS);
            result.put("onsets_after_catch_up", timedSteady);
            result.put("onsets_answered_after_catch_up", steady.size());
            result.put("decision_p50_ms_after_catch_up", Math.round(steadyP50));
            result.put("decision_p99_ms_after_catch_up", Math.round(steadyP99));
            result.put("decision_stages_ms", stages);
            result.put("decision_slowest", slowest.stream().map(s -> {
                Map<String, Object> one = new LinkedHashMap<>();
                one.put("onset", s.onset());
                one.put("total", s.totalMs());
                OnsetTimeline.Stages.NAMES.forEach(name -> one.put(name, s.get(name)));
                return one;
            }).toList());
            result.put("scores_per_node_expected", expectedScores);
            result.put("scores_per_node_min", minScores);
            result.put("nodes_short_of_scores", nodesShort);
            result.put("heap_max_mib", heapMax);
            result.put("rss_max_mib", rssMax);
            result.put("migrate_commands", last.migrateCommands());
            result.put("overload_episodes", episodes);
            result.put("lag_series", reports.stream().map(r -> r.elapsedS() + ":" + r.metricsLag()).collect(Collectors.joining(",")));
            System.out.println(JsonLine.of(result));
        }
        return flat && last.migrateCommands() > 0 ? 0 : 1;
    }

    /** Onsets in the first seconds are not timed: a node's first windows are still filling. */
    private static final long WARM_UP_MS = 30_000;
    /** Nor those too near the end to be answered before the run stops. */
    private static final long ANSWER_WITHIN_MS = 15_000;

    private static String nodeId(int i) {
        return String.format(Locale.ROOT, "node-%04d", i);
    }

    private static Properties producerProps(Properties client) {
        Properties props = new Properties();
        props.putAll(client);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "20");
        props.put(ProducerConfig.BATCH_SIZE_CONFIG, String.valueOf(256 * 1024));
        return props;
    }

    private static void awaitRunning(KafkaStreams streams) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (streams.state() != KafkaStreams.State.RUNNING) {
            if (System.nanoTime() > deadline || streams.state() == KafkaStreams.State.ERROR) {
                throw new IllegalStateException("analytics did not reach RUNNING (" + streams.state() + ")");
            }
            Thread.sleep(50);
        }
    }

    /** CPU (cores used since the last sample) of the analytics threads and of the process; heap and RSS now. */
    private static final class Usage {
        private final String threadPrefix;
        private final com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        private final com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        private final Map<Long, Long> lastThreadCpu = new LinkedHashMap<>();
        private long lastProcessCpu;
        private long lastWall;

        record Sample(double streamCores, double processCores, long heapMiB, long rssMiB) {
        }

        Usage(String applicationId) {
            this.threadPrefix = applicationId;
            this.lastProcessCpu = os.getProcessCpuTime();
            this.lastWall = System.nanoTime();
            sampleThreads();
        }

        /** CPU ns of the analytics threads since the last call (Streams names them after the client id). */
        private long sampleThreads() {
            long delta = 0;
            for (var info : threads.getThreadInfo(threads.getAllThreadIds())) {
                if (info == null || !info.getThreadName().startsWith(threadPrefix)) {
                    continue;
                }
                long cpu = threads.getThreadCpuTime(info.getThreadId());
                if (cpu >= 0) {
                    Long previous = lastThreadCpu.put(info.getThreadId(), cpu);
                    delta += cpu - (previous == null ? 0 : previous);
                }
            }
            return delta;
        }

        Sample sample() throws Exception {
            long wall = System.nanoTime();
            long processCpu = os.getProcessCpuTime();
            long streamCpu = sampleThreads();
            double elapsed = Math.max(1, wall - lastWall);
            Sample s = new Sample(streamCpu / elapsed, (processCpu - lastProcessCpu) / elapsed,
                    ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() >> 20, rssMiB());
            lastWall = wall;
            lastProcessCpu = processCpu;
            return s;
        }

        private static long rssMiB() throws Exception {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) >> 10;
                }
            }
            return -1;
        }
    }
}
