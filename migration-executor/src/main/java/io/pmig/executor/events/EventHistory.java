package io.pmig.executor.events;

import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.utils.Utils;

/**
 * The durable answer to "did this migration complete?": the destination publishes COMPLETED before the restored
 * workload resumes, and every event of a workload is in the partition its key hashes to, so reading that one
 * partition to its end decides whether the source may still roll back (a workload never runs twice).
 */
public final class EventHistory {

    private final Properties kafka;

    public EventHistory(Properties kafka) {
        this.kafka = kafka;
    }

    /**
     * True if the migration's destination committed: its last decisive event about the migration is COMPLETED. A
     * destination whose COMPLETED was not acknowledged in time kills its copy and publishes ROLLED_BACK after it, so
     * a COMPLETED that reached the log anyway is overruled by what follows it.
     */
    public boolean completed(String workloadId, String migrationId) {
        return last(workloadId, e -> migrationId.equals(e.getMigrationId())
                && (e.getPhase() == Phase.COMPLETED
                    || (e.getPhase() == Phase.ROLLED_BACK || e.getPhase() == Phase.FAILED)
                       && e.getNode().equals(e.getDestinationNode())))
                .map(e -> e.getPhase() == Phase.COMPLETED).orElse(false);
    }

    /** The last event about this workload that matches, reading its whole partition. */
    public java.util.Optional<MigrationEvent> last(String workloadId, java.util.function.Predicate<MigrationEvent> match) {
        Properties props = new Properties();
        props.putAll(kafka);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        try (KafkaConsumer<String, MigrationEvent> consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                Topic.EVENTS.<MigrationEvent>serde().deserializer())) {
            int partitions = consumer.partitionsFor(Topic.EVENTS.topicName()).size();
            // the producer's default partitioner for keyed records
            int partition = Utils.toPositive(Utils.murmur2(workloadId.getBytes(StandardCharsets.UTF_8))) % partitions;
            TopicPartition tp = new TopicPartition(Topic.EVENTS.topicName(), partition);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long end = consumer.endOffsets(List.of(tp)).get(tp);
            MigrationEvent found = null;
            while (consumer.position(tp) < end) {
                ConsumerRecords<String, MigrationEvent> records;
                try {
                    records = consumer.poll(Duration.ofMillis(500));
                } catch (RecordDeserializationException e) {
                    consumer.seek(e.topicPartition(), e.offset() + 1); // PeerEvents dead-letters it; history skips it
                    continue;
                }
                for (ConsumerRecord<String, MigrationEvent> r : records) {
                    MigrationEvent e = r.value();
                    if (e != null && r.offset() < end && workloadId.equals(e.getWorkloadId()) && match.test(e)) {
                        found = e;
                    }
                }
            }
            return java.util.Optional.ofNullable(found);
        }
    }
}
