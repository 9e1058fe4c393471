package io.pmig.analytics;

import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.serde.AvroSerde;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/** What the shared broker's pmig.commands holds for one test run, as executors read it (committed only). */
final class CommittedCommands {

    private CommittedCommands() {
    }

    /** Every committed command whose source node's id ends with {@code run}, read to the end of pmig.commands. */
    static List<MigrationCommand> ofRun(String run) {
        Properties props = SharedBroker.clientProperties();
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        AvroSerde<MigrationCommand> serde = AvroSerde.of(MigrationCommand.class);
        List<MigrationCommand> commands = new ArrayList<>();
        try (KafkaConsumer<String, MigrationCommand> consumer = new KafkaConsumer<>(props, new StringDeserializer(), serde)) {
            List<TopicPartition> partitions = consumer.partitionsFor(Topic.COMMANDS.topicName()).stream()
                    .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
                for (ConsumerRecord<String, MigrationCommand> record : consumer.poll(Duration.ofMillis(200))) {
                    if (record.value().getSourceNode().toString().endsWith(run)) {
                        commands.add(record.value());
                    }
                }
            }
        }
        return commands;
    }
}
