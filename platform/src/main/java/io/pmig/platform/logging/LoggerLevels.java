package io.pmig.platform.logging;

import java.util.ServiceLoader;

/**
 * Changes a logger's level at run time. The stages log through slf4j only, which has no such call; the logging backend
 * is chosen by the runnable jar (cli), which provides this through {@link ServiceLoader}. Without a provider (a stage's
 * own tests) the calls do nothing.
 */
public interface LoggerLevels {

    /** Only errors from loggers under {@code name} from now on. */
    void errorsOnly(String name);

    /** Only errors from the Kafka clients: operator commands print one line of their own instead of their retries. */
    static void quietKafkaClients() {
        ServiceLoader.load(LoggerLevels.class).forEach(levels -> levels.errorsOnly("org.apache.kafka"));
    }
}
