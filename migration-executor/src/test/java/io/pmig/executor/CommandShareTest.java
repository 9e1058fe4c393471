package io.pmig.executor;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.node.NodeExecutor;
import io.pmig.platform.commands.CommandRouting;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.Phase;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;

/**
 * Issue 17, "Executors read only their own commands": each executor reads the one partition of pmig.commands its
 * node id hashes to, not the whole topic, and still answers every command addressed to it; of pmig.events it reads
 * only the partitions of the workloads it runs or migrates.
 */
class CommandShareTest {

    private static final int NODES = 6;
    private static final int COMMANDS_PER_NODE = 4;

    @Test
    void eachExecutorReadsOnlyItsNodesPartitionAndAnswersEveryCommandAddressedToIt() throws Exception {
        try (TestNodes nodes = new TestNodes()) {
            Map<String, NodeExecutor> executors = new LinkedHashMap<>();
            for (int i = 0; i < NODES; i++) {
                executors.put("n" + i, nodes.start("n" + i, new FakeEngine()));
            }
            List<String> sent = new ArrayList<>();
            for (String name : executors.keySet()) {
                for (int c = 0; c < COMMANDS_PER_NODE; c++) {
                    // a KILL of a workload the node does not have: its executor answers FAILED, nobody else answers
                    sent.add(nodes.send(CommandKind.KILL, nodes.prefix + "absent-" + name + "-" + c, name, null, null, List.of()));
                }
            }
            for (String id : sent) {
                nodes.await(TestNodes.phase(id, Phase.FAILED), Duration.ofSeconds(60), "the addressed node's FAILED for " + id);
            }

            Map<TopicPartition, Long> end = endOffsets();
            long topicRecords = end.values().stream().mapToLong(Long::longValue).sum();
            int partitions = end.size();
            for (var entry : executors.entrySet()) {
                String node = nodes.node(entry.getKey());
                NodeExecutor executor = entry.getValue();
                TopicPartition own = new TopicPartition(Topic.COMMANDS.topicName(), CommandRouting.partition(node, partitions));
                assertEquals(Set.of(own), executor.commandPartitions(), node + " reads its own partition only");
                // it reads that partition to its end (its group is new: from the beginning), and nothing else
                await().atMost(Duration.ofSeconds(30)).until(() -> executor.commandRecordsRead() >= endOffsets().get(own));
                long read = executor.commandRecordsRead();
                assertTrue(read <= endOffsets().get(own), node + " read " + read + " records, its partition holds " + endOffsets().get(own));
                System.out.printf("CommandShareTest: %s read %d of the %d records of %s (%d partitions)%n",
                        node, read, topicRecords, Topic.COMMANDS.topicName(), partitions);
            }
            for (String id : sent) {
                assertEquals(1, nodes.all(e -> e.getCommandId().equals(id)).size(), "one answer to " + id + ", by its node");
            }
            for (NodeExecutor executor : executors.values()) {
                assertEquals(0, executor.eventRecordsRead(), executor.nodeId() + " has no workload and no migration: no"
                        + " event concerns it, none of the " + sent.size() + " FAILED is read");
            }
        }
    }

    @Test
    void aMigrationsEventsAreReadByItsTwoNodesOnlyFromItsWorkloadsPartition() throws Exception {
        try (TestNodes nodes = new TestNodes()) {
            NodeExecutor source = nodes.start("s", new FakeEngine());
            NodeExecutor destination = nodes.start("d", new FakeEngine());
            NodeExecutor bystander = nodes.start("x", new FakeEngine());
            String workload = nodes.prefix + "w";
            String launch = nodes.send(CommandKind.LAUNCH, workload, null, "s", null, List.of("sleep", "1000000"));
            nodes.await(TestNodes.phase(launch, Phase.LAUNCHED), Duration.ofSeconds(60), "LAUNCHED");
            String migrate = nodes.send(CommandKind.MIGRATE, workload, "s", "d", io.pmig.schemas.MigrationMode.PLAIN, List.of());
            nodes.await(TestNodes.phase(migrate, Phase.COMPLETED), Duration.ofSeconds(60), "COMPLETED");

            int partitions = endOffsets(Topic.EVENTS).size();
            TopicPartition workloads = new TopicPartition(Topic.EVENTS.topicName(), CommandRouting.partition(workload, partitions));
            assertTrue(source.eventRecordsRead() > 0 && destination.eventRecordsRead() > 0, "the two nodes read the migration's events");
            await().atMost(Duration.ofSeconds(10)).until(() -> Set.of(workloads).containsAll(source.eventPartitions())
                    && Set.of(workloads).containsAll(destination.eventPartitions()));
            assertEquals(0, bystander.eventRecordsRead(), "a node not in the migration reads none of its events");
            assertEquals(Set.of(), bystander.eventPartitions());
            nodes.send(CommandKind.KILL, workload, "d", null, null, List.of());
        }
    }

    private static Map<TopicPartition, Long> endOffsets() {
        return endOffsets(Topic.COMMANDS);
    }

    private static Map<TopicPartition, Long> endOffsets(Topic topic) {
        try (var consumer = new KafkaConsumer<>(SharedBroker.clientProperties(), new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> parts = consumer.partitionsFor(topic.topicName()).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            return consumer.endOffsets(parts);
        }
    }
}
