package io.pmig.executor.events;

import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * The durable answer to "did this migration complete?": the destination commits COMPLETED ({@link MigrationCommit})
 * before the restored workload resumes, and every event of a workload is in the partition its key hashes to, so
 * reading that one partition to its end - once the commit is settled - decides whether the source may still roll
 * back (a workload never runs twice).
 */
public final class EventHistory {

    /** How long a read waits for an open transaction in the partition to end before it gives up (and may be retried). */
    private static final Duration OPEN_TRANSACTION_WAIT = Duration.ofSeconds(60);

    private final Properties kafka;

    public EventHistory(Properties kafka) {
        this.kafka = kafka;
    }

    /**
     * True if the migration's destination committed: its COMPLETED is committed and it never gave the migration up.
     * Since COMPLETED is transactional a destination gives up only a commit that settled as never made; the give-up
     * rule stays for logs written by executors before that, whose plain COMPLETED could reach the log late.
     */
    public boolean completed(String workloadId, String migrationId) {
        List<MigrationEvent> events = all(workloadId, e -> migrationId.equals(e.getMigrationId()));
        return events.stream().anyMatch(e -> e.getPhase() == Phase.COMPLETED)
                && events.stream().noneMatch(WorkloadPlacement::givenUpByDestination);
    }

    /** The last event that places the workload ({@link WorkloadPlacement}), a given-up migration's COMPLETED skipped. */
    public java.util.Optional<MigrationEvent> lastPlacing(String workloadId) {
        List<MigrationEvent> events = all(workloadId, e -> true);
        java.util.Set<String> givenUp = new java.util.HashSet<>();
        events.stream().filter(WorkloadPlacement::givenUpByDestination).forEach(e -> givenUp.add(e.getMigrationId()));
        MigrationEvent found = null;
        for (MigrationEvent e : events) {
            if (WorkloadPlacement.places(e) && !(e.getPhase() == Phase.COMPLETED && givenUp.contains(e.getMigrationId()))) {
                found = e;
            }
        }
        return java.util.Optional.ofNullable(found);
    }

    /** The last event about this workload that matches, reading its whole partition. */
    public java.util.Optional<MigrationEvent> last(String workloadId, java.util.function.Predicate<MigrationEvent> match) {
        List<MigrationEvent> events = all(workloadId, match);
        return events.isEmpty() ? java.util.Optional.empty() : java.util.Optional.of(events.get(events.size() - 1));
    }

    /**
     * Every event about this workload that matches, in log order, reading its whole partition. Committed events only
     * (a COMPLETED whose transaction was aborted is not an event), up to everything written before the call: where a
     * transaction is still open in the partition the read waits until it ends (a commit's transaction is short, and
     * the coordinator aborts a forgotten one after its timeout).
     */
    public List<MigrationEvent> all(String workloadId, java.util.function.Predicate<MigrationEvent> match) {
        Properties props = new Properties();
        props.putAll(kafka);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        try (KafkaConsumer<String, MigrationEvent> consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                Topic.EVENTS.<MigrationEvent>serde().deserializer())) {
            int partitions = consumer.partitionsFor(Topic.EVENTS.topicName()).size();
            int partition = Topic.partitionOf(workloadId, partitions);
            TopicPartition tp = new TopicPartition(Topic.EVENTS.topicName(), partition);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long end = highWatermark(tp); // a read_committed end offset stops before any open transaction
            List<MigrationEvent> found = new java.util.ArrayList<>();
            long lastProgress = System.nanoTime();
            long position = consumer.position(tp);
            while (position < end) {
                if (System.nanoTime() - lastProgress > OPEN_TRANSACTION_WAIT.toNanos()) {
                    throw new IllegalStateException("the events of " + workloadId + " are held at offset " + position
                            + " by a transaction still open after " + OPEN_TRANSACTION_WAIT.toSeconds() + " s");
                }
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
                        found.add(e);
                    }
                }
                long now = consumer.position(tp);
                if (now > position) {
                    position = now;
                    lastProgress = System.nanoTime();
                }
            }
            return found;
        }
    }

    private long highWatermark(TopicPartition tp) {
        Properties props = new Properties();
        props.putAll(kafka);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            return consumer.endOffsets(List.of(tp)).get(tp);
        }
    }
}
