package io.pmig.cli.demo;

import io.pmig.agent.AgentConfig;
import io.pmig.agent.MetricsAgent;
import io.pmig.analytics.AnalyticsApp;
import io.pmig.analytics.AnalyticsConfig;
import io.pmig.cli.dashboard.DashboardServer;
import io.pmig.executor.ExecutorConfig;
import io.pmig.executor.criu.Criu;
import io.pmig.executor.node.NodeExecutor;
import io.pmig.executor.workload.InitBinary;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.broker.EmbeddedBroker;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.topics.TopicCreator;
import io.pmig.schemas.NodeCapacity;
import io.pmig.schemas.SamplingMode;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole system on one machine: an embedded broker, simulated nodes (agent + executor, each with its own
 * work dir and transfer port), one analytics instance and optionally the dashboard. Closing it stops
 * everything it started, workloads included.
 */
public final class LocalCluster implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LocalCluster.class);

    /** A simulated node: its load is its own workloads' usage against this capacity. */
    public record NodeSpec(String id, double cpus, long memBytes) {
    }

    /** One running node. */
    public record Node(NodeSpec spec, Path workdir, NodeExecutor executor, MetricsAgent agent) {
    }

    private final Path root;
    private boolean closed;
    private EmbeddedBroker broker;
    private final List<Node> nodes = new ArrayList<>();
    private AnalyticsApp analytics;
    private DashboardServer dashboard;
    private Path initBinary;

    private LocalCluster(Path root) {
        this.root = root;
    }

    /**
     * Starts the cluster; on any failure, stops what was already started and rethrows.
     *
     * @param dashboardPort 0 for any free port, -1 for no dashboard
     */
    public static LocalCluster start(Criu criu, List<NodeSpec> specs, AnalyticsConfig analyticsConfig,
                                     int dashboardPort) throws Exception {
        LocalCluster cluster = new LocalCluster(Files.createTempDirectory("pmig-demo-"));
        try {
            cluster.startAll(criu, specs, analyticsConfig, dashboardPort);
            return cluster;
        } catch (Exception | Error e) {
            cluster.close();
            throw e;
        }
    }

    private void startAll(Criu criu, List<NodeSpec> specs, AnalyticsConfig analyticsConfig, int dashboardPort)
            throws Exception {
        broker = EmbeddedBroker.start(0, root.resolve("broker"));
        TopicCreator.ensureTopics(clientProperties());
        initBinary = InitBinary.install(InitBinary.DEFAULT_PATH);
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret); // one cluster secret per run, shared by its executors
        for (NodeSpec spec : specs) {
            Path workdir = Files.createDirectories(root.resolve("nodes").resolve(spec.id()));
            // nothing the demo started may outlive it: local() kills the workloads when the executor closes
            ExecutorConfig config = ExecutorConfig.local(spec.id(), clientProperties(), workdir, criu, initBinary, secret)
                    .set(ExecutorConfig.CAPACITY_CPUS, spec.cpus()).set(ExecutorConfig.CAPACITY_MEM_BYTES, spec.memBytes())
                    .set(ExecutorConfig.SESSION_TIMEOUT_MS, Duration.ofMinutes(2).toMillis())
                    .build();
            NodeExecutor executor = new NodeExecutor(config).start();
            MetricsAgent agent = null;
            try {
                agent = new MetricsAgent(new AgentConfig(spec.id(), Duration.ofSeconds(1), SamplingMode.SIMULATED,
                        NodeCapacity.newBuilder().setCpus(spec.cpus()).setMemBytes(spec.memBytes()).build(),
                        workdir, 3600, clientProperties())).start();
            } finally {
                nodes.add(new Node(spec, workdir, executor, agent));
            }
        }
        for (Node node : nodes) {
            if (!node.executor().awaitReady(Duration.ofSeconds(60))) {
                throw new IllegalStateException("executor of " + node.spec().id() + " never joined pmig.commands");
            }
        }
        analytics = AnalyticsApp.start(analyticsConfig, clientProperties(), "demo-1", "127.0.0.1", 0,
                Files.createDirectories(root.resolve("analytics-state")));
        if (dashboardPort >= 0) {
            dashboard = new DashboardServer(clientProperties(), List.of(java.net.URI.create(analytics.httpAddress() + "/")),
                    new InetSocketAddress("127.0.0.1", dashboardPort)).start();
        }
    }

    public Properties clientProperties() {
        return KafkaClientOptions.of(broker.bootstrapServers()).clientProperties();
    }

    public String bootstrapServers() {
        return broker.bootstrapServers();
    }

    public List<Node> nodes() {
        return nodes;
    }

    public Node node(String id) {
        return nodes.stream().filter(n -> n.spec().id().equals(id)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no node " + id));
    }

    public AnalyticsApp analytics() {
        return analytics;
    }

    /** The dashboard's address, or null when it is off. */
    public String dashboardUrl() {
        return dashboard == null ? null : dashboard.url();
    }

    /** The file a workload's stdout goes to on a node (it moves with the workload). */
    public Path stdoutOf(String nodeId, String workloadId) {
        return node(nodeId).workdir().resolve("workloads").resolve(workloadId).resolve("stdout.log");
    }

    /** Nodes on which the workload's init is alive right now (exactly one, when all is well). */
    public List<String> nodesRunning(String workloadId) {
        List<String> running = new ArrayList<>();
        for (Node node : nodes) {
            if (new NodeWorkloads(node.workdir(), initBinary).isRunning(workloadId)) {
                running.add(node.spec().id());
            }
        }
        return running;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeQuietly(dashboard);
        closeQuietly(analytics);
        for (Node node : nodes) {
            closeQuietly(node.agent());
            closeQuietly(node.executor()); // stops its workloads too (kill-on-exit)
        }
        closeQuietly(broker);
        try {
            NodeWorkloads.deleteTree(root);
        } catch (IOException e) {
            log.warn("could not remove {}: {}", root, e.getMessage());
        }
    }

    private static void closeQuietly(AutoCloseable closeable) {
        if (closeable == null) {
            return;
        }
        try {
            closeable.close();
        } catch (Exception e) {
            log.warn("while stopping {}: {}", closeable.getClass().getSimpleName(), e.toString());
        }
    }
}
