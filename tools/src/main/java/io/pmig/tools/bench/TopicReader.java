package io.pmig.tools.bench;

import io.pmig.platform.topics.Topic;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/** The benchmarks' readers of a whole topic: no consumer group, every partition from the beginning, committed records only. */
final class TopicReader {

    private TopicReader() {
    }

    static <V> KafkaConsumer<String, V> fromBeginning(Properties client, Topic topic, Deserializer<V> values) {
        Properties props = new Properties();
        props.putAll(client);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"); // what the app commits, as executors read it
        KafkaConsumer<String, V> consumer = new KafkaConsumer<>(props, new StringDeserializer(), values);
        List<TopicPartition> partitions = consumer.partitionsFor(topic.topicName()).stream()
                .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        return consumer;
    }
}
