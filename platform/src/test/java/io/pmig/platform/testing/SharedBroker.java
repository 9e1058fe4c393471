package io.pmig.platform.testing;

import io.pmig.broker.EmbeddedBroker;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.topics.TopicCreator;
import java.util.Properties;

/**
 * One real embedded Kafka broker per test JVM, started on first use with pmig's topics created, stopped by
 * the broker's own shutdown hook. Integration tests in every module share it (platform's test-jar).
 */
public final class SharedBroker {

    private static EmbeddedBroker broker;

    private SharedBroker() {
    }

    public static synchronized EmbeddedBroker get() {
        if (broker == null) {
            broker = EmbeddedBroker.start(0, null);
            TopicCreator.ensureTopics(clientProperties());
        }
        return broker;
    }

    public static String bootstrapServers() {
        return get().bootstrapServers();
    }

    /** Fresh client properties pointing at the shared broker. */
    public static Properties clientProperties() {
        return KafkaClientOptions.of(get().bootstrapServers()).clientProperties();
    }
}
