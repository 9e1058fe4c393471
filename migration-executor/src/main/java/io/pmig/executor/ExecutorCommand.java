package io.pmig.executor;

import static io.pmig.executor.ExecutorConfig.ADVERTISE;
import static io.pmig.executor.ExecutorConfig.CAPACITY_CPUS;
import static io.pmig.executor.ExecutorConfig.CAPACITY_MEM_BYTES;
import static io.pmig.executor.ExecutorConfig.CHECKPOINT_INTERVAL_MS;
import static io.pmig.executor.ExecutorConfig.CHECKPOINT_PEER;
import static io.pmig.executor.ExecutorConfig.CRIU_PATH;
import static io.pmig.executor.ExecutorConfig.GHOST_LIMIT_CEILING_BYTES;
import static io.pmig.executor.ExecutorConfig.WORKLOAD_BRIDGE;
import static io.pmig.executor.ExecutorConfig.WORKLOAD_RANGE;
import static io.pmig.executor.ExecutorConfig.INIT_PATH;
import static io.pmig.executor.ExecutorConfig.KILL_WORKLOADS_ON_EXIT;
import static io.pmig.executor.ExecutorConfig.TUNE_HOST;
import static io.pmig.executor.ExecutorConfig.LISTEN;
import static io.pmig.executor.ExecutorConfig.MAX_CONCURRENT_MIGRATIONS;
import static io.pmig.executor.ExecutorConfig.METRICS_HOST;
import static io.pmig.executor.ExecutorConfig.METRICS_PORT;
import static io.pmig.executor.ExecutorConfig.NODE;
import static io.pmig.executor.ExecutorConfig.PREPARE_TIMEOUT_MS;
import static io.pmig.executor.ExecutorConfig.SECRET_FILE;
import static io.pmig.executor.ExecutorConfig.WORKDIR;

