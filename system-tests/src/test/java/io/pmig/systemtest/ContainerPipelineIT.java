package io.pmig.systemtest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.Device;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.Phase;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.containers.Container.ExecResult;
import org.testcontainers.containers.ContainerLaunchException;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.output.Slf4jLogConsumer;
import org.testcontainers.containers.output.ToStringConsumer;
import org.testcontainers.containers.startupcheck.OneShotStartupCheckStrategy;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.images.builder.Transferable;
import org.testcontainers.kafka.KafkaContainer;
import org.testcontainers.lifecycle.Startables;
import org.testcontainers.utility.DockerImageName;

/**
 * The whole pipeline across containers, as in production: Testcontainers' {@link KafkaContainer} (running pmig's
 * broker image), three node containers (agent + executor each, criu inside), one analytics container. A workload
 * launched on node1 is moved off it when a pinned CPU load overloads node1 - decided by analytics from the agents'
 * metrics, carried out by the executors between the containers - and keeps counting on its new node. And a node
 * container whose criu cannot restore refuses to start rather than take workloads it would lose.
 */
class ContainerPipelineIT {

    private static final Logger log = LoggerFactory.getLogger(ContainerPipelineIT.class);
    /** The listener the other containers reach the broker on (KafkaContainer adds it and the network alias). */
    private static final String BOOTSTRAP = "kafka:19092";
    private static final List<String> NODES = List.of("node1", "node2", "node3");
    /** One tick a second: a copy that started over would need {@link #TICKS_BEFORE_LOAD} s to catch up. */
    /**
     * Counts once a second and burns a fifth of a core (0.2 s of every second): analytics moves only a workload whose
     * move relieves its node (issue 16), so the witness must carry load of its own beside the pinned fault.
     */
    private static final String COUNTER = "sh -c 'while :; do :; done' & b=$!; trap \"kill -CONT $b; kill $b\" EXIT; i=0; while :; do i=$((i+1)); echo $i > n; kill -CONT $b; sleep 0.2; kill -STOP $b; sleep 0.8; done";
    private static final long TICKS_BEFORE_LOAD = 15;
    private static final String COUNTER_FILE = "/var/lib/pmig/workloads/witness/work/n";

    /** What compose/docker-compose.yml grants node containers: what criu and pmig-init need, spelled out. */
    private static final List<Capability> NODE_CAPABILITIES = List.of(Capability.SYS_ADMIN, Capability.SYS_PTRACE,
            Capability.NET_ADMIN, Capability.SYS_CHROOT, Capability.DAC_READ_SEARCH, Capability.SETPCAP, Capability.KILL,
            Capability.SETUID, Capability.SETGID, Capability.IPC_LOCK, Capability.SYS_NICE, Capability.SYS_TIME);

    private static Network network;
    private static KafkaContainer kafka;
    private static List<GenericContainer<?>> nodes;
    private static GenericContainer<?> analytics;
    private static TopicReader topics;

    @BeforeAll
    static void startTheSystem() throws Exception {
        PmigImages.build();
        network = Network.newNetwork();
        kafka = new KafkaContainer(DockerImageName.parse(PmigImages.KAFKA).asCompatibleSubstituteFor("apache/kafka"))
                .withNetwork(network)
                .withListener(BOOTSTRAP)
                .withStartupTimeout(Duration.ofMinutes(3))
                .withLogConsumer(new Slf4jLogConsumer(log).withPrefix("kafka"));
        kafka.start();

        String secret = UUID.randomUUID().toString().replace("-", "");
        nodes = NODES.stream().<GenericContainer<?>>map(name -> node(name, secret)).toList();
        analytics = new GenericContainer<>(DockerImageName.parse(PmigImages.PMIG))
                .withNetwork(network)
                .withNetworkAliases("analytics")
                .withCommand("analytics", "--bootstrap-server", BOOTSTRAP, "--http-host", "0.0.0.0", "--http-port", "7071")
                .waitingFor(Wait.forLogMessage(".*analytics .* serving .*", 1).withStartupTimeout(Duration.ofMinutes(3)))
                .withLogConsumer(new Slf4jLogConsumer(log).withPrefix("analytics"));
        Startables.deepStart(Stream.concat(nodes.stream(), Stream.of(analytics))).join();
        topics = new TopicReader(kafka.getBootstrapServers());
    }

    /** A node container as compose runs it. */
    private static GenericContainer<?> node(String name, String secret) {
        return node(name, secret, NODE_CAPABILITIES)
                .waitingFor(Wait.forLogMessage(".*executor " + name + " ready.*", 1).withStartupTimeout(Duration.ofMinutes(3)));
    }

    private static GenericContainer<?> node(String name, String secret, List<Capability> capabilities) {
        return new GenericContainer<>(DockerImageName.parse(PmigImages.PMIG))
                .withNetwork(network)
                .withNetworkAliases(name)
                .withEnv("NODE", name)
                .withEnv("BOOTSTRAP", BOOTSTRAP)
                .withCopyToContainer(Transferable.of(secret, 0600), "/etc/pmig/transfer.secret")
                .withCreateContainerCmdModifier(cmd -> {
                    cmd.withEntrypoint("/opt/pmig/node-entrypoint.sh").withHostName(name);
                    cmd.getHostConfig()
                            .withCapAdd(capabilities.toArray(Capability[]::new))
                            .withSecurityOpts(List.of("seccomp=unconfined", "apparmor=unconfined"))
                            .withDevices(List.of(Device.parse("/dev/net/tun")));
                })
                .withLogConsumer(new Slf4jLogConsumer(log).withPrefix(name));
    }

