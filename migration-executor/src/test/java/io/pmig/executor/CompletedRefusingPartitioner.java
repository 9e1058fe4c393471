package io.pmig.executor;

import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import java.util.Map;
import org.apache.kafka.clients.producer.Partitioner;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.utils.Utils;

/**
 * A Kafka partitioner (the stock {@code partitioner.class} client option) that refuses every COMPLETED event, as a
 * broker that never acknowledges it would: the producer's send fails at once. Every other record is partitioned by
 * its key, as Kafka's default does.
 */
public final class CompletedRefusingPartitioner implements Partitioner {

    @Override
    public int partition(String topic, Object key, byte[] keyBytes, Object value, byte[] valueBytes, Cluster cluster) {
        if (value instanceof MigrationEvent event && event.getPhase() == Phase.COMPLETED) {
            throw new KafkaException("test: COMPLETED is not acknowledged");
        }
        int partitions = cluster.partitionsForTopic(topic).size();
        return keyBytes == null ? 0 : Utils.toPositive(Utils.murmur2(keyBytes)) % partitions;
    }

    @Override
    public void close() {
    }

    @Override
    public void configure(Map<String, ?> configs) {
    }
}
