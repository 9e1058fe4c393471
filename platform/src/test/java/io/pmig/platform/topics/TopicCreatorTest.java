package io.pmig.platform.topics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pmig.broker.EmbeddedBroker;
import io.pmig.platform.config.KafkaClientOptions;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class TopicCreatorTest {

    /**
     * On a fresh broker most partitions were not yet served when ensureTopics returned (19 of 21 refused a single-try
     * ListOffsets, measured), the gap in which an idempotent producer can lose its first batch (KAFKA-15591).
     */
    @Test
    void everyPartitionIsServedByItsLeaderOnceTopicsAreEnsured() throws Exception {
        try (EmbeddedBroker broker = EmbeddedBroker.start(0, null)) {
            Properties props = KafkaClientOptions.of(broker.bootstrapServers()).clientProperties();
            TopicCreator.ensureTopics(props);

            props.put(AdminClientConfig.RETRIES_CONFIG, "0"); // one try each: not served yet fails the test
            try (Admin admin = Admin.create(props)) {
                Map<TopicPartition, OffsetSpec> every = new HashMap<>();
                for (Topic topic : Topic.values()) {
                    for (int partition = 0; partition < topic.partitions(); partition++) {
                        every.put(new TopicPartition(topic.topicName(), partition), OffsetSpec.latest());
                    }
                }
                Map<TopicPartition, ListOffsetsResultInfo> offsets = admin.listOffsets(every).all().get();
                assertEquals(every.keySet(), offsets.keySet());
            }
        }
    }

    /** Partitions as the unit of scale: a fresh cluster's pmig.metrics created with 12 at start-up; one asked of an unknown topic is refused by name. */
    @Test
    void topicsCanBeCreatedWithMorePartitionsAtStartUp() throws Exception {
        try (EmbeddedBroker broker = EmbeddedBroker.start(0, null)) {
            Properties props = KafkaClientOptions.of(broker.bootstrapServers()).clientProperties();
            TopicCreator.ensureTopics(props, TopicCreator.partitionCounts("--topic-partitions", Map.of("pmig.metrics", "12")));
            try (Admin admin = Admin.create(props)) {
                Map<String, org.apache.kafka.clients.admin.TopicDescription> topics = admin.describeTopics(
                        java.util.List.of(Topic.METRICS.topicName(), Topic.EVENTS.topicName())).allTopicNames().get();
                assertEquals(12, topics.get(Topic.METRICS.topicName()).partitions().size());
                assertEquals(Topic.EVENTS.partitions(), topics.get(Topic.EVENTS.topicName()).partitions().size());
            }
        }
        io.pmig.platform.config.ConfigException bad = org.junit.jupiter.api.Assertions.assertThrows(io.pmig.platform.config.ConfigException.class,
                () -> TopicCreator.partitionCounts("--topic-partitions", Map.of("pmig.metric", "12")));
        org.junit.jupiter.api.Assertions.assertTrue(bad.getMessage().startsWith("--topic-partitions: 'pmig.metric' is not a pmig topic"),
                bad.getMessage());
    }

    /** A cluster whose pmig.commands predates the 24-partition layout (3 partitions) keeps it, and every role still starts. */
    @Test
    void aTopicCreatedWithFewerPartitionsThanTheCatalogueNamesIsKeptAsItIs() throws Exception {
        try (EmbeddedBroker broker = EmbeddedBroker.start(0, null)) {
            Properties props = KafkaClientOptions.of(broker.bootstrapServers()).clientProperties();
            try (Admin admin = Admin.create(props)) {
                admin.createTopics(java.util.List.of(new org.apache.kafka.clients.admin.NewTopic(Topic.COMMANDS.topicName(),
                        java.util.Optional.of(3), java.util.Optional.empty()))).all().get();
                TopicCreator.ensureTopics(props);
                assertEquals(3, admin.describeTopics(java.util.List.of(Topic.COMMANDS.topicName())).allTopicNames().get()
                        .get(Topic.COMMANDS.topicName()).partitions().size());
            }
        }
    }
}
