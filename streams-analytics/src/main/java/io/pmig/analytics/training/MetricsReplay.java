package io.pmig.analytics.training;

import io.pmig.platform.topics.Topic;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.serde.AvroSerde;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.avro.specific.SpecificRecordBase;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads pmig.metrics for a time range once, without a consumer group (partitions assigned, nothing
 * committed): from the offsets for {@code fromMs} (the first record whose Kafka timestamp is at or after it -
 * every record before it is older) or the beginning, up to the end as of the start of the replay. Records are
 * kept if their sample time is in range. Undecodable records are counted and skipped, as the topology dead-letters them.
 */
public final class MetricsReplay {

    private static final Logger log = LoggerFactory.getLogger(MetricsReplay.class);
    /** What a replay read. */
    public record Result(List<NodeMetrics> samples, long recordsRead, long undecodable) {
    }

    private MetricsReplay() {
    }

    /**
     * @param fromMs   first sample time to keep (inclusive), or null for the beginning of the topic
     * @param toMs     sample time to stop at (exclusive), or null for the end of the topic now
     * @param progress where to report progress (stderr in the CLI), or null
     */
    public static Result read(Properties clientProperties, Long fromMs, Long toMs, PrintStream progress) {
        List<NodeMetrics> samples = new ArrayList<>();
        Records<NodeMetrics> records = records(clientProperties, Topic.METRICS, fromMs, progress);
        for (NodeMetrics sample : records.values()) {
            long t = sample.getTimestampMs();
            if ((fromMs == null || t >= fromMs) && (toMs == null || t < toMs)) {
                samples.add(sample);
            }
        }
        if (progress != null) {
            progress.printf("replayed %s: %,d records, %,d samples in range, %,d undecodable%n",
                    Topic.METRICS.topicName(), records.read(), samples.size(), records.undecodable());
        }
        return new Result(samples, records.read(), records.undecodable());
    }

    /** Every decodable record of a topic, in each partition's order, and how many were read and could not be decoded. */
    public record Records<T>(List<T> values, long read, long undecodable) {
    }

    /**
     * Reads a pmig topic once, without a consumer group, from the offsets for {@code fromMs} (Kafka timestamps) or the
     * beginning, up to its end as of the start of the read. pmig.commands and pmig.events are read this way for the
     * migrations that censor windows ({@link Censoring}).
     */
    public static <T extends SpecificRecordBase> Records<T> records(Properties clientProperties, Topic topic, Long fromMs,
                                                                    PrintStream progress) {
        Properties props = (Properties) clientProperties.clone();
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "pmig-train-replay-" + UUID.randomUUID().toString().substring(0, 8));
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        AvroSerde<T> serde = topic.serde();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<PartitionInfo> infos = consumer.partitionsFor(topic.topicName(), Duration.ofSeconds(30));
            if (infos == null || infos.isEmpty()) {
                throw new IllegalStateException("topic " + topic.topicName() + " does not exist at "
                        + clientProperties.getProperty("bootstrap.servers"));
            }
            List<TopicPartition> partitions = infos.stream().map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            consumer.assign(partitions);
            Map<TopicPartition, Long> start = startOffsets(consumer, partitions, fromMs);
            // Read to the current end: record timestamps are not monotonic within a partition (an agent flushes what it
            // buffered through an outage with old sample times), so the first record past --to in log order does not
            // mean that no later record is still inside the range.
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, Duration.ofSeconds(30));
            long total = 0;
            for (TopicPartition partition : partitions) {
                long from = start.get(partition);
                consumer.seek(partition, from);
                total += Math.max(0, end.get(partition) - from);
            }
            Map<TopicPartition, Long> remaining = new HashMap<>();
            partitions.stream().filter(p -> end.get(p) > start.get(p)).forEach(p -> remaining.put(p, end.get(p)));
            consumer.pause(partitions.stream().filter(p -> !remaining.containsKey(p)).toList());

            List<T> values = new ArrayList<>();
            long read = 0;
            long undecodable = 0;
            long lastReport = System.currentTimeMillis();
            while (!remaining.isEmpty()) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    TopicPartition partition = new TopicPartition(record.topic(), record.partition());
                    Long stopAt = remaining.get(partition);
                    if (stopAt == null || record.offset() >= stopAt) {
                        continue;
                    }
                    read++;
                    try {
                        values.add(serde.decode(record.value()));
                    } catch (RuntimeException e) {
                        undecodable++;
                        log.debug("skipping undecodable record {}-{}@{}: {}", record.topic(), record.partition(), record.offset(), e.getMessage());
                    }
                    if (record.offset() + 1 >= stopAt) {
                        remaining.remove(partition);
                        consumer.pause(List.of(partition));
                    }
                }
                // Offsets can skip past the end (transaction markers, compaction): position is the truth.
                for (TopicPartition partition : List.copyOf(remaining.keySet())) {
                    if (consumer.position(partition) >= remaining.get(partition)) {
                        remaining.remove(partition);
                        consumer.pause(List.of(partition));
                    }
                }
                if (progress != null && System.currentTimeMillis() - lastReport >= 1000) {
                    progress.printf("replaying %s: %,d of %,d records%n", topic.topicName(), read, total);
                    lastReport = System.currentTimeMillis();
                }
            }
            return new Records<>(values, read, undecodable);
        }
    }

    private static Map<TopicPartition, Long> startOffsets(KafkaConsumer<?, ?> consumer, List<TopicPartition> partitions,
                                                          Long timeMs) {
        Duration timeout = Duration.ofSeconds(30);
        if (timeMs == null) {
            return consumer.beginningOffsets(partitions, timeout);
        }
        Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, timeout);
        Map<TopicPartition, Long> query = new HashMap<>();
        partitions.forEach(p -> query.put(p, timeMs));
        Map<TopicPartition, OffsetAndTimestamp> found = consumer.offsetsForTimes(query, timeout);
        Map<TopicPartition, Long> offsets = new HashMap<>();
        for (TopicPartition partition : partitions) {
            OffsetAndTimestamp at = found.get(partition);
            offsets.put(partition, at == null ? ends.get(partition) : at.offset()); // null: nothing that late
        }
        return offsets;
    }

}
