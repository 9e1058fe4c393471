package io.pmig.agent;

import io.pmig.platform.topics.Topic;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.serde.AvroSerde;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/** Reads pmig.metrics from the beginning, as any downstream consumer would, and decodes one node's records. */
final class MetricsTopicReader {

    private static final Duration GIVE_UP_AFTER = Duration.ofSeconds(90);

    private MetricsTopicReader() {
    }

    /** One node's records in log order, read until the predicate holds for them (or a generous deadline passes). */
    static List<NodeMetrics> readUntil(Properties clientProperties, String nodeId, Predicate<List<NodeMetrics>> done) {
        Properties props = new Properties();
        props.putAll(clientProperties);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        AvroSerde<NodeMetrics> serde = Topic.METRICS.serde();
        List<NodeMetrics> records = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (int p = 0; p < Topic.METRICS.partitions(); p++) {
                partitions.add(new TopicPartition(Topic.METRICS.topicName(), p));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.nanoTime() + GIVE_UP_AFTER.toNanos();
            while (!done.test(records) && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    if (nodeId.equals(record.key())) {
                        records.add(serde.deserialize(record.topic(), record.value()));
                    }
                }
            }
        }
        return records;
    }
}
