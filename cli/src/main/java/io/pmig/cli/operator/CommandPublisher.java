package io.pmig.cli.operator;

import io.pmig.platform.commands.CommandRouting;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationCommand;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.StringSerializer;

/** Sends operator commands to pmig.commands, keyed by the node that acts on them (see {@link CommandRouting}). */
public final class CommandPublisher {

    private CommandPublisher() {
    }

    public static void send(Properties clientProperties, MigrationCommand command) {
        try (var producer = producer(clientProperties)) {
            send(producer, command);
        }
    }

    /** An idempotent producer of commands, every send acknowledged by all replicas. */
    static KafkaProducer<String, MigrationCommand> producer(Properties clientProperties) {
        Properties props = (Properties) clientProperties.clone();
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        return new KafkaProducer<>(props, new StringSerializer(), Topic.COMMANDS.<MigrationCommand>serde().serializer());
    }

    /** Sends through {@code producer} and waits for the broker's acknowledgement. */
    static void send(KafkaProducer<String, MigrationCommand> producer, MigrationCommand command) {
        try {
            producer.send(CommandRouting.record(command)).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("could not publish " + command.getKind() + " for " + command.getWorkloadId()
                    + ": " + (e.getCause() == null ? e : e.getCause()).getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while publishing a command", e);
        }
    }
}
