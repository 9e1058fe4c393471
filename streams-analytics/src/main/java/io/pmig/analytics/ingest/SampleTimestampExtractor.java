package io.pmig.analytics.ingest;

import io.pmig.schemas.NodeMetrics;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.streams.processor.TimestampExtractor;

/**
 * Stream time is the sample's own {@code timestampMs}, not the broker's append time, so a replay of
 * pmig.metrics windows exactly as the live run did. Reads the sample the source's
 * {@link DecodeAttempt#serde} already decoded. Undecodable records keep the Kafka timestamp (or the
 * partition's time) so that they still reach the dead-letter branch instead of being dropped here.
 */
public final class SampleTimestampExtractor implements TimestampExtractor {

    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
        if (record.value() instanceof DecodeAttempt<?> attempt && attempt.value() instanceof NodeMetrics sample) {
            long sampleTime = sample.getTimestampMs();
            if (sampleTime >= 0) {
                return sampleTime;
            }
        }
        if (record.timestamp() >= 0) {
            return record.timestamp();
        }
        return Math.max(partitionTime, 0);
    }
}
