package io.pmig.executor;

import io.pmig.executor.criu.Criu;
import io.pmig.executor.network.AddressRange;
import io.pmig.executor.network.WorkloadNetwork;
import io.pmig.executor.criu.CriuException;
import io.pmig.executor.transfer.TransferCredentials;
import io.pmig.executor.transfer.TransferLimits;
import io.pmig.executor.workload.InitBinary;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.config.ConfigValues;
import io.pmig.platform.config.Durations;
import io.pmig.platform.config.HostPort;
import io.pmig.platform.config.Sizes;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.function.Function;

/**
 * Every setting of one node's executor, each key declared once below with its default and documentation (as
 * {@code AnalyticsConfig}). Values come from a map of overrides: {@code pmig executor} builds it from its flags and
 * {@code --config KEY=VALUE}, in-process clusters start from {@link #local}. Unknown keys and bad values are refused
 * with a {@link ConfigException} naming the key. Besides the values it carries what they resolve to at start-up: the
 * verified criu, the installed pmig-init, the transfer secret, and the Kafka client properties.
 *
 * <p><b>The commit protocol's timeouts</b> are safe only in this order, checked when a config is built. The event
 * producer gives up on a send (max block + delivery timeout) before the destination stops waiting for its COMPLETED to
 * be acknowledged (publish wait), so a COMPLETED is never "maybe sent" when the destination decides to kill its copy.
 * That wait ends before the source's COMMIT timeout, so a source whose COMMIT answer is lost reads a settled answer on
 * pmig.events. And the destination's session timeout is at least twice the COMMIT timeout, else it kills a copy whose
 * COMMIT is still on its way.
 */
public final class ExecutorConfig {

    public static final String NODE = "executor.node";
    public static final String WORKDIR = "executor.workdir";
    public static final String LISTEN = "executor.listen";
    public static final String ADVERTISE = "executor.advertise";
    public static final String CRIU_PATH = "executor.criu.path";
    public static final String SECRET_FILE = "executor.secret.file";
    public static final String INIT_PATH = "executor.init.path";
    public static final String MAX_CONCURRENT_MIGRATIONS = "executor.max.concurrent.migrations";
    public static final String CAPACITY_CPUS = "executor.capacity.cpus";
    public static final String CAPACITY_MEM_BYTES = "executor.capacity.mem.bytes";
    public static final String PREPARE_TIMEOUT_MS = "executor.prepare.timeout.ms";
    public static final String SESSION_TIMEOUT_MS = "executor.session.timeout.ms";
    public static final String KILL_WORKLOADS_ON_EXIT = "executor.kill.workloads.on.exit";
    public static final String TUNE_HOST = "executor.tune.host";
    public static final String CHECKPOINT_INTERVAL_MS = "executor.checkpoint.interval.ms";
    public static final String CHECKPOINT_PEER = "executor.checkpoint.peer";
    public static final String GHOST_LIMIT_CEILING_BYTES = "executor.ghost.limit.ceiling.bytes";
    public static final String WORKLOAD_BRIDGE = "executor.workload.bridge";
    public static final String WORKLOAD_RANGE = "executor.workload.range";
    public static final String WORKLOAD_UNREACHABLE_ANSWERS = "executor.workload.unreachable.answers";
    public static final String WORKLOAD_HANDSHAKE_WAIT_MS = "executor.workload.handshake.wait.ms";
    public static final String EVENTS_MAX_BLOCK_MS = "executor.events.max.block.ms";
    public static final String EVENTS_DELIVERY_TIMEOUT_MS = "executor.events.delivery.timeout.ms";
    public static final String EVENTS_PUBLISH_WAIT_MS = "executor.events.publish.wait.ms";
    public static final String COMMIT_TIMEOUT_MS = "executor.commit.timeout.ms";
    public static final String METRICS_PORT = "executor.metrics.port";
    public static final String METRICS_HOST = "executor.metrics.host";

