package io.pmig.platform.nodes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.platform.topics.TopicCreator;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/**
 * Every executor heartbeats on pmig.nodes each second; reading all of it made N executors each read N heartbeats a
 * second. An executor's reader holds only the partition its node's claims go to.
 */
class NodeClaimPartitionTest {

    @Test
    void anExecutorReadsOnlyItsNodesPartitionOfTheRegistry() {
        TopicCreator.ensureTopics(SharedBroker.clientProperties());
        String node = "claim-partition-" + UUID.randomUUID();
        try (var consumer = NodeRegistry.consumerOf(SharedBroker.clientProperties(), node)) {
            int partitions = consumer.partitionsFor(Topic.NODES.topicName()).size();
            assertTrue(partitions > 1, "pmig.nodes is created with several partitions: " + partitions);
            assertEquals(Set.of(new TopicPartition(Topic.NODES.topicName(), Topic.partitionOf(node, partitions))),
                    consumer.assignment());
        }
    }
}
