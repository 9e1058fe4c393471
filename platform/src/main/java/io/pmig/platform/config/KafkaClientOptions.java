package io.pmig.platform.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.KafkaException;
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
        if (!verbose) {
            org.apache.logging.log4j.core.config.Configurator.setLevel("org.apache.kafka",
                    org.apache.logging.log4j.Level.ERROR);
        }
        Properties probe = new Properties();
        probe.putAll(props);
        probe.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, String.valueOf(timeout.toMillis()));
        probe.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, String.valueOf(timeout.toMillis()));
        try (Admin admin = Admin.create(probe)) {
            admin.describeCluster().nodes().get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException | KafkaException e) {
            throw new ConfigException("--bootstrap-server", "no Kafka broker answered at " + bootstrapServers + " within "
                    + timeout.toSeconds() + " s: start one (bin/pmig broker) or name yours" + (verbose ? " (" + e + ")" : ""));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ConfigException("--bootstrap-server", "interrupted while asking " + bootstrapServers);
        }
        return props;
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
