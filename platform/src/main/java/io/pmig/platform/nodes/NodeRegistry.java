package io.pmig.platform.nodes;

import io.pmig.platform.topics.Topic;
import io.pmig.schemas.ClaimState;
import io.pmig.schemas.ExecutorClaim;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * The nodes of the cluster as their executors announced them on the compacted pmig.nodes: for each node id, the
 * executor that holds it. The topic is a log of claims; a claim becomes the holder only if it comes from the
 * holder itself (a heartbeat), names the holder as the one it takes over from, or finds no active holder - so of
 * two executors that race for one node id the first in the log wins and the other one's claim is void, whatever
 * order their writes reach the broker in. {@link #apply} is that rule; readers replay the log through it.
 */
public final class NodeRegistry {

    private final Map<String, ExecutorClaim> holders = new TreeMap<>();

    /** The current holder after {@code claim} was read, given the holder before it (null: none). */
    public static ExecutorClaim apply(ExecutorClaim holder, ExecutorClaim claim) {
        if (claim == null) {
            return null; // a tombstone: the node was removed from the registry
        }
        if (holder == null || holder.getState() != ClaimState.ACTIVE
                || holder.getIncarnation().equals(claim.getIncarnation())
                || holder.getIncarnation().equals(claim.getPreviousIncarnation())) {
            return claim;
        }
        return holder;
    }

    /** Applies one record of pmig.nodes; true if it changed the node's holder or its state. */
    public synchronized boolean accept(String node, ExecutorClaim claim) {
        ExecutorClaim before = holders.get(node);
        ExecutorClaim after = apply(before, claim);
        if (after == null) {
            holders.remove(node);
        } else {
            holders.put(node, after);
        }
        return after != before;
    }

    public synchronized Optional<ExecutorClaim> holder(String node) {
        return Optional.ofNullable(holders.get(node));
    }

    /** Every node id an executor has claimed and not removed, sorted. */
    public synchronized TreeSet<String> known() {
        return new TreeSet<>(holders.keySet());
    }

    /** "unknown node zz (known: a, b, c)", for the operator. */
    public String unknownNode(String node) {
        TreeSet<String> known = known();
        return "unknown node " + node + (known.isEmpty()
                ? " (no executor has registered on " + Topic.NODES.topicName() + " yet; start one with pmig executor --node " + node + ")"
                : " (known: " + String.join(", ", known) + ")");
    }

    /** Reads pmig.nodes from the beginning to its current end (a compacted topic: one record per node, roughly). */
    public static NodeRegistry read(Properties clientProperties, Duration timeout) {
        NodeRegistry registry = new NodeRegistry();
        Properties oneRead = (Properties) clientProperties.clone();
        // a read up to the end, then done: no fetch left waiting at the broker for records that are not coming
        oneRead.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "50");
        try (KafkaConsumer<String, ExecutorClaim> consumer = consumer(oneRead, "registry", timeout, null)) {
            registry.catchUp(consumer, timeout);
        }
        return registry;
    }

    /**
     * A group-less consumer of the one partition of pmig.nodes that {@code node}'s claims go to, from the beginning: what
     * an executor reads to fence its node id, a share of the registry that shrinks as the topic gets partitions.
     */
    public static KafkaConsumer<String, ExecutorClaim> consumerOf(Properties clientProperties, String node) {
        return consumer(clientProperties, "claim-" + node, Duration.ofSeconds(10), node);
    }

    /** A group-less consumer of pmig.nodes from the beginning: all of it, or only {@code onlyNode}'s partition. */
    private static KafkaConsumer<String, ExecutorClaim> consumer(Properties clientProperties, String purpose, Duration metadataWait,
                                                                 String onlyNode) {
        Properties props = (Properties) clientProperties.clone();
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        // a reader must not create pmig.nodes with the broker's defaults: the executors create it compacted
        props.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "pmig-nodes-" + purpose + "-" + UUID.randomUUID().toString().substring(0, 8));
        props.remove(ConsumerConfig.GROUP_ID_CONFIG);
        props.remove(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG);
        KafkaConsumer<String, ExecutorClaim> consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                Topic.NODES.<ExecutorClaim>serde().deserializer());
        String topic = Topic.NODES.topicName();
        List<TopicPartition> partitions = consumer.partitionsFor(topic, metadataWait).stream()
                .map(p -> new TopicPartition(topic, p.partition())).toList();
        if (onlyNode != null && !partitions.isEmpty()) {
            partitions = List.of(new TopicPartition(topic, Topic.partitionOf(onlyNode, partitions.size())));
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        return consumer;
    }

    /** Applies every record up to the partitions' end offsets as of now. */
    public void catchUp(KafkaConsumer<String, ExecutorClaim> consumer, Duration timeout) {
        Map<TopicPartition, Long> end = consumer.endOffsets(consumer.assignment(), timeout);
        long giveUp = System.nanoTime() + timeout.toNanos();
        while (end.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
            if (System.nanoTime() > giveUp) {
                throw new IllegalStateException("could not read " + Topic.NODES.topicName() + " to its end within "
                        + timeout.toMillis() + " ms");
            }
            for (ConsumerRecord<String, ExecutorClaim> record : consumer.poll(Duration.ofMillis(100))) {
                accept(record.key(), record.value());
            }
        }
    }

    /** One line about a holder: "host h1, pid 4242, transfer 10.0.0.1:7070, started 2026-11-30T19:00:00Z". */
    public static String describe(ExecutorClaim claim) {
        return "host " + claim.getHost() + ", pid " + claim.getPid() + ", transfer " + claim.getTransferEndpoint()
                + ", workdir " + claim.getWorkdir() + ", started " + Instant.ofEpochMilli(claim.getStartedAtMs())
                + ", last heartbeat " + Instant.ofEpochMilli(claim.getHeartbeatMs());
    }

    @Override
    public String toString() {
        return Objects.toString(known());
    }
}
