package io.pmig.platform.config;

import io.pmig.platform.logging.LoggerLevels;
import io.pmig.platform.topics.Topic;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.time.Duration;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import picocli.CommandLine.Option;

/**
 * The Kafka connection options every role shares (a picocli mixin): bootstrap servers plus arbitrary client
 * properties from a file and from {@code --property k=v}, so SASL/SSL and external clusters need no code.
 * Later sources win: file, then --property, then --bootstrap-server.
 */
public final class KafkaClientOptions {

    @Option(names = "--bootstrap-server", paramLabel = "HOST:PORT[,HOST:PORT...]", converter = OptionTypes.EndpointList.class,
            description = "Kafka bootstrap servers (default: ${DEFAULT-VALUE}).", defaultValue = "127.0.0.1:9092")
    String bootstrapServers;

    @Option(names = "--client-config", paramLabel = "FILE",
            description = "Kafka client properties file (security.protocol, sasl.*, ssl.*, ...).")
    Path clientConfigFile;

    @Option(names = "--property", paramLabel = "KEY=VALUE",
            description = "A Kafka client property; repeatable.")
    Map<String, String> properties = new LinkedHashMap<>();

    @Option(names = "--verbose", description = "Show the Kafka clients' warnings (connection attempts, retries).")
    boolean verbose;

    public KafkaClientOptions() {
    }

    public static KafkaClientOptions of(String bootstrapServers) {
        KafkaClientOptions options = new KafkaClientOptions();
        options.bootstrapServers = bootstrapServers;
        return options;
    }

    public KafkaClientOptions with(String key, String value) {
        properties.put(key, value);
        return this;
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    /**
     * The client properties of a command an operator runs and waits for (ps, migrate, ...): the brokers are asked
     * once, for at most {@code timeout}, so a cluster that is not there is one line naming --bootstrap-server, not
     * 30 s of client warnings and a stack trace; the clients' warnings are shown only with --verbose.
     */
    public Properties reachableClientProperties(Duration timeout) {
        Properties props = clientProperties();
        quietUnlessVerbose();
        Properties probe = new Properties();
        probe.putAll(props);
        // a consumer, not an admin client: the command's own readers load the same classes, so the probe costs one
        // metadata round trip rather than a second client's start-up
        probe.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        probe.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, String.valueOf(timeout.toMillis()));
        try (var consumer = new KafkaConsumer<>(probe, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.partitionsFor(Topic.NODES.topicName(), timeout);
        } catch (KafkaException e) {
            throw unreachable(timeout, e);
        }
        return props;
    }

    /** The one line for a cluster that did not answer within {@code waited} (the cause only with --verbose). */
    public ConfigException unreachable(Duration waited, Exception cause) {
        return new ConfigException("--bootstrap-server", "no Kafka broker answered at " + bootstrapServers + " within "
                + waited.toSeconds() + " s: start one (bin/pmig broker) or name yours" + (verbose ? " (" + cause + ")" : ""));
    }

    /** Keeps the Kafka clients' warnings (connection attempts, retries) off the terminal unless --verbose. */
    public void quietUnlessVerbose() {
        if (!verbose) {
            LoggerLevels.quietKafkaClients();
        }
    }

    /** A fresh copy of the client properties; callers add their role's own settings. */
    public Properties clientProperties() {
        Properties props = new Properties();
        if (clientConfigFile != null) {
            try (Reader reader = Files.newBufferedReader(clientConfigFile)) {
                props.load(reader);
            } catch (IOException e) {
                throw new ConfigException("--client-config", "cannot read " + clientConfigFile + ": " + e.getMessage());
            }
        }
        props.putAll(properties);
        if (bootstrapServers == null || bootstrapServers.isBlank()) {
            throw new ConfigException("--bootstrap-server", "must name at least one HOST:PORT");
        }
        HostPort.parseList("--bootstrap-server", bootstrapServers); // every role's HOST:PORT, one way
        props.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        return props;
    }
}
