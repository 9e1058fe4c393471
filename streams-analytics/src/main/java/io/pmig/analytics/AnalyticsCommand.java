package io.pmig.analytics;

import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.config.OptionTypes;
import io.pmig.platform.topics.TopicCreator;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code pmig analytics}: runs one analytics instance. Start several with the same application id (and
 * different --instance-id, --http-port, --state-dir) to share the work.
 */
@Command(name = "analytics", mixinStandardHelpOptions = true,
        description = {"Window node metrics, score overload and issue migration commands (Kafka Streams, exactly-once).",
                "Every setting is also available as --config KEY=VALUE; see --list-config.",
                "Example: pmig analytics --bootstrap-server 127.0.0.1:9092 --http-port 7070 --dry-run"})
public final class AnalyticsCommand implements Callable<Integer> {

    @Mixin
    KafkaClientOptions kafka;

    @Option(names = "--instance-id", paramLabel = "ID", description = "Name of this instance in logs and client ids (default: the kernel's host name, unresolved).")
    String instanceId;

    @Option(names = "--http-host", paramLabel = "HOST", defaultValue = "127.0.0.1",
            description = "Address the query endpoint listens on and advertises to other instances (default: ${DEFAULT-VALUE}).")
    String httpHost;

    @Option(names = "--http-port", paramLabel = "PORT", defaultValue = "7070",
            description = "Port of the query endpoint; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int httpPort;

    @Option(names = "--state-dir", paramLabel = "DIR",
            description = "Kafka Streams state directory (default: <tmp>/pmig-analytics-<instance id>).")
    Path stateDir;

    @Option(names = "--application-id", paramLabel = "ID", description = "Overrides " + AnalyticsConfig.APPLICATION_ID + ".")
    String applicationId;

    @Option(names = "--dry-run", description = "Log decisions instead of issuing MIGRATE commands.")
    boolean dryRun;

    @Option(names = {"--window-size", "--window-size-ms"}, paramLabel = "DURATION", converter = OptionTypes.Millis.class,
            description = "Overrides " + AnalyticsConfig.WINDOW_SIZE_MS + ", e.g. 10s or 500ms; a bare number is ms.")
    Duration windowSize;

    @Option(names = {"--window-advance", "--window-advance-ms"}, paramLabel = "DURATION", converter = OptionTypes.Millis.class,
            description = "Overrides " + AnalyticsConfig.WINDOW_ADVANCE_MS + ", e.g. 10s or 500ms; a bare number is ms.")
    Duration windowAdvance;

    @Option(names = {"--window-grace", "--window-grace-ms"}, paramLabel = "DURATION", converter = OptionTypes.Millis.class,
            description = "Overrides " + AnalyticsConfig.WINDOW_GRACE_MS + ", e.g. 10s or 500ms; a bare number is ms.")
    Duration windowGrace;

    @Option(names = {"--node-down-after", "--node-down-after-ms"}, paramLabel = "DURATION", converter = OptionTypes.Millis.class,
            description = "Overrides " + AnalyticsConfig.NODE_DOWN_AFTER_MS + ", e.g. 10s or 500ms; a bare number is ms.")
    Duration nodeDownAfter;

    @Option(names = "--cpu-threshold", paramLabel = "PERCENT", description = "Overrides " + AnalyticsConfig.THRESHOLD_CPU_PERCENT + ".")
    Double cpuThreshold;

    @Option(names = "--mem-threshold", paramLabel = "FRACTION", description = "Overrides " + AnalyticsConfig.THRESHOLD_MEM_FRACTION + ".")
    Double memThreshold;

    @Option(names = "--hysteresis-windows", paramLabel = "K", description = "Overrides " + AnalyticsConfig.HYSTERESIS_WINDOWS + ".")
    Integer hysteresisWindows;

    @Option(names = {"--node-cooldown", "--node-cooldown-ms"}, paramLabel = "DURATION", converter = OptionTypes.Millis.class,
            description = "Overrides " + AnalyticsConfig.NODE_COOLDOWN_MS + ", e.g. 10s or 500ms; a bare number is ms.")
    Duration nodeCooldown;

    @Option(names = {"--workload-cooldown", "--workload-cooldown-ms"}, paramLabel = "DURATION", converter = OptionTypes.Millis.class,
            description = "Overrides " + AnalyticsConfig.WORKLOAD_COOLDOWN_MS + ", e.g. 10s or 500ms; a bare number is ms.")
    Duration workloadCooldown;

    @Option(names = "--max-concurrent-migrations", paramLabel = "N", description = "Overrides " + AnalyticsConfig.MAX_CONCURRENT_MIGRATIONS + ".")
    Integer maxConcurrentMigrations;

    @Option(names = "--migration-mode", paramLabel = "MODE", description = "Overrides " + AnalyticsConfig.MIGRATION_MODE + " (AUTO, PAGE_SERVER, PLAIN, LAZY).")
    String migrationMode;

    @Option(names = "--metrics-port", paramLabel = "PORT", description = "Overrides " + AnalyticsConfig.METRICS_PORT
            + ": a Prometheus /metrics endpoint of its own (default: none; /metrics is on --http-port anyway).")
    Integer metricsPort;

    @Option(names = "--metrics-host", paramLabel = "HOST", description = "Overrides " + AnalyticsConfig.METRICS_HOST
            + " (default 0.0.0.0).")
    String metricsHost;

    @Option(names = "--config", paramLabel = "KEY=VALUE", description = "Any analytics setting; repeatable.")
    Map<String, String> settings = new LinkedHashMap<>();

    @Option(names = "--topic-partitions", paramLabel = "TOPIC=N",
            description = "Create a missing topic with N partitions instead of its default (e.g. pmig.metrics=24: more instances"
                    + " share the window and cell work); an existing topic keeps its count. Repeatable.")
    Map<String, String> topicPartitions = new LinkedHashMap<>();

    @Option(names = "--list-config", description = "Print every analytics setting with its default and exit.")
    boolean listConfig;

    private static final Path HOSTNAME = Path.of("/proc/sys/kernel/hostname");

    /**
     * The machine's host name as the kernel has it - never resolved: a name that DNS does not know crashed the start
     * (UnknownHostException) - else {@code analytics-<pid>}; made to fit a Kafka client id and a directory name.
     */
    static String defaultInstanceId(Path hostnameFile) {
        String name = "";
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(hostnameFile)) {
            name = new String(in.readNBytes(256), java.nio.charset.StandardCharsets.UTF_8).strip()
                    .replaceAll("[^A-Za-z0-9._-]", "_");
        } catch (java.io.IOException e) {
            // no procfs: fall back below
        }
        return name.isEmpty() ? "analytics-" + ProcessHandle.current().pid() : name;
    }