    @AfterAll
    static void stopTheSystem() {
        if (topics != null) {
            topics.close();
        }
        Stream.concat(Stream.ofNullable(analytics), nodes == null ? Stream.empty() : nodes.stream())
                .forEach(GenericContainer::stop);
        if (kafka != null) {
            kafka.stop();
        }
        if (network != null) {
            network.close();
        }
    }

    @Test
    void anOverloadedNodeContainersWorkloadIsMovedToAnotherNodeContainerAndKeepsCounting() throws Exception {
        // agents -> broker: every node container reports itself
        Await.until("metrics from every node", Duration.ofMinutes(2), () -> topics.read(Topic.METRICS, NodeMetrics.class).stream()
                .map(m -> m.getNodeId().toString()).collect(Collectors.toSet()).containsAll(NODES));

        GenericContainer<?> node1 = container("node1");
        exec(node1, "pmig", "launch", "--bootstrap-server", BOOTSTRAP, "--node", "node1", "--id", "witness", "--",
                "sh", "-c", COUNTER);
        Await.until("the witness counting on node1", Duration.ofMinutes(1), () -> counter(node1).orElse(0L) >= TICKS_BEFORE_LOAD);
        long beforeLoad = counter(node1).orElseThrow();

        // a pinned busy loop of one core on a node of half a core: node1 is overloaded, the witness is what can move
        exec(node1, "pmig", "fault", "cpu", "--bootstrap-server", BOOTSTRAP, "--node", "node1", "--duration-s", "600");
        MigrationEvent completed = Await.value("the witness COMPLETED on another node", Duration.ofMinutes(3),
                () -> topics.read(Topic.EVENTS, MigrationEvent.class).stream()
                        .filter(e -> e.getWorkloadId().toString().equals("witness") && e.getPhase() == Phase.COMPLETED)
                        .findFirst().orElse(null));

        // the move was analytics' decision, not an operator's
        MigrationCommand command = topics.read(Topic.COMMANDS, MigrationCommand.class).stream()
                .filter(c -> c.getKind() == CommandKind.MIGRATE && c.getWorkloadId().toString().equals("witness"))
                .findFirst().orElseThrow(() -> new AssertionError("no MIGRATE command for the witness"));
        assertEquals("analytics", command.getIssuedBy().toString());
        assertEquals("node1", command.getSourceNode().toString());
        String destination = completed.getNode().toString();
        assertTrue(Set.of("node2", "node3").contains(destination), "moved to " + destination);
        assertEquals(command.getDestinationNode().toString(), destination);

        // it runs on its new node, carrying on from where it was frozen rather than starting over
        GenericContainer<?> target = container(destination);
        long first = counter(target).orElseThrow(() -> new AssertionError("no counter file on " + destination));
        assertTrue(first >= beforeLoad, "at " + first + " just after the move, was at " + beforeLoad + " before it");
        Await.until("the witness counting on " + destination, Duration.ofSeconds(30), () -> counter(target).orElse(0L) > first + 5);
        assertTrue(counter(node1).isEmpty(), "node1 no longer has the witness's directory");

        // ops read the topics from inside the containers with the stock console consumer and pmig's formatter
        ExecResult console = exec(target, "pmig", "console-consumer", "--bootstrap-server", BOOTSTRAP,
                "--topic", "pmig.events", "--from-beginning", "--max-messages", "1", "--timeout-ms", "30000");
        assertTrue(console.getStdout().contains("\"type\":\"MigrationEvent\""), console.getStdout());
    }

    @Test
    void aNodeContainerWhereCriuCannotRestoreRefusesToStartInsteadOfLosingWorkloadsLater() {
        // without SYS_TIME criu dumps, passes `criu check`, and fails every restore (time namespace offsets)
        List<Capability> noSysTime = NODE_CAPABILITIES.stream().filter(c -> c != Capability.SYS_TIME).toList();
        ToStringConsumer output = new ToStringConsumer();
        try (GenericContainer<?> node = node("node9", "0123456789abcdef0123", noSysTime)
                .withEnv("BOOTSTRAP", "127.0.0.1:1") // never part of the cluster: analytics must not see a node9
                .withLogConsumer(output)
                .withStartupCheckStrategy(new OneShotStartupCheckStrategy().withTimeout(Duration.ofMinutes(2)))) {
            assertThrows(ContainerLaunchException.class, node::start, "the node container exits");
        }
        String logs = output.toUtf8String();
        assertTrue(logs.contains("criu cannot restore a workload on this node"), logs);
        assertFalse(logs.contains("executor node9 ready"), logs);
    }

    private static GenericContainer<?> container(String node) {
        return nodes.get(NODES.indexOf(node));
    }

    /** The witness's counter in a node container, empty when that node has no copy of it. */
    private static Optional<Long> counter(GenericContainer<?> node) throws Exception {
        ExecResult r = node.execInContainer("cat", COUNTER_FILE);
        String out = r.getStdout().strip();
        return r.getExitCode() == 0 && !out.isEmpty() ? Optional.of(Long.parseLong(out)) : Optional.empty();
    }

    private static ExecResult exec(GenericContainer<?> container, String... command) throws Exception {
        ExecResult r = container.execInContainer(command);
        if (r.getExitCode() != 0) {
            fail(String.join(" ", command) + " exited " + r.getExitCode() + ":\n" + r.getStdout() + r.getStderr());
        }
        return r;
    }
}