import io.pmig.executor.criu.CriuException;
import io.pmig.executor.node.CriuSelfTest;
import io.pmig.executor.node.NodeExecutor;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.config.Durations;
import io.pmig.platform.config.HostPort;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.config.OptionTypes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code pmig executor}: runs one node's migration executor until stopped. Each flag sets one {@link ExecutorConfig}
 * key (the defaults --help shows are the keys'); {@code --config KEY=VALUE} sets any key, and a flag given on the
 * command line wins over it.
 *
 * <pre>
 * PMIG_TRANSFER_SECRET=$(cat /etc/pmig/secret) bin/pmig executor --node n1 --bootstrap-server 127.0.0.1:9092 \
 *     --workdir /var/lib/pmig/nodes/n1 --listen 10.0.0.1:7070
 * bin/pmig console-consumer --topic pmig.events      # watch what it does
 * </pre>
 */
@Command(name = "executor", mixinStandardHelpOptions = true, defaultValueProvider = ExecutorCommand.KeyDefaults.class,
        description = {"Launch, kill and live-migrate this node's workloads with CRIU, as pmig.commands asks.",
                "Every setting is also available as --config KEY=VALUE; see --list-config."})
public final class ExecutorCommand implements Callable<Integer> {

    /** The key each flag sets; --capacity sets two. */
    private static final Map<String, String> FLAG_OF_KEY = Map.ofEntries(
            Map.entry(NODE, "--node"), Map.entry(WORKDIR, "--workdir"), Map.entry(LISTEN, "--listen"),
            Map.entry(ADVERTISE, "--advertise"), Map.entry(CRIU_PATH, "--criu"), Map.entry(SECRET_FILE, "--secret-file"),
            Map.entry(MAX_CONCURRENT_MIGRATIONS, "--max-concurrent-migrations"), Map.entry(CAPACITY_CPUS, "--capacity"),
            Map.entry(CAPACITY_MEM_BYTES, "--capacity"), Map.entry(INIT_PATH, "--init-path"),
            Map.entry(PREPARE_TIMEOUT_MS, "--prepare-timeout"), Map.entry(KILL_WORKLOADS_ON_EXIT, "--kill-workloads-on-exit"),
            Map.entry(TUNE_HOST, "--tune-host"),
            Map.entry(CHECKPOINT_INTERVAL_MS, "--checkpoint-interval"), Map.entry(CHECKPOINT_PEER, "--checkpoint-peer"),
            Map.entry(GHOST_LIMIT_CEILING_BYTES, "--ghost-limit-ceiling"), Map.entry(WORKLOAD_BRIDGE, "--workload-bridge"),
            Map.entry(WORKLOAD_RANGE, "--workload-range"),
            Map.entry(METRICS_PORT, "--metrics-port"), Map.entry(METRICS_HOST, "--metrics-host"));

    @Spec
    CommandSpec spec;

    @Mixin
    KafkaClientOptions kafka;

    @Option(names = "--node", paramLabel = "ID", description = "This node's id, as commands name it (required).")
    String node;

    @Option(names = "--workdir", paramLabel = "DIR",
            description = "Workloads, checkpoints and persisted state of this node (default /var/lib/pmig/nodes/<node>).")
    String workdir;

    @Option(names = "--listen", paramLabel = "HOST:PORT", converter = OptionTypes.Endpoint.class,
            description = "Transfer endpoint for incoming migrations (port 0 = any); the criu page server binds to HOST too (required).")
    HostPort listen;

    @Option(names = "--advertise", paramLabel = "HOST:PORT", converter = OptionTypes.Endpoint.class,
            description = "Transfer endpoint announced to sources (default: the bound --listen address).")
    HostPort advertise;

    @Option(names = "--criu", paramLabel = "PATH", description = "criu >= 4.2 (default: $PMIG_CRIU, else /opt/pmig/criu/bin/criu, else criu on PATH).")
    String criu;

    @Option(names = "--secret-file", paramLabel = "FILE",
            description = "Shared transfer secret, >= 16 bytes, the same on every node (default: env PMIG_TRANSFER_SECRET).")
    String secretFile;

    @Option(names = "--max-concurrent-migrations", paramLabel = "N",
            description = "Migrations this node takes part in at once, as source or destination (default: ${DEFAULT-VALUE}).")
    String maxConcurrentMigrations;

    @Option(names = "--capacity", paramLabel = "cpus=N,mem=SIZE",
            description = "What this node may give an incoming workload, checked against its requests (e.g. cpus=4,mem=8G).")
    String capacity;

    @Option(names = "--init-path", paramLabel = "FILE",
            description = {"Base path of pmig-init; the binary goes to FILE-<content hash>, the same on every node running",
                    "this pmig version, never overwritten under running workloads (default: ${DEFAULT-VALUE})."})
    String initPath;

    @Option(names = "--prepare-timeout", paramLabel = "DURATION", converter = OptionTypes.Seconds.class,
            description = "How long a source waits for its destination to prepare (default: ${DEFAULT-VALUE}), e.g. 45s"
                    + " or 2m; a bare number is seconds.")
    Duration prepareTimeout;

    @Option(names = "--kill-workloads-on-exit",
            description = "When the executor stops, kill every workload it manages and delete its directory (demos).")
    boolean killWorkloadsOnExit;

    @Option(names = "--tune-host",
            description = "Raise host-wide settings the modes need (fs.pipe-max-size >= 4 MiB for LAZY) instead of"
                    + " reporting them and leaving LAZY unavailable.")
    boolean tuneHost;

    @Option(names = {"--checkpoint-interval", "--checkpoint-interval-s"}, paramLabel = "DURATION",
            converter = OptionTypes.Seconds.class,
            description = "Checkpoint every migratable workload this often, e.g. 30s or 5m, a bare number is seconds"
                    + " (criu dump, then resumed) and send it to --checkpoint-peer, which restores it if this node is"
                    + " declared down; 0 = off (default: ${DEFAULT-VALUE}).")
    Duration checkpointInterval;

    @Option(names = "--checkpoint-peer", paramLabel = "HOST:PORT", converter = OptionTypes.Endpoint.class,
            description = "Transfer endpoint (--advertise / --listen) of the executor that keeps this node's checkpoints.")
    HostPort checkpointPeer;

    @Option(names = "--ghost-limit-ceiling", paramLabel = "SIZE", converter = OptionTypes.Size.class,
            description = {"Largest open-but-unlinked file a workload may hold and still migrate: it is copied into the",
                    "checkpoint (criu --ghost-limit, sized per dump up to this; default: ${DEFAULT-VALUE})."})
    Long ghostLimitCeiling;

    @Option(names = "--workload-bridge", paramLabel = "BRIDGE",
            description = {"Bridge carrying the cluster's workload segment: workloads launched with --net own attach",
                    "to it and keep their address when they move (see 'Network identity' in the README)."})
    String workloadBridge;

    @Option(names = "--workload-range", paramLabel = "A.B.C.D/PREFIX",
            description = "The cluster's workload range, the same on every node (default: 10.213.0.0/16).")
    String workloadRange;

    @Option(names = "--metrics-port", paramLabel = "PORT",
            description = "Serve Prometheus metrics at http://--metrics-host:PORT/metrics (default: no endpoint).")
    String metricsPort;

    @Option(names = "--metrics-host", paramLabel = "HOST",
            description = "Address the metrics endpoint listens on (default: ${DEFAULT-VALUE}, every interface).")
    String metricsHost;

    @Option(names = "--config", paramLabel = "KEY=VALUE", description = "Any executor setting; repeatable.")
    Map<String, String> settings = new LinkedHashMap<>();

    @Option(names = "--list-config", description = "Print every executor setting with its default and exit.")
    boolean listConfig;

    /** The flag given on this command line for each key it set (errors name what the user typed). */
    private final Map<String, String> givenFlags = new HashMap<>();

    @Override
    public Integer call() throws Exception {
        if (listConfig) {
            System.out.print(ExecutorConfig.describe());
            return 0;
        }
        ExecutorConfig config = config();
        try {
            CriuSelfTest.run(config.criu(), config.initBinary(), config.workdir());
        } catch (CriuException e) {
            // before taking any command: a node that cannot restore would lose the workloads it is sent
            String key = config.values().get(CRIU_PATH) != null || System.getenv(ExecutorConfig.CRIU_ENV) == null
                    ? CRIU_PATH : ExecutorConfig.CRIU_ENV;
            throw named(new ConfigException(key, e.getMessage()));
        }
        CountDownLatch stopped = new CountDownLatch(1);
        NodeExecutor started;
        try {
            started = new NodeExecutor(config).start();
        } catch (ConfigException e) {
            throw e.key().equals(METRICS_PORT) ? named(e) : e; // a port in use: named as the operator gave it
        }
        try (NodeExecutor executor = started) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                executor.close();
                stopped.countDown();
            }, "pmig-executor-shutdown"));
            System.out.println("executor " + config.node() + " ready, transfer endpoint " + executor.transferAddress());
            System.out.flush();
            stopped.await();
        }
        return 0;
    }

    /** The validated configuration these options describe; public so in-process setups can start from a command line. */
    public ExecutorConfig config() throws IOException {
        if (!isRoot()) {
            throw new ConfigException("--criu", "the executor must run as root: criu dump/restore and new PID namespaces need it");
        }
        if (given("--prepare-timeout") && prepareTimeout.toMillis() < 1000) {
            throw new ConfigException("--prepare-timeout", "must be at least 1s, got " + Durations.format(prepareTimeout));
        }
        try {
            return ExecutorConfig.builder(kafka.clientProperties()).setAll(overrides()).build();
        } catch (ConfigException e) {
            throw named(e);
        }
    }

    /** --config's settings, then every flag given on the command line over them. */
    private Map<String, Object> overrides() {
        Map<String, Object> overrides = new LinkedHashMap<>(settings);
        givenFlags.clear();
        putIfGiven(overrides, NODE, node);
        putIfGiven(overrides, WORKDIR, workdir);
        putIfGiven(overrides, LISTEN, listen);
        putIfGiven(overrides, ADVERTISE, advertise);
        putIfGiven(overrides, CRIU_PATH, criu);
        putIfGiven(overrides, SECRET_FILE, secretFile);
        putIfGiven(overrides, MAX_CONCURRENT_MIGRATIONS, maxConcurrentMigrations);
        putIfGiven(overrides, INIT_PATH, initPath);
        putIfGiven(overrides, PREPARE_TIMEOUT_MS, given("--prepare-timeout") ? prepareTimeout.toMillis() : null);
        putIfGiven(overrides, KILL_WORKLOADS_ON_EXIT, killWorkloadsOnExit);
        putIfGiven(overrides, TUNE_HOST, tuneHost);
        putIfGiven(overrides, CHECKPOINT_INTERVAL_MS, given("--checkpoint-interval") ? checkpointInterval.toMillis() : null);
        putIfGiven(overrides, CHECKPOINT_PEER, checkpointPeer);
        putIfGiven(overrides, GHOST_LIMIT_CEILING_BYTES, ghostLimitCeiling);
        putIfGiven(overrides, WORKLOAD_BRIDGE, workloadBridge);
        putIfGiven(overrides, WORKLOAD_RANGE, workloadRange);
        putIfGiven(overrides, METRICS_PORT, metricsPort);
        putIfGiven(overrides, METRICS_HOST, metricsHost);
        if (given("--capacity")) {
            for (String part : capacity.split(",")) {
                String[] kv = part.strip().split("=", 2);
                String key = kv.length != 2 ? "" : switch (kv[0]) {
                    case "cpus" -> CAPACITY_CPUS;
                    case "mem" -> CAPACITY_MEM_BYTES;
                    default -> "";
                };
                if (key.isEmpty()) {
                    throw new ConfigException("--capacity", "'" + part + "' is not cpus=N or mem=SIZE");
                }
                overrides.put(key, kv[1]);
                givenFlags.put(key, "--capacity");
            }
        }
        return overrides;
    }

    private void putIfGiven(Map<String, Object> overrides, String key, Object value) {
        String flag = FLAG_OF_KEY.get(key);
        if (given(flag)) {
            overrides.put(key, value);
            givenFlags.put(key, flag);
        }
    }

    /** Whether the option was on the command line, under any of its names. */
    private boolean given(String flag) {
        OptionSpec option = spec.findOption(flag);
        return option != null && spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    /**
     * The error named as the operator set the value: by its flag if one was given, by its key if --config set it, and
     * by its flag again if it was left unset (a required value missing: the flag is how most give it).
     */
    private ConfigException named(ConfigException e) {
        String flag = givenFlags.get(e.key());
        if (flag == null && !settings.containsKey(e.key())) {
            flag = FLAG_OF_KEY.get(e.key());
        }
        if (flag == null) {
            return e;
        }
        String problem = e.getMessage().substring(e.key().length() + 2);
        return new ConfigException(flag, problem + " (" + e.key() + ")");
    }

    /** The default --help shows for a flag: its key's, in the flag's unit. */
    static final class KeyDefaults implements CommandLine.IDefaultValueProvider {
        @Override
        public String defaultValue(ArgSpec arg) {
            if (!(arg instanceof OptionSpec option)) {
                return null;
            }
            String key = FLAG_OF_KEY.entrySet().stream().filter(e -> Arrays.asList(option.names()).contains(e.getValue()))
                    .map(Map.Entry::getKey).findFirst().orElse(null);
            Object value = key == null || key.equals(CAPACITY_CPUS) || key.equals(CAPACITY_MEM_BYTES)
                    ? null : ExecutorConfig.keys().get(key).defaultValue();
            if (value == null) {
                return null;
            }
            if (key.equals(PREPARE_TIMEOUT_MS) || key.equals(CHECKPOINT_INTERVAL_MS)) {
                return String.valueOf((Long) value / 1000);
            }
            if (key.equals(GHOST_LIMIT_CEILING_BYTES) && (Long) value % (1L << 30) == 0) {
                return (Long) value / (1L << 30) + "G";
            }
            return value.toString();
        }
    }

    private static boolean isRoot() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Uid:")) {
                return line.split("\\s+")[2].equals("0"); // effective uid
            }
        }
        return false;
    }
}
