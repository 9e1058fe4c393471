package io.pmig.executor;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.node.NodeExecutor;
import io.pmig.executor.workload.InitBinary;
import io.pmig.platform.commands.CommandDeadline;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.nodes.NodeRegistry;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.ClaimState;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.ExecutorClaim;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.Phase;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/** Issue 14, "One executor per node id": a duplicate is refused, a fenced executor stops acting, a restart takes over. */
class OneExecutorPerNodeTest {

    private static final List<String> SLEEPER = List.of("sh", "-c", "while :; do sleep 0.2; done");

    /** A used port gave a BindException stack trace naming no address. */
    @Test
    void aListenAddressInUseIsRefusedNamingTheAddressAndTheKey() throws Exception {
        try (TestNodes nodes = new TestNodes();
             java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            ExecutorConfig config = ExecutorConfig.local(nodes.node("busy"), SharedBroker.clientProperties(),
                    nodes.root.resolve("busy"), TestNodes.criu(), InitBinary.install(InitBinary.DEFAULT_PATH),
                    TestNodes.SECRET).set(ExecutorConfig.LISTEN, taken.getLocalSocketAddress()).build();

            ConfigException refused = assertThrows(ConfigException.class, () -> new NodeExecutor(config).start());

            assertTrue(refused.getMessage().contains(ExecutorConfig.LISTEN), refused.getMessage());
            assertTrue(refused.getMessage().contains(":" + taken.getLocalPort()), refused.getMessage());
            // and the node id is free again: its claim was given back
            nodes.start("busy").close();
        }
    }

    @Test
    void aSecondExecutorForARunningNodeIsRefusedAndNamesTheRunningOne() throws Exception {
        try (TestNodes nodes = new TestNodes()) {
            NodeExecutor first = nodes.start("a");
            ExecutorConfig duplicate = ExecutorConfig.local(nodes.node("a"), SharedBroker.clientProperties(),
                    nodes.root.resolve("duplicate"), TestNodes.criu(), InitBinary.install(InitBinary.DEFAULT_PATH),
                    TestNodes.SECRET).build();

            ConfigException refused = assertThrows(ConfigException.class, () -> new NodeExecutor(duplicate).start());

            String why = refused.getMessage();
            assertTrue(why.contains("already has a running executor"), why);
            assertTrue(why.contains("pid " + ProcessHandle.current().pid()), why);
            assertTrue(why.contains(first.transferAddress().getPort() + ""), "names the running one's transfer address: " + why);
            assertTrue(why.contains("started "), why);
            // the first one still acts for the node
            String launch = nodes.send(CommandKind.LAUNCH, nodes.prefix + "still", null, "a", null, SLEEPER);
            nodes.await(TestNodes.phase(launch, Phase.LAUNCHED), Duration.ofSeconds(30), "LAUNCHED by the first executor");
        }
    }

    @Test
    void anExecutorThatLosesItsClaimActsOnNoMoreCommands() throws Exception {
        try (TestNodes nodes = new TestNodes();
             var claims = new KafkaProducer<>(SharedBroker.clientProperties(), new StringSerializer(),
                     Topic.NODES.<ExecutorClaim>serde().serializer())) {
            NodeExecutor a = nodes.start("a");
            String node = nodes.node("a");
            ExecutorClaim held = NodeRegistry.read(SharedBroker.clientProperties(), Duration.ofSeconds(10)).holder(node).orElseThrow();
            ExecutorClaim usurper = ExecutorClaim.newBuilder(held).setIncarnation(UUID.randomUUID().toString())
                    .setPreviousIncarnation(held.getIncarnation()).setState(ClaimState.ACTIVE).setPid(1).setHost("elsewhere")
                    .setHeartbeatMs(System.currentTimeMillis()).build();

            claims.send(new ProducerRecord<>(Topic.NODES.topicName(), node, usurper)).get();

            await().atMost(Duration.ofSeconds(15)).until(a::fenced);
            MigrationCommand launch = CommandDeadline.stamp(MigrationCommand.newBuilder(
                    nodes.command(CommandKind.LAUNCH, nodes.prefix + "ignored", null, "a", null, SLEEPER)),
                    System.currentTimeMillis(), Duration.ofSeconds(2)).build();
            nodes.send(launch);
            await().atMost(Duration.ofSeconds(15)).until(() -> System.currentTimeMillis()
                    > launch.getDeadlineMs() + CommandDeadline.SETTLE.toMillis());
            assertTrue(nodes.all(e -> e.getCommandId().equals(launch.getCommandId())).isEmpty(), nodes.eventsSummary());
            assertTrue(nodes.runningPid("a", nodes.prefix + "ignored").isEmpty());
        }
    }
}