    /** Where criu and the transfer secret come from when their keys are not set. */
    public static final String CRIU_ENV = "PMIG_CRIU";
    public static final String SECRET_ENV = "PMIG_TRANSFER_SECRET";
    /** The event producer's request.timeout.ms: its delivery timeout must be at least this (Kafka refuses less). */
    public static final long EVENTS_REQUEST_TIMEOUT_MS = 5_000;

    /** One declared key: its default (already typed; null = unset), a parser that rejects bad text, its documentation. */
    public record Key(String name, Object defaultValue, Function<String, Object> parser, String doc) {
    }

    private static final Map<String, Key> KEYS = new LinkedHashMap<>();
    private static final TransferLimits TRANSFER_LIMITS = TransferLimits.defaults();

    static {
        define(NODE, null, text -> nodeId(NODE, text),
                "Required. This node's id, as commands name it: letters, digits, '.', '_' or '-', at most 64.");
        define(WORKDIR, null, text -> path(WORKDIR, text),
                "Workloads, checkpoints and persisted state of this node. Unset: /var/lib/pmig/nodes/<node>.");
        define(LISTEN, null, text -> address(LISTEN, text),
                "Required. HOST:PORT of the transfer endpoint for incoming migrations (port 0 = any); the criu page server"
                        + " binds to HOST too.");
        define(ADVERTISE, null, text -> address(ADVERTISE, text),
                "HOST:PORT announced to sources as this node's transfer endpoint. Unset: the bound listen address.");
        define(CRIU_PATH, null, text -> path(CRIU_PATH, text),
                "criu >= 4.2 to run (verified at start-up). Unset: $" + CRIU_ENV + ", else " + Criu.PROJECT_INSTALL
                        + " (where scripts/install-criu.sh puts it), else criu on PATH.");
        define(SECRET_FILE, null, text -> path(SECRET_FILE, text),
                "File holding the shared transfer secret, >= 16 bytes, the same on every node. Unset: the environment"
                        + " variable " + SECRET_ENV + " holds the secret itself.");
        define(INIT_PATH, InitBinary.DEFAULT_PATH, text -> path(INIT_PATH, text),
                "Base path of pmig-init; the binary goes to <path>-<content hash>, the same on every node running this"
                        + " pmig version, never overwritten under running workloads.");
        define(MAX_CONCURRENT_MIGRATIONS, 2, text -> ConfigValues.intAtLeast(MAX_CONCURRENT_MIGRATIONS, text, 1),
                "Migrations this node takes part in at once, as source or destination; more wait their turn until"
                        + " their command's deadline.");
        define(CAPACITY_CPUS, 0.0, text -> ConfigValues.doubleAtLeast(CAPACITY_CPUS, text, 0),
                "CPUs this node may give an incoming workload, checked against its request; 0 = no limit.");
        define(CAPACITY_MEM_BYTES, 0L, text -> size(CAPACITY_MEM_BYTES, text),
                "Memory this node may give an incoming workload, checked against its request (bytes, or with K, M, G or T,"
                        + " e.g. 8G or 8GiB); 0 = no limit.");
        define(PREPARE_TIMEOUT_MS, 30_000L, text -> Durations.millisAtLeast(PREPARE_TIMEOUT_MS, text, 1_000),
                "How long a source waits for its destination's PREPARED before the migration FAILS with nothing moved.");
        define(SESSION_TIMEOUT_MS, 600_000L, text -> Durations.millisAtLeast(SESSION_TIMEOUT_MS, text, 1_000),
                "How long a prepared destination waits for its source to finish, and a source whose COMMIT answer was"
                        + " lost keeps its workload frozen while the events cannot be read; at least twice "
                        + COMMIT_TIMEOUT_MS + ".");
        define(KILL_WORKLOADS_ON_EXIT, false, text -> ConfigValues.bool(KILL_WORKLOADS_ON_EXIT, text),
                "When the executor stops, kill every workload it manages and delete its directory (demos); off in"
                        + " production, where workloads outlive executor restarts.");
        define(TUNE_HOST, false, text -> ConfigValues.bool(TUNE_HOST, text),
                "Let the executor change host-wide settings its modes need (fs.pipe-max-size >= 4 MiB for LAZY) instead"
                        + " of reporting them and leaving LAZY unavailable.");
        define(CHECKPOINT_INTERVAL_MS, 0L, text -> Durations.millisAtLeast(CHECKPOINT_INTERVAL_MS, text, 0),
                "Checkpoint every migratable workload this often (criu dump, then resumed) and send it to "
                        + CHECKPOINT_PEER + ", which restores it if this node is declared down; 0 = off.");
        define(CHECKPOINT_PEER, null, text -> address(CHECKPOINT_PEER, text),
                "HOST:PORT transfer endpoint (advertise, else listen) of the executor that keeps this node's checkpoints;"
                        + " needed when " + CHECKPOINT_INTERVAL_MS + " is not 0.");
        define(GHOST_LIMIT_CEILING_BYTES, Criu.DEFAULT_GHOST_LIMIT_CEILING, text -> size(GHOST_LIMIT_CEILING_BYTES, text),
                "Largest open-but-unlinked file a workload may hold and still migrate: it is copied into the checkpoint"
                        + " (criu --ghost-limit, sized per dump up to this; bytes, or with K, M, G or T, e.g. 1G or 1GiB).");
        define(WORKLOAD_BRIDGE, null, text -> text.strip(),
                "Bridge in the executor's network namespace that carries the cluster's workload segment: workloads with"
                        + " their own network identity (launch --net own) attach to it; unset = this node cannot host them.");
        define(WORKLOAD_RANGE, AddressRange.parse("10.213.0.0/16"), text -> range(WORKLOAD_RANGE, text),
                "The cluster's workload range (A.B.C.D/PREFIX, the same on every node): addresses of workloads with their"
                        + " own network identity come from it (allocated cluster-wide through pmig.addresses).");
        define(WORKLOAD_UNREACHABLE_ANSWERS, true, text -> ConfigValues.bool(WORKLOAD_UNREACHABLE_ANSWERS, text),
                "While a workload with its own network identity is frozen here for a migration, answer its clients'"
                        + " TCP data (never SYNs) with ICMP host-unreachable from this node (the workload bridge's MAC"
                        + " and IPv4 address), so that their TCP does not back off; needs an address on the bridge, else"
                        + " the packets are only dropped (logged). false: always only dropped.");
        define(WORKLOAD_HANDSHAKE_WAIT_MS, WorkloadNetwork.DEFAULT_HANDSHAKE_WAIT.toMillis(), text -> Durations.millisAtLeast(WORKLOAD_HANDSHAKE_WAIT_MS, text, 0),
                "Before a workload with its own network identity is frozen here for a migration (new connections are"
                        + " held from then on), how long to wait at most for its kernel to finish the handshakes it has"
                        + " answered and for the workload to accept completed connections: criu carries neither (a"
                        + " half-done handshake's client is reset where the workload resumes, an unaccepted connection"
                        + " makes criu refuse the dump). Not downtime: the workload runs meanwhile.");
        define(METRICS_PORT, null, text -> ConfigValues.port(METRICS_PORT, text),
                "Port of the Prometheus /metrics endpoint (0 = any free one). Unset: no endpoint (several nodes may share"
                        + " a host, each needs a port of its own).");
        define(METRICS_HOST, "0.0.0.0", text -> ConfigValues.nonEmpty(METRICS_HOST, text),
                "Address the /metrics endpoint listens on (0.0.0.0: every interface, for a Prometheus elsewhere).");
        define(EVENTS_MAX_BLOCK_MS, 10_000L, text -> Durations.millisAtLeast(EVENTS_MAX_BLOCK_MS, text, 100),
                "Event producer's max.block.ms: how long a send may wait for metadata or buffer space before it fails.");
        define(EVENTS_DELIVERY_TIMEOUT_MS, 15_000L,
                text -> Durations.millisAtLeast(EVENTS_DELIVERY_TIMEOUT_MS, text, EVENTS_REQUEST_TIMEOUT_MS),
                "Event producer's delivery.timeout.ms: how long a sent event may wait for the broker's acknowledgement"
                        + " (at least its request.timeout.ms, " + EVENTS_REQUEST_TIMEOUT_MS + ").");
        define(EVENTS_PUBLISH_WAIT_MS, 30_000L, text -> Durations.millisAtLeast(EVENTS_PUBLISH_WAIT_MS, text, 100),
                "How long publishing an event waits for the outcome (more than " + EVENTS_MAX_BLOCK_MS + " + "
                        + EVENTS_DELIVERY_TIMEOUT_MS + ", so the outcome is known), and the transaction timeout of a"
                        + " destination's COMPLETED (the broker aborts a commit that nobody ended after it).");
        define(COMMIT_TIMEOUT_MS, 45_000L, text -> Durations.millisAtLeast(COMMIT_TIMEOUT_MS, text, 100),
                "How long a source waits for its destination's answer to COMMIT before it settles the commit itself"
                        + " (fences the destination's COMPLETED transaction and reads the events); more than "
                        + EVENTS_PUBLISH_WAIT_MS + ".");
    }

