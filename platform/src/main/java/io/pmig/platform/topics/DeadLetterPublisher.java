package io.pmig.platform.topics;

import io.micrometer.core.instrument.MeterRegistry;
import io.pmig.platform.metrics.RoleMetrics;
import io.pmig.schemas.DeadLetter;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * For plain consumers that decode with a Serde: a record that does not decode makes {@code poll} throw, and
 * throw again on every later poll, because the consumer's position stays on it. {@link #skip} moves past it and
 * puts it on pmig.dlq with the reason, so one corrupt record cannot stop a reader for good. The producer is
 * created on the first dead letter: most readers never meet one.
 */
public final class DeadLetterPublisher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DeadLetterPublisher.class);

    private final Properties kafka;
    private final String stage;
    private final MeterRegistry registry;
    private final String role;
    private KafkaProducer<String, DeadLetter> producer;

    /** @param stage who met the record ("executor node-2"), kept in the dead letter */
    public DeadLetterPublisher(Properties kafka, String stage) {
        this(kafka, stage, null, null);
    }

    /** Also counts each dead letter in {@value RoleMetrics#DEAD_LETTERS} with {@code stage=role}. */
    public DeadLetterPublisher(Properties kafka, String stage, MeterRegistry registry, String role) {
        this.kafka = kafka;
        this.stage = stage;
        this.registry = registry;
        this.role = role;
    }

    /** Seeks the consumer past the undecodable record and dead-letters it; waits for the broker's ack. */
    public synchronized void skip(Consumer<?, ?> consumer, RecordDeserializationException e) {
        consumer.seek(e.topicPartition(), e.offset() + 1);
        String reason = e.getCause() == null ? e.getMessage() : e.getMessage() + ": " + e.getCause().getMessage();
        log.warn("dead letter from {}@{}: {}", e.topicPartition(), e.offset(), reason);
        if (registry != null) {
            RoleMetrics.deadLetters(registry, role, e.topicPartition().topic()).increment();
        }
        DeadLetter letter = DeadLetter.newBuilder()
                .setSourceTopic(e.topicPartition().topic())
                .setPartition(e.topicPartition().partition())
                .setOffset(e.offset())
                .setKey(copy(e.keyBuffer()))
                .setValue(copy(e.valueBuffer()))
                .setReason(reason == null ? "undecodable" : reason)
                .setStage(stage)
                .setTimestampMs(e.timestamp())
                .build();
        try {
            producer().send(new ProducerRecord<>(Topic.DLQ.topicName(), letter.getSourceTopic(), letter))
                    .get(30, TimeUnit.SECONDS);
        } catch (Exception failed) {
            // the record is still skipped: a reader stuck on it would be worse than a lost dead letter
            log.error("could not put the dead letter from {}@{} on {}: {}", e.topicPartition(), e.offset(),
                    Topic.DLQ.topicName(), failed.toString());
        }
    }

    private static ByteBuffer copy(ByteBuffer buffer) {
        if (buffer == null) {
            return null;
        }
        ByteBuffer source = buffer.duplicate();
        ByteBuffer copy = ByteBuffer.allocate(source.remaining());
        copy.put(source).flip();
        return copy;
    }

    private KafkaProducer<String, DeadLetter> producer() {
        if (producer == null) {
            Properties props = new Properties();
            props.putAll(kafka);
            props.put(ProducerConfig.CLIENT_ID_CONFIG, "pmig-dlq-" + stage.replaceAll("[^A-Za-z0-9._-]", "-"));
            props.put(ProducerConfig.ACKS_CONFIG, "all");
            props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
            producer = new KafkaProducer<>(props, new StringSerializer(), Topic.DLQ.<DeadLetter>serde().serializer());
        }
        return producer;
    }

    @Override
    public synchronized void close() {
        if (producer != null) {
            producer.close(Duration.ofSeconds(10));
            producer = null;
        }
    }
}
