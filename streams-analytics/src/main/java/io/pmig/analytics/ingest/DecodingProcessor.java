package io.pmig.analytics.ingest;

import io.pmig.schemas.DeadLetter;
import io.pmig.schemas.serde.AvroSerde;
import java.nio.ByteBuffer;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decodes raw input bytes here rather than in a Serde: a Serde failure would stop the stream thread (or
 * silently skip with a log-and-continue handler), while this turns each undecodable record into a
 * {@link DeadLetter} naming its topic, partition and offset, and carries on with the next one.
 */
public final class DecodingProcessor<T extends SpecificRecordBase> implements FixedKeyProcessor<byte[], byte[], Decoded<T>> {

    public static final String STAGE = "analytics";

    private static final Logger log = LoggerFactory.getLogger(DecodingProcessor.class);

    private final AvroSerde<T> serde;
    private FixedKeyProcessorContext<byte[], Decoded<T>> context;

    public DecodingProcessor(Class<T> type) {
        this.serde = AvroSerde.of(type);
    }

    @Override
    public void init(FixedKeyProcessorContext<byte[], Decoded<T>> context) {
        this.context = context;
    }

    @Override
    public void process(FixedKeyRecord<byte[], byte[]> record) {
        String reason;
        if (record.value() == null) {
            reason = "null value (tombstone) where a " + serde.type().getSimpleName() + " was expected";
        } else {
            try {
                context.forward(record.withValue(Decoded.ok(serde.decode(record.value()))));
                return;
            } catch (RuntimeException e) {
                reason = e.getMessage();
            }
        }
        RecordMetadata source = context.recordMetadata().orElseThrow();
        log.warn("dead letter from {}-{}@{}: {}", source.topic(), source.partition(), source.offset(), reason);
        DeadLetter deadLetter = DeadLetter.newBuilder()
                .setSourceTopic(source.topic())
                .setPartition(source.partition())
                .setOffset(source.offset())
                .setKey(record.key() == null ? null : ByteBuffer.wrap(record.key()))
                .setValue(record.value() == null ? null : ByteBuffer.wrap(record.value()))
                .setReason(reason == null ? "undecodable" : reason)
                .setStage(STAGE)
                .setTimestampMs(record.timestamp())
                .build();
        context.forward(record.withValue(Decoded.dead(deadLetter)));
    }
}
