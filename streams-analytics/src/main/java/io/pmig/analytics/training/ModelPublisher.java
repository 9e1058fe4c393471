package io.pmig.analytics.training;

import io.pmig.platform.topics.Topic;
import io.pmig.platform.topics.TopicCreator;
import io.pmig.schemas.ModelUpdate;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
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
}
