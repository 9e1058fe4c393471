package io.pmig.agent;

import io.pmig.agent.sampling.CapacitySpec;
import io.pmig.agent.sampling.NodeSampler;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.config.Durations;
import io.pmig.platform.config.HostPort;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.config.OptionTypes;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.NodeCapacity;
import io.pmig.schemas.SamplingMode;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.CommonClientConfigs;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code pmig agent}: samples one node about once a second and publishes {@code NodeMetrics} to
 * {@code pmig.metrics}, keyed by node id. Runs until stopped (SIGTERM / Ctrl-C), then gives Kafka a few
 * seconds to take what is still buffered.
 * <pre>
 * pmig agent --node node-a --bootstrap-server 127.0.0.1:9092
 * pmig agent --node node-b --mode simulated --capacity cpus=1,mem=2GiB --workdir /var/lib/pmig/node-b
 * pmig console-consumer --topic pmig.metrics        # watch the samples
 * </pre>
 * Broker outages are expected, not configuration errors: when no bootstrap server is reachable at start-up
 * the agent warns (naming bootstrap.servers) and keeps sampling into its buffer until one is. A bootstrap
 * host name that does not resolve at all is a typo, not an outage, and fails start-up with a message naming
 * {@code --bootstrap-server}; so do an unknown capacity unit ({@code --capacity}) and the other bad values,
 * each naming its option.
 */
@Command(name = "agent", mixinStandardHelpOptions = true,
        description = "Sample this node and its processes and publish NodeMetrics to pmig.metrics.")
public final class AgentCommand implements Callable<Integer> {

    private static final Logger log = LoggerFactory.getLogger(AgentCommand.class);

    private static final Duration REACHABILITY_PROBE_TIMEOUT = Duration.ofSeconds(2);

    @Mixin
    KafkaClientOptions kafka = new KafkaClientOptions();

    @Option(names = "--node", required = true, paramLabel = "ID", description = "This node's id (the record key).")
    String nodeId;

    @Spec
    CommandSpec spec;

    @Option(names = {"--interval", "--interval-ms"}, paramLabel = "DURATION", defaultValue = "1s",
            converter = OptionTypes.Millis.class,
            description = "Sampling interval, e.g. 1s or 500ms; a bare number is milliseconds (default: ${DEFAULT-VALUE}).")
    Duration interval;

    @Option(names = "--mode", paramLabel = "host|simulated", defaultValue = "host",
            description = "host: report the real host's figures. simulated: several nodes share this host; the "
                    + "node's load is its managed workloads' usage against --capacity (default: ${DEFAULT-VALUE}).")
    String mode;

    @Option(names = "--capacity", paramLabel = "cpus=N,mem=SIZE",
            description = "The node's capacity, e.g. cpus=2,mem=4GiB (KiB/MiB/GiB/TiB or plain bytes). "
                    + "Required in simulated mode; defaults to the host's in host mode.")
    String capacity;

    @Option(names = "--workdir", paramLabel = "DIR",
            description = "The node executor's work dir; its workloads/<id>/pid files name the managed workloads. "
                    + "Required in simulated mode.")
    Path workdir;

    @Option(names = "--buffer-records", paramLabel = "N", defaultValue = "3600",
            description = "Samples kept while Kafka is unreachable; beyond that the oldest are dropped "
                    + "(default: ${DEFAULT-VALUE}, an hour at 1 Hz).")
    int bufferRecords;

    @Option(names = "--metrics-port", paramLabel = "PORT",
            description = "Serve Prometheus metrics at http://--metrics-host:PORT/metrics (default: no endpoint).")
    Integer metricsPort;

    @Option(names = "--metrics-host", paramLabel = "HOST", defaultValue = "0.0.0.0",
            description = "Address the metrics endpoint listens on (default: ${DEFAULT-VALUE}, every interface).")
    String metricsHost;

