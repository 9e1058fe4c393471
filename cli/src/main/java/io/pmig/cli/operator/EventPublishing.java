package io.pmig.cli.operator;

import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationEvent;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/** The operator's own events (FORGOTTEN), keyed by workload id like the executors' so they stay in order with them. */
final class EventPublishing {

    private EventPublishing() {
    }

    static void publish(Properties clientProperties, MigrationEvent event) {
        Properties props = (Properties) clientProperties.clone();
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        try (var producer = new KafkaProducer<>(props, new StringSerializer(), Topic.EVENTS.<MigrationEvent>serde().serializer())) {
            producer.send(new ProducerRecord<>(Topic.EVENTS.topicName(), event.getWorkloadId(), event)).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("could not publish " + event.getPhase() + " for " + event.getWorkloadId()
                    + ": " + (e.getCause() == null ? e : e.getCause()).getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while publishing an event", e);
        }
    }
}
