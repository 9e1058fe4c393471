package io.pmig.cli.operator;

import io.pmig.platform.commands.CommandRouting;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationCommand;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.KafkaProducer;

/**
 * An operator command's way to its executor and back: the event feed (positioned at the end before the command goes
 * out, so no answer is missed) and the producer, both opened in the background as soon as the command starts. Their
 * set-up - two Kafka clients, each a metadata round trip - then overlaps the command's own checks (broker, node
 * registry, where the workload runs) instead of following them (README, Performance: operator commands).
 */
final class CommandChannel implements AutoCloseable {

    /** Daemon threads: a command refused by its checks exits at once, whatever the clients are still waiting for. */
    private static final Executor BACKGROUND = task -> {
        Thread thread = new Thread(task, "pmig-command-channel");
        thread.setDaemon(true);
        thread.start();
    };

    private final CompletableFuture<EventFeed> feed;
    private final CompletableFuture<KafkaProducer<String, MigrationCommand>> producer;

    private CommandChannel(Properties clientProperties) {
        feed = inBackground(() -> EventFeed.fromNow(clientProperties));
        producer = inBackground(() -> {
            var opened = CommandPublisher.producer(clientProperties);
            opened.partitionsFor(Topic.COMMANDS.topicName()); // the metadata now, not at the send
            return opened;
        });
    }

    /** Runs a step of an operator command beside its others (a Kafka client's start-up is mostly waiting). */
    static <T> CompletableFuture<T> inBackground(Supplier<T> step) {
        return CompletableFuture.supplyAsync(step, BACKGROUND);
    }

    /** Starts opening both clients; the caller goes on with its checks meanwhile. */
    static CommandChannel open(Properties clientProperties) {
        return new CommandChannel(clientProperties);
    }

    /** The feed, once open; events about the command sent afterwards are all in it. */
    EventFeed events() {
        return join(feed);
    }

    /** Publishes the command, keyed by the node that acts on it (see {@link CommandRouting}), once the feed is open. */
    void send(MigrationCommand command) {
        events();
        CommandPublisher.send(join(producer), command);
    }

    /** The step's result, or the exception it threw, as thrown. */
    static <T> T join(CompletableFuture<T> step) {
        try {
            return step.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException cause ? cause : e;
        }
    }

    /** Closes what opened; a client still opening is left to its daemon thread. */
    @Override
    public void close() {
        feed.thenAccept(EventFeed::close);
        producer.thenAccept(p -> p.close(Duration.ofSeconds(5)));
    }
}