    @Override
    public Integer call() throws Exception {
        if (listConfig) {
            System.out.print(AnalyticsConfig.describe());
            return 0;
        }
        AnalyticsConfig config = AnalyticsConfig.of(overrides());
        String instance = instanceId != null ? instanceId : defaultInstanceId(HOSTNAME);
        Path state = stateDir != null ? stateDir : Path.of(System.getProperty("java.io.tmpdir"), "pmig-analytics-" + instance);
        TopicCreator.ensureTopics(kafka.clientProperties(), TopicCreator.partitionCounts("--topic-partitions", topicPartitions));
        AnalyticsApp app = AnalyticsApp.start(config, kafka.clientProperties(), instance, httpHost, httpPort, state);

        Runtime.getRuntime().addShutdownHook(new Thread(app::close, "analytics-shutdown"));
        System.out.println("analytics " + instance + " serving " + app.httpAddress() + "/nodes");
        System.out.flush();
        return app.awaitStopped() ? 1 : 0;
    }

    private Map<String, Object> overrides() {
        Map<String, Object> overrides = new LinkedHashMap<>(settings);
        putIfSet(overrides, AnalyticsConfig.APPLICATION_ID, applicationId);
        putIfSet(overrides, AnalyticsConfig.WINDOW_SIZE_MS, windowSize == null ? null : windowSize.toMillis());
        putIfSet(overrides, AnalyticsConfig.WINDOW_ADVANCE_MS, windowAdvance == null ? null : windowAdvance.toMillis());
        putIfSet(overrides, AnalyticsConfig.WINDOW_GRACE_MS, windowGrace == null ? null : windowGrace.toMillis());
        putIfSet(overrides, AnalyticsConfig.NODE_DOWN_AFTER_MS, nodeDownAfter == null ? null : nodeDownAfter.toMillis());
        putIfSet(overrides, AnalyticsConfig.THRESHOLD_CPU_PERCENT, cpuThreshold);
        putIfSet(overrides, AnalyticsConfig.THRESHOLD_MEM_FRACTION, memThreshold);
        putIfSet(overrides, AnalyticsConfig.HYSTERESIS_WINDOWS, hysteresisWindows);
        putIfSet(overrides, AnalyticsConfig.NODE_COOLDOWN_MS, nodeCooldown == null ? null : nodeCooldown.toMillis());
        putIfSet(overrides, AnalyticsConfig.WORKLOAD_COOLDOWN_MS, workloadCooldown == null ? null : workloadCooldown.toMillis());
        putIfSet(overrides, AnalyticsConfig.MAX_CONCURRENT_MIGRATIONS, maxConcurrentMigrations);
        putIfSet(overrides, AnalyticsConfig.MIGRATION_MODE, migrationMode);
        putIfSet(overrides, AnalyticsConfig.METRICS_PORT, metricsPort);
        putIfSet(overrides, AnalyticsConfig.METRICS_HOST, metricsHost);
        if (dryRun) {
            overrides.put(AnalyticsConfig.DRY_RUN, true);
        }
        return overrides;
    }

    private static void putIfSet(Map<String, Object> overrides, String key, Object value) {
        if (value != null) {
            overrides.put(key, value);
        }
    }
}