    private final Map<String, Object> values;
    private final Properties kafka;
    private final Criu criu;
    private final Path initBinary;
    private final TransferCredentials credentials;

    private ExecutorConfig(Map<String, Object> values, Properties kafka, Criu criu, Path initBinary,
                           TransferCredentials credentials) {
        this.values = Collections.unmodifiableMap(values);
        this.kafka = kafka;
        this.criu = criu;
        this.initBinary = initBinary;
        this.credentials = credentials;
    }

    /** A config to build from keys alone: criu, pmig-init and the secret are resolved from their keys by {@link Builder#build}. */
    public static Builder builder(Properties kafka) {
        return new Builder(kafka);
    }

    /**
     * A node on this machine for an in-process cluster (demo, bench, tests): transfer endpoint on loopback, any port,
     * an already verified criu and installed pmig-init, the cluster's secret, and every workload stopped when the
     * executor closes; the other keys at their defaults until {@link Builder#set} changes them. Start it with
     * {@link io.pmig.executor.node.NodeExecutor#start(ExecutorConfig)}.
     */
    public static Builder local(String node, Properties kafka, Path workdir, Criu criu, Path initBinary, byte[] secret) {
        return builder(kafka).set(NODE, node).set(WORKDIR, workdir)
                .set(LISTEN, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .set(KILL_WORKLOADS_ON_EXIT, true)
                .criu(criu).initBinary(initBinary).credentials(new TransferCredentials(secret));
    }

    /** Collects overrides and resources; {@link #build} validates them all at once. */
    public static final class Builder {

        private final Properties kafka;
        private final Map<String, Object> overrides = new LinkedHashMap<>();
        private Criu criu;
        private Path initBinary;
        private TransferCredentials credentials;

        private Builder(Properties kafka) {
            this.kafka = kafka;
        }

        /** One key's value, as text (flags, properties) or typed (a number, a Path, an InetSocketAddress, ...). */
        public Builder set(String key, Object value) {
            overrides.put(key, value);
            return this;
        }

        public Builder setAll(Map<String, ?> values) {
            overrides.putAll(values);
            return this;
        }

        /** A criu verified already, used unless {@link #CRIU_PATH} is set. */
        public Builder criu(Criu verified) {
            this.criu = verified;
            return this;
        }

        /** pmig-init installed already ({@link InitBinary#install}), used unless {@link #INIT_PATH} is set. */
        public Builder initBinary(Path installed) {
            this.initBinary = installed;
            return this;
        }

        /** The transfer secret, used unless {@link #SECRET_FILE} is set. */
        public Builder credentials(TransferCredentials secret) {
            this.credentials = secret;
            return this;
        }

        /**
         * Validates every value, then resolves what was not given in process: verifies criu, installs pmig-init, reads
         * the secret. Each failure is a {@link ConfigException} naming the key (or the environment variable) to fix.
         */
        public ExecutorConfig build() {
            Map<String, Object> values = parse(overrides);
            Criu verified = criu != null && !overrides.containsKey(CRIU_PATH) ? criu
                    : verifiedCriu((Path) values.get(CRIU_PATH), (Boolean) values.get(TUNE_HOST));
            Path init = initBinary != null && !overrides.containsKey(INIT_PATH) ? initBinary : installInit((Path) values.get(INIT_PATH));
            TransferCredentials secret = credentials != null && !overrides.containsKey(SECRET_FILE) ? credentials
                    : readSecret((Path) values.get(SECRET_FILE));
            Criu configured = verified.withGhostLimitCeiling((Long) values.get(GHOST_LIMIT_CEILING_BYTES)).withInitBinary(init);
            if (values.get(WORKLOAD_BRIDGE) != null) {
                configured = configured.withWorkloadNetwork(new WorkloadNetwork((String) values.get(NODE),
                        (String) values.get(WORKLOAD_BRIDGE), (AddressRange) values.get(WORKLOAD_RANGE),
                        (Boolean) values.get(WORKLOAD_UNREACHABLE_ANSWERS),
                        java.time.Duration.ofMillis((Long) values.get(WORKLOAD_HANDSHAKE_WAIT_MS))));
            }
            return new ExecutorConfig(values, kafka, configured, init, secret);
        }
    }

    /**
     * Every key's typed value: the defaults overridden by {@code overrides}, each parsed, then checked against each
     * other (required keys, the commit protocol's timeout order, checkpoints). Touches nothing outside.
     */
    static Map<String, Object> parse(Map<String, ?> overrides) {
        Map<String, Object> values = new LinkedHashMap<>();
        KEYS.forEach((name, key) -> values.put(name, key.defaultValue()));
        overrides.forEach((name, value) -> {
            Key key = KEYS.get(name);
            if (key == null) {
                throw new ConfigException(name, "unknown executor setting (known: " + String.join(", ", KEYS.keySet()) + ")");
            }
            if (value == null) {
                throw new ConfigException(name, "must have a value");
            }
            values.put(name, key.parser().apply(text(value)));
        });
        for (String required : new String[] {NODE, LISTEN}) {
            if (values.get(required) == null) {
                throw new ConfigException(required, "must be set: " + KEYS.get(required).doc().substring("Required. ".length()));
            }
        }
        if (values.get(WORKDIR) == null) {
            values.put(WORKDIR, Path.of("/var/lib/pmig/nodes", (String) values.get(NODE)));
        }
        values.put(WORKDIR, ((Path) values.get(WORKDIR)).toAbsolutePath());
        checkTimeoutOrder(values);
        if ((Long) values.get(CHECKPOINT_INTERVAL_MS) > 0 && values.get(CHECKPOINT_PEER) == null) {
            throw new ConfigException(CHECKPOINT_PEER, "must be set when " + CHECKPOINT_INTERVAL_MS
                    + " is not 0: the checkpoints need a node to keep them");
        }
        return values;
    }

    /** The commit protocol's order (class comment), over the configured values. */
    private static void checkTimeoutOrder(Map<String, Object> values) {
        long maxBlock = (Long) values.get(EVENTS_MAX_BLOCK_MS);
        long delivery = (Long) values.get(EVENTS_DELIVERY_TIMEOUT_MS);
        long publishWait = (Long) values.get(EVENTS_PUBLISH_WAIT_MS);
        long commit = (Long) values.get(COMMIT_TIMEOUT_MS);
        long session = (Long) values.get(SESSION_TIMEOUT_MS);
        if (publishWait <= maxBlock + delivery) {
            throw new ConfigException(EVENTS_PUBLISH_WAIT_MS, publishWait + " ms must exceed " + EVENTS_MAX_BLOCK_MS + " + "
                    + EVENTS_DELIVERY_TIMEOUT_MS + " (" + (maxBlock + delivery) + " ms), or a destination stops waiting while"
                    + " its COMPLETED may still be delivered");
        }
        if (commit <= publishWait) {
            throw new ConfigException(COMMIT_TIMEOUT_MS, commit + " ms must exceed " + EVENTS_PUBLISH_WAIT_MS + " (" + publishWait
                    + " ms), or a source whose COMMIT answer is lost reads the events before the destination's decision is settled");
        }
        if (session < 2 * commit) {
            throw new ConfigException(SESSION_TIMEOUT_MS, session + " ms must be at least twice " + COMMIT_TIMEOUT_MS + " ("
                    + 2 * commit + " ms), or a destination kills a copy whose COMMIT is still on its way");
        }
    }

    public static Map<String, Key> keys() {
        return Collections.unmodifiableMap(KEYS);
    }

    /** Every key's value (the work dir resolved); criu, pmig-init and the secret are what they resolved to. */
    public Map<String, Object> values() {
        return values;
    }

    /** One line per key, for --list-config. */
    public static String describe() {
        StringBuilder text = new StringBuilder();
        KEYS.values().forEach(key -> text.append(key.name()).append(" (default ")
                .append(key.defaultValue() == null ? "none" : key.defaultValue()).append("): ").append(key.doc()).append('\n'));
        return text.toString();
    }

    public String node() {
        return (String) values.get(NODE);
    }

    public Properties kafka() {
        return kafka;
    }

    public Path workdir() {
        return (Path) values.get(WORKDIR);
    }

    /** The cluster's workload range ({@link #WORKLOAD_RANGE}). */
    public AddressRange workloadRange() {
        return (AddressRange) values.get(WORKLOAD_RANGE);
    }

    public InetSocketAddress listen() {
        return (InetSocketAddress) values.get(LISTEN);
    }

    /** The transfer endpoint peers are told to use; null = the bound listen address. */
    public InetSocketAddress advertise() {
        return (InetSocketAddress) values.get(ADVERTISE);
    }

    public Criu criu() {
        return criu;
    }

    /** The installed, content-addressed pmig-init. */
    public Path initBinary() {
        return initBinary;
    }

    public TransferCredentials credentials() {
        return credentials;
    }

    public TransferLimits transferLimits() {
        return TRANSFER_LIMITS;
    }

    public int maxConcurrentMigrations() {
        return (Integer) values.get(MAX_CONCURRENT_MIGRATIONS);
    }

    public double capacityCpus() {
        return (Double) values.get(CAPACITY_CPUS);
    }

    public long capacityMemBytes() {
        return (Long) values.get(CAPACITY_MEM_BYTES);
    }

    public Duration prepareTimeout() {
        return millis(PREPARE_TIMEOUT_MS);
    }

    public Duration sessionTimeout() {
        return millis(SESSION_TIMEOUT_MS);
    }

    public boolean killWorkloadsOnExit() {
        return (Boolean) values.get(KILL_WORKLOADS_ON_EXIT);
    }

    /** How often workloads are checkpointed to {@link #checkpointPeer}; null = off. */
    public Duration checkpointInterval() {
        long ms = (Long) values.get(CHECKPOINT_INTERVAL_MS);
        return ms == 0 ? null : Duration.ofMillis(ms);
    }

    public InetSocketAddress checkpointPeer() {
        return (InetSocketAddress) values.get(CHECKPOINT_PEER);
    }

    public Duration eventsMaxBlock() {
        return millis(EVENTS_MAX_BLOCK_MS);
    }

    public Duration eventsDeliveryTimeout() {
        return millis(EVENTS_DELIVERY_TIMEOUT_MS);
    }

    /** How long publishing an event waits for its outcome; the producer knows it by then (class comment). */
    public Duration eventsPublishWait() {
        return millis(EVENTS_PUBLISH_WAIT_MS);
    }

    /** How long a source waits for the answer to its COMMIT; the destination's decision is settled by then. */
    /** Port of the /metrics endpoint, or null for none. */
    public Integer metricsPort() {
        return (Integer) values.get(METRICS_PORT);
    }

    public String metricsHost() {
        return (String) values.get(METRICS_HOST);
    }

    public Duration commitTimeout() {
        return millis(COMMIT_TIMEOUT_MS);
    }

    private Duration millis(String key) {
        return Duration.ofMillis((Long) values.get(key));
    }

    private static void define(String name, Object defaultValue, Function<String, Object> parser, String doc) {
        KEYS.put(name, new Key(name, defaultValue, parser, doc));
    }

    /** A value as the text its parser reads: typed values are accepted too, in the form their key documents. */
    private static String text(Object value) {
        if (value instanceof InetSocketAddress address) { // the address itself, not a name that may resolve elsewhere
            return HostPort.of(address).toString();
        }
        return value.toString().strip();
    }

    private static Criu verifiedCriu(Path configured, boolean tuneHost) {
        String key = configured != null ? CRIU_PATH : System.getenv(CRIU_ENV) != null ? CRIU_ENV : CRIU_PATH;
        Path binary = configured != null ? configured
                : System.getenv(CRIU_ENV) != null ? Path.of(System.getenv(CRIU_ENV))
                : Files.isExecutable(Criu.PROJECT_INSTALL) ? Criu.PROJECT_INSTALL : Path.of("criu");
        try {
            return Criu.verified(binary, tuneHost);
        } catch (CriuException e) {
            throw new ConfigException(key, e.getMessage() + " (scripts/install-criu.sh installs a working criu and prints its path)");
        }
    }

    private static Path installInit(Path base) {
        try {
            return InitBinary.install(base);
        } catch (IOException e) {
            throw new ConfigException(INIT_PATH, "cannot install pmig-init at " + base + ": " + e.getMessage());
        }
    }

    private static TransferCredentials readSecret(Path file) {
        byte[] secret;
        String key;
        if (file != null) {
            key = SECRET_FILE;
            try {
                secret = Files.readAllBytes(file);
            } catch (IOException e) {
                throw new ConfigException(key, "cannot read " + file + ": " + e.getMessage());
            }
        } else if (System.getenv(SECRET_ENV) != null) {
            key = SECRET_ENV;
            secret = System.getenv(SECRET_ENV).getBytes(StandardCharsets.UTF_8);
        } else {
            throw new ConfigException(SECRET_FILE, "no transfer secret: give a secret file or set " + SECRET_ENV
                    + " (the executor will not accept unauthenticated checkpoints, which it would run as root)");
        }
        int end = secret.length;
        while (end > 0 && (secret[end - 1] == '\n' || secret[end - 1] == '\r')) {
            end--;
        }
        secret = Arrays.copyOf(secret, end);
        if (secret.length < 16) {
            throw new ConfigException(key, "the transfer secret must be at least 16 bytes, got " + secret.length);
        }
        return new TransferCredentials(secret);
    }

    private static Object nodeId(String key, String text) {
        if (!text.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
            throw new ConfigException(key, "'" + text + "' is not a node id: letters, digits, '.', '_' or '-', at most 64");
        }
        return text;
    }

    private static Object address(String key, String text) {
        return HostPort.parse(key, text).toSocketAddress();
    }

    private static Object path(String key, String text) {
        if (text.isEmpty()) {
            throw new ConfigException(key, "must not be empty");
        }
        return Path.of(text);
    }

    private static Object range(String key, String text) {
        try {
            return AddressRange.parse(text);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(key, e.getMessage());
        }
    }

    /** A size as every pmig command takes one ({@link Sizes}). */
    private static Object size(String key, String text) {
        return Sizes.parse(key, text);
    }
}
