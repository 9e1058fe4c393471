package io.pmig.platform.commands;

import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationCommand;
import java.util.Objects;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Where a command goes on pmig.commands. Each command is keyed by the node that acts on it first - LAUNCH and
 * RECOVER by their destination, MIGRATE, KILL and CHECKPOINT by their source - so the producer's default
 * partitioner puts it in that node's partition, and an executor reads only the partition its node id hashes to
 * ({@link #partition}), not the whole topic. The destination of a MIGRATE gets its own copy, keyed by itself, from
 * the source once the source has taken the command on ({@link #toDestination}): the producers write every command
 * once, and a source that refuses leaves its destination untouched.
 */
public final class CommandRouting {

    private CommandRouting() {
    }

    /** The node a producer addresses: the one that acts on the command first. */
    public static String addressee(MigrationCommand command) {
        CharSequence node = switch (command.getKind()) {
            case LAUNCH, RECOVER -> command.getDestinationNode();
            default -> command.getSourceNode();
        };
        return node == null ? command.getWorkloadId() : node.toString();
    }

    /** The record a producer writes: keyed by the command's addressee. */
    public static ProducerRecord<String, MigrationCommand> record(MigrationCommand command) {
        return new ProducerRecord<>(Topic.COMMANDS.topicName(), addressee(command), command);
    }

    /** The copy of a MIGRATE its source forwards to the destination, keyed by the destination. */
    public static ProducerRecord<String, MigrationCommand> toDestination(MigrationCommand command) {
        return new ProducerRecord<>(Topic.COMMANDS.topicName(), command.getDestinationNode().toString(), command);
    }

    /** True if this record is a source's copy of a MIGRATE for its destination (readers counting commands skip it). */
    public static boolean isDestinationCopy(String key, MigrationCommand command) {
        return command.getDestinationNode() != null && Objects.equals(key, command.getDestinationNode().toString())
                && !Objects.equals(key, addressee(command));
    }

    /** The partition of pmig.commands a node's commands go to: the producer's default partitioner for its key. */
    public static int partition(String node, int partitions) {
        return Topic.partitionOf(node, partitions);
    }
}
