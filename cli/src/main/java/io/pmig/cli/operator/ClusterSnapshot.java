package io.pmig.cli.operator;

import io.pmig.executor.events.WorkloadPlacement;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.Phase;
import io.pmig.schemas.ProcessSample;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * What the cluster looks like from its topics: each node's latest metrics (recent pmig.metrics records) and
 * where each workload lives (folded from pmig.events). Read without a consumer group.
 */
public final class ClusterSnapshot {

    /**
     * Where a workload is, according to the last event that moved it. {@code lastPhase} LOST: it runs nowhere, last
     * seen on {@code node}, and {@code reason} says why (until an operator forgets it).
     */
    public record Location(String workloadId, String node, int pid, String lastPhase, long sinceMs, String reason) {

        public Location(String workloadId, String node, int pid, String lastPhase, long sinceMs) {
            this(workloadId, node, pid, lastPhase, sinceMs, "");
        }

        public boolean lost() {
            return "LOST".equals(lastPhase);
        }
    }

    private final Map<String, NodeMetrics> latestByNode;
    private final Map<String, Location> workloads;
    private final long takenAtMs;

    private ClusterSnapshot(Map<String, NodeMetrics> latestByNode, Map<String, Location> workloads, long takenAtMs) {
        this.latestByNode = latestByNode;
        this.workloads = workloads;
        this.takenAtMs = takenAtMs;
    }

    public static ClusterSnapshot read(Properties clientProperties, Duration metricsLookback) {
        long now = System.currentTimeMillis();
        return new ClusterSnapshot(latestMetrics(clientProperties, now - metricsLookback.toMillis()),
                workloadLocations(clientProperties), now);
    }

    public Map<String, NodeMetrics> nodes() {
        return latestByNode;
    }

    public Map<String, Location> workloads() {
        return workloads;
    }

    public long takenAtMs() {
        return takenAtMs;
    }

    /** Where the workload runs now (metrics first, then events); never a node it was lost on. */
    public Optional<String> nodeOf(String workloadId) {
        for (NodeMetrics metrics : latestByNode.values()) {
            for (ProcessSample process : metrics.getProcesses()) {
                if (workloadId.equals(process.getWorkloadId())) {
                    return Optional.of(metrics.getNodeId());
                }
            }
        }
        return Optional.ofNullable(workloads.get(workloadId)).filter(l -> !l.lost()).map(Location::node);
    }