    /** Runs the agent on its own, without the pmig launcher (overhead measurements, systemd units). */
    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command with pmig's handling of bad configuration: one line naming the option, exit code 2. */
    static CommandLine commandLine() {
        CommandLine commandLine = OptionTypes.install(new CommandLine(new AgentCommand()));
        commandLine.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof ConfigException) {
                cmd.getErr().println("pmig agent: bad configuration: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        return commandLine;
    }

    @Override
    public Integer call() throws InterruptedException {
        AgentConfig config = toConfig();
        MDC.put("node", config.nodeId());
        warnIfNoBrokerReachable(config.clientProperties());
        MetricsAgent agent = new MetricsAgent(config).start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            agent.close();
            stopped.countDown();
        }, "pmig-agent-shutdown"));
        stopped.await();
        return 0;
    }

    /** Validates the options; every problem is a {@link ConfigException} naming the option. */
    AgentConfig toConfig() {
        if (nodeId == null || !nodeId.matches("[A-Za-z0-9._-]{1,64}")) {
            throw new ConfigException("--node", "'" + nodeId + "' is not a node id (1-64 of A-Z a-z 0-9 . _ -)");
        }
        if (interval.toMillis() < 50) {
            throw new ConfigException(OptionTypes.givenName(spec, "--interval"), "must be at least 50ms, got "
                    + Durations.format(interval));
        }
        if (bufferRecords < 1) {
            throw new ConfigException("--buffer-records", "must be at least 1, got " + bufferRecords);
        }
        SamplingMode samplingMode = switch (mode.toLowerCase(Locale.ROOT)) {
            case "host" -> SamplingMode.HOST;
            case "simulated" -> SamplingMode.SIMULATED;
            default -> throw new ConfigException("--mode", "'" + mode + "' is not host or simulated");
        };
        NodeCapacity hostCapacity = NodeSampler.hostCapacity();
        NodeCapacity nodeCapacity;
        if (capacity != null) {
            nodeCapacity = CapacitySpec.parse(capacity, hostCapacity);
        } else if (samplingMode == SamplingMode.SIMULATED) {
            throw new ConfigException(CapacitySpec.OPTION, "is required in simulated mode, e.g. cpus=1,mem=2GiB");
        } else {
            nodeCapacity = hostCapacity;
        }
        if (samplingMode == SamplingMode.SIMULATED && workdir == null) {
            throw new ConfigException("--workdir", "is required in simulated mode: a simulated node's load is "
                    + "what its executor's workloads use");
        }
        if (metricsPort != null && (metricsPort < 0 || metricsPort > 65535)) {
            throw new ConfigException("--metrics-port", "must be a port, 0 to 65535, got " + metricsPort);
        }
        Properties clientProperties = kafka.clientProperties();
        requireResolvableBootstrap(clientProperties.getProperty(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG));
        return new AgentConfig(nodeId, interval, samplingMode, nodeCapacity, workdir,
                bufferRecords, clientProperties, metricsHost, metricsPort);
    }

    /** Fails when no bootstrap host resolves; warns about single ones that do not. */
    static void requireResolvableBootstrap(String bootstrapServers) {
        List<String> unresolvable = new ArrayList<>();
        List<HostPort> servers = HostPort.parseList("--bootstrap-server", bootstrapServers);
        for (HostPort server : servers) {
            try {
                InetAddress.getAllByName(server.host());
            } catch (UnknownHostException e) {
                unresolvable.add(server.host());
            }
        }
        if (unresolvable.size() == servers.size()) {
            throw new ConfigException("--bootstrap-server", "cannot resolve " + String.join(", ", unresolvable)
                    + " (bootstrap.servers=" + bootstrapServers + ")");
        }
        if (!unresolvable.isEmpty()) {
            log.warn("bootstrap.servers={}: cannot resolve {}; using the others", bootstrapServers, unresolvable);
        }
    }

    private static void warnIfNoBrokerReachable(Properties clientProperties) {
        String bootstrapServers = clientProperties.getProperty(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG);
        for (HostPort server : HostPort.parseList("--bootstrap-server", bootstrapServers)) {
            try (Socket socket = new Socket()) {
                socket.connect(server.toSocketAddress(), (int) REACHABILITY_PROBE_TIMEOUT.toMillis());
                return;
            } catch (IOException unreachable) {
                // try the next one
            }
        }
        log.warn("no Kafka broker reachable at bootstrap.servers={}; sampling into the buffer and publishing to {} "
                + "once one is", bootstrapServers, Topic.METRICS.topicName());
    }
}
