package io.pmig.systemtest;

import io.pmig.platform.topics.Topic;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/** Reads pmig's topics from the host through the broker container's mapped port, from the beginning, as they grow. */
final class TopicReader implements AutoCloseable {

    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Map<Topic, List<SpecificRecordBase>> seen = new EnumMap<>(Topic.class);

    TopicReader(String bootstrapServers) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"); // analytics writes transactionally
        consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        List<TopicPartition> partitions = new ArrayList<>();
        for (Topic topic : List.of(Topic.METRICS, Topic.COMMANDS, Topic.EVENTS)) {
            seen.put(topic, new ArrayList<>());
            consumer.partitionsFor(topic.topicName(), Duration.ofSeconds(30))
                    .forEach(p -> partitions.add(new TopicPartition(p.topic(), p.partition())));
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
    }

    /** Every record of {@code topic} so far (after one more poll), decoded. */
    <T extends SpecificRecordBase> List<T> read(Topic topic, Class<T> type) {
        for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(500))) {
            Topic from = Topic.byName(record.topic());
            seen.get(from).add(from.serde().decode(record.value()));
        }
        return seen.get(topic).stream().map(type::cast).toList();
    }

    @Override
    public void close() {
        consumer.close();
    }
}
