package io.pmig.analytics.ingest;

import io.pmig.schemas.serde.AvroSerde;
import java.util.function.Function;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * An input record's value as the source topic's deserializer leaves it: decoded, or the raw bytes and why
 * they could not be decoded. Decoding once, at the source, lets the timestamp extractor and the
 * processors share the result instead of each decoding the bytes again.
 *
 * @param value   the decoded record, or null
 * @param bytes   the raw value (kept for the dead letter)
 * @param failure why decoding failed, or null if it did not
 */
public record DecodeAttempt<T>(T value, byte[] bytes, String failure) {

    public boolean decoded() {
        return value != null;
    }

    /**
     * A source-only Serde that never throws: a failed decode becomes an attempt with a failure, which
     * {@link DeadLetterProcessor} turns into a dead letter naming the topic, partition and offset.
     */
    public static <T extends SpecificRecordBase> Serde<DecodeAttempt<T>> serde(Class<T> type) {
        return serde(type, record -> null);
    }

    /** As {@link #serde(Class)}; a decoded record for which {@code check} names a problem fails with that reason. */
    public static <T extends SpecificRecordBase> Serde<DecodeAttempt<T>> serde(Class<T> type, Function<T, String> check) {
        AvroSerde<T> avro = AvroSerde.of(type);
        Deserializer<DecodeAttempt<T>> deserializer = (topic, bytes) -> {
            if (bytes == null) {
                return null;
            }
            try {
                T value = avro.decode(bytes);
                String problem = check.apply(value);
                return problem == null ? new DecodeAttempt<>(value, bytes, null) : new DecodeAttempt<>(null, bytes, problem);
            } catch (RuntimeException e) {
                return new DecodeAttempt<>(null, bytes, e.getMessage() == null ? "undecodable" : e.getMessage());
            }
        };
        Serializer<DecodeAttempt<T>> serializer = (topic, attempt) -> {
            throw new UnsupportedOperationException("DecodeAttempt is only read from source topics");
        };
        return Serdes.serdeFrom(serializer, deserializer);
    }
}
