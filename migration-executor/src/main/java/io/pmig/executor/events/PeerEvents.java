package io.pmig.executor.events;

import io.pmig.platform.topics.DeadLetterPublisher;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationEvent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * What the other nodes say about migrations, read live from pmig.events: a source waits here for its
 * destination's PREPARED, a destination for its source's end. Reading starts at the end of the topic when the
 * executor starts (no consumer group: every executor needs every event); events are kept per migration for a
 * while so one that arrives before anybody waits for it is not missed.
 */
public final class PeerEvents implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PeerEvents.class);
    private static final long KEEP_MS = 15 * 60 * 1000;

    private final KafkaConsumer<String, MigrationEvent> consumer;
    private final String node;
    private final Map<String, List<MigrationEvent>> byMigration = new HashMap<>();
    private final Thread thread;
    private final DeadLetterPublisher deadLetters;
    private final List<java.util.function.Consumer<MigrationEvent>> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile boolean running = true;

    public PeerEvents(Properties kafka, String node) {
        Properties props = new Properties();
        props.putAll(kafka);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "pmig-executor-" + node + "-events");
        this.consumer = new KafkaConsumer<>(props, new StringDeserializer(), Topic.EVENTS.<MigrationEvent>serde().deserializer());
        this.node = node;
        this.deadLetters = new DeadLetterPublisher(kafka, "executor " + node + " events");
        List<TopicPartition> partitions = consumer.partitionsFor(Topic.EVENTS.topicName()).stream()
                .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToEnd(partitions);
        partitions.forEach(consumer::position); // resolve now: later events are seen, earlier ones are history
        this.thread = new Thread(this::loop, "pmig-executor-" + node + "-events");
        thread.setDaemon(true);
        thread.start();
    }

    private void loop() {
        MDC.put("node", node);
        try {
            while (running) {
                ConsumerRecords<String, MigrationEvent> records;
                try {
                    records = consumer.poll(Duration.ofMillis(200));
                } catch (RecordDeserializationException e) {
                    deadLetters.skip(consumer, e); // else every later poll fails on the same record
                    continue;
                }
                if (records.isEmpty()) {
                    continue;
                }
                long now = System.currentTimeMillis();
                synchronized (this) {
                    for (ConsumerRecord<String, MigrationEvent> r : records) {
                        MigrationEvent e = r.value();
                        if (e != null && !node.equals(e.getNode())) {
                            byMigration.computeIfAbsent(e.getMigrationId(), k -> new ArrayList<>()).add(e);
                        }
                    }
                    byMigration.values().removeIf(list -> now - list.get(list.size() - 1).getTimestampMs() > KEEP_MS);
                    notifyAll();
                }
                for (ConsumerRecord<String, MigrationEvent> r : records) {
                    if (r.value() != null && !node.equals(r.value().getNode())) {
                        listeners.forEach(l -> l.accept(r.value()));
                    }
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            log.error("events reader stopped: {}", e.toString(), e);
        } finally {
            consumer.close();
            deadLetters.close();
        }
    }

    /** The first event of another node about this migration that matches, waiting up to the timeout. */
    public synchronized Optional<MigrationEvent> await(String migrationId, Predicate<MigrationEvent> match, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Optional<MigrationEvent> found = find(migrationId, match);
            long left = deadline - System.nanoTime();
            if (found.isPresent() || left <= 0) {
                return found;
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }

    public synchronized Optional<MigrationEvent> find(String migrationId, Predicate<MigrationEvent> match) {
        return byMigration.getOrDefault(migrationId, List.of()).stream().filter(match).findFirst();
    }

    /** Called on the reader thread with every other node's event from now on; it must hand real work off. */
    public void listen(java.util.function.Consumer<MigrationEvent> listener) {
        listeners.add(listener);
    }

    public synchronized void forget(String migrationId) {
        byMigration.remove(migrationId);
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