    /**
     * Where one workload runs now, read from its own partition of pmig.events (events are keyed by workload id), so the
     * cost does not grow with the cluster; recent metrics only when no event places it (its events expired). Empty when
     * it runs nowhere.
     */
    public static Optional<String> nodeOf(Properties clientProperties, String workloadId, Duration metricsLookback) {
        Map<String, Location> locations = new TreeMap<>();
        java.util.Set<String> givenUp = new java.util.HashSet<>();
        try (var consumer = consumer(clientProperties, Topic.EVENTS.<MigrationEvent>serde().deserializer())) {
            String topic = Topic.EVENTS.topicName();
            int partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).size();
            TopicPartition own = new TopicPartition(topic, Topic.partitionOf(workloadId, partitions));
            consumer.assign(List.of(own));
            consumer.seekToBeginning(List.of(own));
            drain(consumer, consumer.endOffsets(List.of(own)), record -> {
                MigrationEvent event = record.value();
                if (event != null && workloadId.equals(event.getWorkloadId())) {
                    fold(locations, givenUp, event);
                }
            });
        }
        Location location = locations.get(workloadId);
        if (location != null) {
            return location.lost() ? Optional.empty() : Optional.of(location.node());
        }
        return new ClusterSnapshot(latestMetrics(clientProperties, System.currentTimeMillis() - metricsLookback.toMillis()),
                Map.of(), 0).nodeOf(workloadId);
    }

    private static Map<String, NodeMetrics> latestMetrics(Properties clientProperties, long sinceMs) {
        Map<String, NodeMetrics> latest = new TreeMap<>();
        try (var consumer = consumer(clientProperties, Topic.METRICS.<NodeMetrics>serde().deserializer())) {
            List<TopicPartition> partitions = assignAll(consumer, Topic.METRICS.topicName());
            Map<TopicPartition, Long> times = new HashMap<>();
            partitions.forEach(p -> times.put(p, sinceMs));
            Map<TopicPartition, OffsetAndTimestamp> starts = consumer.offsetsForTimes(times);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            for (TopicPartition p : partitions) {
                OffsetAndTimestamp start = starts.get(p);
                consumer.seek(p, start == null ? ends.get(p) : start.offset());
            }
            drain(consumer, ends, record -> {
                NodeMetrics value = record.value();
                if (value != null) {
                    latest.merge(value.getNodeId(), value, (a, b) -> b.getTimestampMs() >= a.getTimestampMs() ? b : a);
                }
            });
        }
        return latest;
    }

    private static Map<String, Location> workloadLocations(Properties clientProperties) {
        Map<String, Location> locations = new TreeMap<>();
        java.util.Set<String> givenUp = new java.util.HashSet<>();
        try (var consumer = consumer(clientProperties, Topic.EVENTS.<MigrationEvent>serde().deserializer())) {
            List<TopicPartition> partitions = assignAll(consumer, Topic.EVENTS.topicName());
            consumer.seekToBeginning(partitions);
            drain(consumer, consumer.endOffsets(partitions), record -> {
                MigrationEvent event = record.value();
                if (event != null && !event.getWorkloadId().isEmpty()) {
                    fold(locations, givenUp, event);
                }
            });
        }
        return locations;
    }

    /**
     * The phases that say where a workload runs now; others (intermediate phases) change nothing. A COMPLETED of a
     * migration its destination gave up (seen in {@code givenUp}) is a late one and places nothing.
     */
    static void fold(Map<String, Location> locations, java.util.Set<String> givenUp, MigrationEvent event) {
        String id = event.getWorkloadId();
        if (WorkloadPlacement.givenUpByDestination(event)) {
            givenUp.add(event.getMigrationId());
        }
        if (event.getPhase() == Phase.COMPLETED && givenUp.contains(event.getMigrationId())) {
            return;
        }
        switch (event.getPhase()) {
            case LAUNCHED, RECOVERED -> locations.put(id, new Location(id, event.getNode(), event.getPid(),
                    event.getPhase().toString(), event.getTimestampMs()));
            case COMPLETED -> locations.put(id, new Location(id, event.getDestinationNode() != null
                    ? event.getDestinationNode() : event.getNode(), event.getPid(), "COMPLETED", event.getTimestampMs()));
            case ROLLED_BACK -> locations.put(id, new Location(id, event.getSourceNode() != null
                    ? event.getSourceNode() : event.getNode(), event.getPid(), "ROLLED_BACK", event.getTimestampMs()));
            case KILLED, EXITED, FORGOTTEN -> locations.remove(id); // not LAUNCH_FAILED: a refused launch moves nothing
            case LOST -> locations.put(id, lost(event));
            case FAILED -> {
                if (event.getError() != null && event.getError().startsWith("workload lost")) {
                    locations.put(id, lost(event));
                }
            }
            default -> {
            }
        }
    }

    private static Location lost(MigrationEvent event) {
        return new Location(event.getWorkloadId(), event.getNode(), 0, "LOST", event.getTimestampMs(),
                event.getError() == null ? "" : event.getError());
    }

    private static <V> KafkaConsumer<String, V> consumer(Properties clientProperties,
                                                         org.apache.kafka.common.serialization.Deserializer<V> values) {
        Properties props = (Properties) clientProperties.clone();
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        // reads up to an end and stops: a fetch must not sit at the broker waiting for data that is not coming
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "50");
        return new KafkaConsumer<>(props, new StringDeserializer(), values);
    }

    private static List<TopicPartition> assignAll(KafkaConsumer<?, ?> consumer, String topic) {
        List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                .map(p -> new TopicPartition(topic, p.partition())).toList();
        consumer.assign(partitions);
        return partitions;
    }

    private static <V> void drain(KafkaConsumer<String, V> consumer, Map<TopicPartition, Long> ends,
                                  java.util.function.Consumer<org.apache.kafka.clients.consumer.ConsumerRecord<String, V>> each) {
        long deadline = System.currentTimeMillis() + 30_000;
        while (ends.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())
                && System.currentTimeMillis() < deadline) {
            consumer.poll(Duration.ofMillis(200)).forEach(each);
        }
    }
}
