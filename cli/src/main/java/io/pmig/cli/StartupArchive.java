package io.pmig.cli;

import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * What {@code bin/pmig} runs once after each build under {@code -XX:ArchiveClassesAtExit}, to make the class-data archive
 * that every later command starts from: it loads what an operator command loads - the whole command line, the Kafka
 * admin, consumer and producer, the Avro records - without a cluster. A JVM that maps those classes instead of loading
 * them starts pmig's commands in about half the CPU time (measured in the README's figures for migrate).
 */
public final class StartupArchive {

    private StartupArchive() {
    }

    public static void main(String[] args) throws Exception {
        io.pmig.schemas.serde.SchemaCatalog.trustPmigClasses();
        var commandLine = Pmig.commandLine();
        io.pmig.platform.config.OptionTypes.install(commandLine);
        commandLine.parseArgs("migrate", "w", "--to", "n", "--mode", "lazy", "--timeout", "2m");
        MigrationCommand command = io.pmig.cli.operator.OperatorCommands.migrateCommand("w", "a", "b",
                io.pmig.schemas.MigrationMode.LAZY, io.pmig.cli.operator.OperatorCommands.operatorReason("archive"), "pmig", Duration.ofMinutes(1));
        var serde = Topic.COMMANDS.<MigrationCommand>serde();
        serde.deserializer().deserialize(Topic.COMMANDS.topicName(), serde.serializer().serialize(Topic.COMMANDS.topicName(), command));
        Properties props = new Properties();
        // nothing listens on port 1 of loopback: every client fails fast, after its classes are loaded
        props.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:1");
        props.put(CommonClientConfigs.DEFAULT_API_TIMEOUT_MS_CONFIG, "300");
        props.put(CommonClientConfigs.REQUEST_TIMEOUT_MS_CONFIG, "300");
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "300");
        try (Admin admin = Admin.create(props)) {
            admin.describeCluster().nodes().get(300, TimeUnit.MILLISECONDS);
        } catch (Exception expected) {
            // no broker, by design
        }
        try (var consumer = new KafkaConsumer<>(props, new StringDeserializer(), Topic.EVENTS.<MigrationEvent>serde().deserializer())) {
            consumer.partitionsFor(Topic.EVENTS.topicName(), Duration.ofMillis(300));
        } catch (Exception expected) {
            // no broker, by design
        }
        try (var producer = new KafkaProducer<>(props, new StringSerializer(), Topic.COMMANDS.<MigrationCommand>serde().serializer())) {
            producer.partitionsFor(Topic.COMMANDS.topicName());
        } catch (Exception expected) {
            // no broker, by design
        }
    }
}
