package io.pmig.analytics.ingest;

import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.serde.AvroSerde;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.streams.processor.TimestampExtractor;

/**
 * Stream time is the sample's own {@code timestampMs}, not the broker's append time, so a replay of
 * pmig.metrics windows exactly as the live run did. Undecodable records keep the Kafka timestamp (or the
 * partition's time) so that they still reach the dead-letter branch instead of being dropped here.
 */
public final class SampleTimestampExtractor implements TimestampExtractor {

    private final AvroSerde<NodeMetrics> serde = AvroSerde.of(NodeMetrics.class);

    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
        if (record.value() instanceof byte[] bytes) {
            try {
                long sampleTime = serde.decode(bytes).getTimestampMs();
                if (sampleTime >= 0) {
                    return sampleTime;
                }
            } catch (RuntimeException e) {
                // reported as a dead letter by DecodingProcessor
            }
        }
        if (record.timestamp() >= 0) {
            return record.timestamp();
        }
        return Math.max(partitionTime, 0);
    }
}
