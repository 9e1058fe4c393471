package io.pmig.cli.broker;

import io.pmig.broker.EmbeddedBroker;
import io.pmig.platform.topics.TopicCreator;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code pmig broker}: a real Kafka broker in this process, for one-machine runs. */
@Command(name = "broker", mixinStandardHelpOptions = true,
        description = "Run a single-node Apache Kafka (KRaft) broker in-process and create pmig's topics.")
public final class BrokerCommand implements Callable<Integer> {

    @Option(names = "--port", defaultValue = "9092", description = "Client port on 127.0.0.1 (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "Keep topics and records here across restarts (default: a temporary dir removed on exit).")
    Path dataDir;

    @Option(names = "--broker-property", paramLabel = "KEY=VALUE", description = "Override a broker property; repeatable.")
    Map<String, String> overrides = new LinkedHashMap<>();

    @Option(names = "--topic-partitions", paramLabel = "TOPIC=N",
            description = "Create pmig's topic TOPIC with N partitions instead of its default (e.g. pmig.metrics=24); repeatable.")
    Map<String, String> topicPartitions = new LinkedHashMap<>();

    @Override
    public Integer call() throws Exception {
        if (port < 0 || port > 65535) {
            throw new io.pmig.platform.config.ConfigException("--port", port + " is not a TCP port (0-65535; 0 picks a free one)");
        }
        Map<io.pmig.platform.topics.Topic, Integer> partitions = TopicCreator.partitionCounts("--topic-partitions", topicPartitions);
        CountDownLatch stopped = new CountDownLatch(1);
        try (EmbeddedBroker broker = EmbeddedBroker.start(port, dataDir, overrides)) {
            TopicCreator.ensureTopics(io.pmig.platform.config.KafkaClientOptions.of(broker.bootstrapServers()).clientProperties(), partitions);
            System.out.println("pmig broker ready: bootstrap.servers=" + broker.bootstrapServers());
            System.out.flush();
            Runtime.getRuntime().addShutdownHook(new Thread(stopped::countDown));
            stopped.await();
        }
        return 0;
    }
}
