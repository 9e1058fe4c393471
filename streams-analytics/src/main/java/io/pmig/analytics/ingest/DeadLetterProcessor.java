package io.pmig.analytics.ingest;

import io.pmig.analytics.AnalyticsMeters;
import io.pmig.schemas.DeadLetter;
import java.nio.ByteBuffer;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns an input record that could not be decoded into a {@link DeadLetter} naming its topic, partition and
 * offset; processing carries on with the next record. The bytes were decoded by the source's
 * {@link DecodeAttempt#serde}, which never throws: a throwing Serde would stop the stream thread (or
 * silently skip with a log-and-continue handler), and decoding there lets the timestamp extractor and the
 * processors use the decoded record without decoding it again.
 */
public final class DeadLetterProcessor<T> implements FixedKeyProcessor<byte[], DecodeAttempt<T>, DeadLetter> {

    public static final String STAGE = "analytics";

    private static final Logger log = LoggerFactory.getLogger(DeadLetterProcessor.class);

    private final Class<T> type;
    private final AnalyticsMeters meters;
    private FixedKeyProcessorContext<byte[], DeadLetter> context;

    public DeadLetterProcessor(Class<T> type, AnalyticsMeters meters) {
        this.type = type;
        this.meters = meters;
    }

    @Override
    public void init(FixedKeyProcessorContext<byte[], DeadLetter> context) {
        this.context = context;
    }

    @Override
    public void process(FixedKeyRecord<byte[], DecodeAttempt<T>> record) {
        DecodeAttempt<T> attempt = record.value();
        String reason = attempt == null
                ? "null value (tombstone) where a " + type.getSimpleName() + " was expected"
                : attempt.failure();
        RecordMetadata source = context.recordMetadata().orElseThrow();
        log.warn("dead letter from {}-{}@{}: {}", source.topic(), source.partition(), source.offset(), reason);
        meters.deadLetter(source.topic());
        DeadLetter deadLetter = DeadLetter.newBuilder()
                .setSourceTopic(source.topic())
                .setPartition(source.partition())
                .setOffset(source.offset())
                .setKey(record.key() == null ? null : ByteBuffer.wrap(record.key()))
                .setValue(attempt == null ? null : ByteBuffer.wrap(attempt.bytes()))
                .setReason(reason == null ? "undecodable" : reason)
                .setStage(STAGE)
                .setTimestampMs(record.timestamp())
                .build();
        context.forward(record.withValue(deadLetter));
    }
}
