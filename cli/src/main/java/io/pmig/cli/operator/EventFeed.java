package io.pmig.cli.operator;

import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationEvent;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads pmig.events without a consumer group (operators' tools must not steal partitions from anyone).
 * Open it before sending a command, so no event about the command can be missed.
 */
public final class EventFeed implements AutoCloseable {

    private final KafkaConsumer<String, MigrationEvent> consumer;

    private EventFeed(Properties clientProperties, boolean fromBeginning) {
        Properties props = (Properties) clientProperties.clone();
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        consumer = new KafkaConsumer<>(props, new StringDeserializer(), Topic.EVENTS.<MigrationEvent>serde().deserializer());
        String topic = Topic.EVENTS.topicName();
        List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                .map(p -> new TopicPartition(topic, p.partition())).toList();
        consumer.assign(partitions);
        if (fromBeginning) {
            consumer.seekToBeginning(partitions);
        } else {
            consumer.seekToEnd(partitions);
        }
        partitions.forEach(consumer::position); // resolve now: events sent after this call are all seen
    }

    public static EventFeed fromNow(Properties clientProperties) {
        return new EventFeed(clientProperties, false);
    }

    public static EventFeed fromBeginning(Properties clientProperties) {
        return new EventFeed(clientProperties, true);
    }

    public List<MigrationEvent> poll(Duration timeout) {
        List<MigrationEvent> events = new java.util.ArrayList<>();
        consumer.poll(timeout).forEach(record -> {
            if (record.value() != null) {
                events.add(record.value());
            }
        });
        return events;
    }

    /** True when every partition has been read up to its current end. */
    public boolean caughtUp() {
        var end = consumer.endOffsets(consumer.assignment());
        return consumer.assignment().stream().allMatch(p -> consumer.position(p) >= end.get(p));
    }

    /**
     * Passes events to {@code onEvent} until one satisfies {@code last} (returned) or the timeout passes (null).
     */
    public MigrationEvent follow(Predicate<MigrationEvent> interesting, java.util.function.Consumer<MigrationEvent> onEvent,
                                 Predicate<MigrationEvent> last, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (MigrationEvent event : poll(Duration.ofMillis(200))) {
                if (interesting.test(event)) {
                    onEvent.accept(event);
                    if (last.test(event)) {
                        return event;
                    }
                }
            }
        }
        return null;
    }

    @Override
    public void close() {
        consumer.close(Duration.ofSeconds(2));
    }
}
