package io.pmig.platform.topics;

import io.pmig.schemas.DeadLetter;
import io.pmig.schemas.AddressClaim;
import io.pmig.schemas.CellSummary;
import io.pmig.schemas.ExecutorClaim;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.serde.AvroSerde;
import io.pmig.schemas.serde.SchemaCatalog;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.utils.Utils;

/**
 * Every topic pmig uses, in pipeline order, with its record type, key, partitions and configs. Partitions
 * of pmig.metrics bound how many analytics instances can share the work (one partition is processed by
 * one instance at a time).
 */
public enum Topic {
    METRICS("pmig.metrics", NodeMetrics.class, "node id", 6,
            Map.of(TopicConfig.RETENTION_MS_CONFIG, String.valueOf(7L * 24 * 3600 * 1000))),
    SCORES("pmig.scores", NodeScore.class, "node id", 6,
            Map.of(TopicConfig.RETENTION_MS_CONFIG, String.valueOf(24L * 3600 * 1000))),
    /**
     * Keyed by the node that acts on a command (CommandRouting); each executor reads only its node's partition, so
     * more partitions mean a smaller share per executor. A topic created before keeps its count (see the README).
     */
    COMMANDS("pmig.commands", MigrationCommand.class, "node id (the command's addressee)", 24, Map.of()),
    EVENTS("pmig.events", MigrationEvent.class, "workload id", 3, Map.of()),
    MODELS("pmig.models", ModelUpdate.class, "model name", 1,
            Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT,
                    TopicConfig.MAX_MESSAGE_BYTES_CONFIG, String.valueOf(64 * 1024 * 1024))),
    DLQ("pmig.dlq", DeadLetter.class, "source topic", 1, Map.of()),
    /**
     * The node registry and the executors' fence: the latest ExecutorClaim of each node id (see NodeClaim). Every
     * executor heartbeats here each second and reads only its own node's partition, so more partitions mean less for
     * each to read (one partition made that N executors each reading N heartbeats a second).
     */
    NODES("pmig.nodes", ExecutorClaim.class, "node id", 24,
            Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT,
                    TopicConfig.SEGMENT_MS_CONFIG, String.valueOf(3600L * 1000))),
    /** Which workload holds each address of the cluster's workload range (see AddressBook in the executor). */
    ADDRESSES("pmig.addresses", AddressClaim.class, "address|workload id", 1,
            Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT,
                    TopicConfig.SEGMENT_MS_CONFIG, String.valueOf(3600L * 1000))),
    /**
     * Each cell's latest summary for the analytics app's global balancer (see AnalyticsTopology): small, a few per cell
     * per minute; one partition, so one task balances.
     */
    CELLS("pmig.cells", CellSummary.class, "cell id", 1,
            Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT,
                    TopicConfig.SEGMENT_MS_CONFIG, String.valueOf(3600L * 1000)));

    static {
        SchemaCatalog.trustPmigClasses(); // every role touches the catalogue before building its first record
    }

    private final String topicName;
    private final Class<? extends SpecificRecordBase> recordType;
    private final String key;
    private final int partitions;
    private final Map<String, String> configs;

    Topic(String topicName, Class<? extends SpecificRecordBase> recordType, String key, int partitions,
          Map<String, String> configs) {
        this.topicName = topicName;
        this.recordType = recordType;
        this.key = key;
        this.partitions = partitions;
        this.configs = configs;
    }

    public String topicName() {
        return topicName;
    }

    public Class<? extends SpecificRecordBase> recordType() {
        return recordType;
    }

    /** What the record key holds, for documentation and the CLI. */
    public String key() {
        return key;
    }

    /**
     * The partition of a topic with {@code partitions} partitions that a record keyed {@code key} goes to: the producers'
     * default partitioner (murmur2 of the key's UTF-8 bytes). A reader that needs one key reads only that partition.
     */
    public static int partitionOf(String key, int partitions) {
        return Utils.toPositive(Utils.murmur2(key.getBytes(StandardCharsets.UTF_8))) % partitions;
    }

    public int partitions() {
        return partitions;
    }

    public Map<String, String> configs() {
        return configs;
    }

    /** Replication factor left to the cluster's default, so one definition fits the embedded broker and real clusters. */
    public NewTopic newTopic() {
        return newTopic(partitions);
    }

    /** As {@link #newTopic()} with another partition count: more partitions, more consumers sharing the topic. */
    public NewTopic newTopic(int partitionCount) {
        return new NewTopic(topicName, java.util.Optional.of(partitionCount), java.util.Optional.empty()).configs(configs);
    }

    @SuppressWarnings("unchecked")
    public <T extends SpecificRecordBase> AvroSerde<T> serde() {
        return AvroSerde.of((Class<T>) recordType);
    }

    public static Topic byName(String name) {
        for (Topic topic : values()) {
            if (topic.topicName.equals(name)) {
                return topic;
            }
        }
        throw new IllegalArgumentException("not a pmig topic: " + name);
    }
}
