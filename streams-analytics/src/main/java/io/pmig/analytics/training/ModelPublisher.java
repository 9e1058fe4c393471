package io.pmig.analytics.training;

import io.pmig.platform.topics.Topic;
import io.pmig.platform.topics.TopicCreator;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.serde.AvroSerde;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Publishes a model to the compacted pmig.models under its name; every analytics instance reading that key
 * switches to it within seconds. Also how the demo installs {@link DefaultModel}.
 */
public final class ModelPublisher {

    private ModelPublisher() {
    }

    public static RecordMetadata publish(Properties clientProperties, String key, ModelUpdate update) {
        TopicCreator.ensureTopics(clientProperties);
        Properties props = (Properties) clientProperties.clone();
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        // Forests are megabytes; the topic allows 64 MiB (Topic.MODELS), the producer must too.
        props.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, String.valueOf(64 * 1024 * 1024));
        try (KafkaProducer<String, ModelUpdate> producer = new KafkaProducer<>(props, new StringSerializer(),
                Topic.MODELS.<ModelUpdate>serde().serializer())) {
            return producer.send(new ProducerRecord<>(Topic.MODELS.topicName(), key, update)).get(60, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            throw new IllegalStateException("could not publish model " + update.getVersion() + " to "
                    + Topic.MODELS.topicName() + ": " + cause.getMessage(), cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while publishing model " + update.getVersion(), e);
        }
    }

    /**
     * The model in use under {@code key}: the latest ModelUpdate on pmig.models for it, read from the beginning of the
     * (compacted, single-partition) topic to its end now; empty when there is none or the latest is a tombstone (the app
     * then runs the threshold rule). An undecodable latest record is an error: the app keeps its previous model then,
     * and training cannot know which.
     */
    public static Optional<ModelUpdate> current(Properties clientProperties, String key) {
        Properties props = (Properties) clientProperties.clone();
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, String.valueOf(64 * 1024 * 1024));
        props.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, String.valueOf(64 * 1024 * 1024));
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        AvroSerde<ModelUpdate> serde = Topic.MODELS.serde();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer())) {
            TopicPartition partition = new TopicPartition(Topic.MODELS.topicName(), 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long end = consumer.endOffsets(List.of(partition), Duration.ofSeconds(30)).get(partition);
            byte[] latest = null;
            while (consumer.position(partition, Duration.ofSeconds(30)) < end) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    if (key.equals(record.key()) && record.offset() < end) {
                        latest = record.value();
                    }
                }
            }
            if (latest == null) {
                return Optional.empty();
            }
            try {
                return Optional.of(serde.decode(latest));
            } catch (RuntimeException e) {
                throw new IllegalStateException("the latest record under '" + key + "' on " + Topic.MODELS.topicName()
                        + " is not a ModelUpdate: " + e.getMessage(), e);
            }
        }
    }
}
