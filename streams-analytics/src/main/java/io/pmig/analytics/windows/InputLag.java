package io.pmig.analytics.windows;

import io.pmig.platform.topics.Topic;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.streams.KafkaStreams;

/**
 * Whether this instance's consumer is behind on a partition of pmig.metrics: records there it has not fetched yet.
 * The window processor asks before it judges silence by the wall clock, because a partition's samples can wait unread
 * for seconds while the consumer serves other partitions (a backlog, a warming JIT): those nodes are unread, not
 * silent. Read from the consumer's own {@code records-lag} metric (end offset minus fetch position at the partition's
 * latest fetch); without a running instance (TopologyTestDriver, replays) it never knows, so silence is judged as before.
 */
public interface InputLag {

    /** Whether the consumer last saw records of pmig.metrics partition {@code partition} it had not fetched; false if unknown. */
    boolean behind(int partition);

    /** A task of the partition (re)started: what was known of an earlier assignment no longer holds. */
    default void forget(int partition) {
    }

    /** Never behind: silence judged by the wall clock alone. */
    InputLag UNKNOWN = partition -> false;

    /** Reads the metric from an instance attached once it is built ({@link ConsumerLag#attach}). */
    static ConsumerLag ofConsumer() {
        return new ConsumerLag();
    }

    /** The main consumer's {@code records-lag} of each pmig.metrics partition of one KafkaStreams instance. */
    final class ConsumerLag implements InputLag {

        /** Looked up again this often: a partition's metric is replaced when it is assigned anew. */
        private static final long LOOKUP_EVERY_MS = 5_000;
        /** Until the partition's first fetch there is no metric: looked for again this soon (a start-up backlog). */
        private static final long MISSING_LOOKUP_EVERY_MS = 200;

        private record Found(Metric metric, long atMs) {
        }

        private volatile KafkaStreams streams;
        private final Map<Integer, Found> found = new ConcurrentHashMap<>();

        private ConsumerLag() {
        }

        /** The instance whose consumer to read; before this, nothing is known. */
        public void attach(KafkaStreams streams) {
            this.streams = streams;
        }

        @Override
        public boolean behind(int partition) {
            KafkaStreams instance = streams;
            if (instance == null) {
                return false;
            }
            long now = System.currentTimeMillis();
            Found known = found.get(partition);
            if (known == null || now - known.atMs() > (known.metric() == null ? MISSING_LOOKUP_EVERY_MS : LOOKUP_EVERY_MS)) {
                known = new Found(lookup(instance, partition), now);
                found.put(partition, known);
            }
            if (known.metric() == null) {
                return false;
            }
            Object lag = known.metric().metricValue();
            return lag instanceof Number records && records.doubleValue() > 0;
        }

        @Override
        public void forget(int partition) {
            found.remove(partition);
        }

        private static Metric lookup(KafkaStreams instance, int partition) {
            String topic = Topic.METRICS.topicName();
            String tagged = topic.replace('.', '_'); // how the consumer tags its per-partition metrics
            String number = String.valueOf(partition);
            for (Map.Entry<MetricName, ? extends Metric> entry : instance.metrics().entrySet()) {
                MetricName name = entry.getKey();
                String of = name.tags().get("topic");
                if (name.name().equals("records-lag") && name.group().equals("consumer-fetch-manager-metrics")
                        && (topic.equals(of) || tagged.equals(of)) && number.equals(name.tags().get("partition"))) {
                    return entry.getValue();
                }
            }
            return null;
        }
    }
}
