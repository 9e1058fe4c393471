package io.pmig.executor.events;

import io.pmig.platform.commands.CommandRouting;
import io.pmig.platform.topics.DeadLetterPublisher;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationEvent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * What the other nodes say about migrations, read live from pmig.events: a source waits here for its
 * destination's PREPARED, a destination for its source's end. Events are keyed by workload id (node id for
 * NODE_DOWN), so only the partitions of the keys this node watches are read, not the whole topic: a migration's
 * workload while it runs here ({@link #watch}), and the standing keys - this node's workloads and the nodes whose
 * checkpoints it holds ({@link #standing}). A partition newly watched is read from shortly before the watch's start
 * time (never before this reader started), so an event published before anybody waited for it is not missed; events
 * are kept per migration for a while.
 */
public final class PeerEvents implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PeerEvents.class);
    private static final long KEEP_MS = 15 * 60 * 1000;
    /** How far before a watch's start a partition is read: the clocks of the nodes that write events may differ. */
    static final long SKEW_MS = 30_000;
    private static final long STANDING_REFRESH_MS = 1_000;

    private final KafkaConsumer<String, MigrationEvent> consumer;
    private final String node;
    private final long startedMs;
    private final Map<String, List<MigrationEvent>> byMigration = new HashMap<>();
    private final Thread thread;
    private final DeadLetterPublisher deadLetters;
    private final List<java.util.function.Consumer<MigrationEvent>> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile boolean running = true;
    /** Watched keys and how many watch each (guarded by this). */
    private final Map<String, Integer> watched = new HashMap<>();
    /** The earliest time each watched key's partition must be read from, kept while it is watched (guarded by this). */
    private final Map<String, Long> wantedFrom = new HashMap<>();
    private volatile Supplier<Collection<String>> standing = List::of;
    private volatile boolean reassign;
    // reader thread only
    private final Map<TopicPartition, Long> readFrom = new HashMap<>();
    private final LinkedHashMap<String, Long> delivered = new LinkedHashMap<>();
    private long standingCheckedAt;
    private long recordsRead;
    private final ReaderOutages readerOutages = new ReaderOutages(log, "events reader");

    public PeerEvents(Properties kafka, String node) {
        Properties props = new Properties();
        props.putAll(kafka);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.remove(ConsumerConfig.GROUP_ID_CONFIG);
        props.remove(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "pmig-executor-" + node + "-events");
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"); // an aborted COMPLETED is no event
        this.consumer = new KafkaConsumer<>(props, new StringDeserializer(), Topic.EVENTS.<MigrationEvent>serde().deserializer());
        this.node = node;
        this.startedMs = System.currentTimeMillis();
        this.deadLetters = new DeadLetterPublisher(kafka, "executor " + node + " events");
        consumer.partitionsFor(Topic.EVENTS.topicName()); // fail here, at start-up, if the topic cannot be read
        this.thread = new Thread(this::loop, "pmig-executor-" + node + "-events");
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Reads the events of this key (a workload id) from shortly before {@code sinceMs} until the returned watch is
     * closed. Returns at once: an event published in between is read all the same.
     */
    public Watch watch(String key, long sinceMs) {
        synchronized (this) {
            watched.merge(key, 1, Integer::sum);
            wantedFrom.merge(key, sinceMs, Math::min);
        }
        wake();
        return () -> unwatch(key);
    }

    /** The keys always read, asked again every second: this node's workloads, the nodes whose checkpoints it holds. */
    public void standing(Supplier<Collection<String>> keys) {
        this.standing = keys;
        wake();
    }

    /** A watch of one key; closing it lets the reader drop the key's partition if nothing else needs it. */
    public interface Watch extends AutoCloseable {
        @Override
        void close();
    }

    private void unwatch(String key) {
        synchronized (this) {
            if (watched.computeIfPresent(key, (k, n) -> n == 1 ? null : n - 1) == null) {
                wantedFrom.remove(key);
            }
        }
        wake();
    }

    private void wake() {
        reassign = true;
        consumer.wakeup();
        synchronized (this) {
            notifyAll();
        }
    }

    /** Records read from pmig.events so far (the partitions of the watched keys only). */
    public synchronized long recordsRead() {
        return recordsRead;
    }

    /**
     * Times the reader lost the brokers (a retriable error, e.g. a metadata timeout while the broker restarts) and
     * carried on once they answered again.
     */
    public long outages() {
        return readerOutages.outages();
    }

    /** This reader's outages, for the executor's meters. */
    public ReaderOutages readerOutages() {
        return readerOutages;
    }

    /** The partitions read right now. */
    public synchronized Set<TopicPartition> partitions() {
        return Set.copyOf(readFrom.keySet());
    }

    /** Assigns the partitions of the watched and standing keys; a partition new, or wanted from earlier, is sought back. */
    private void reconcile() {
        reassign = false;
        long now = System.currentTimeMillis();
        standingCheckedAt = now;
        int partitions = consumer.partitionsFor(Topic.EVENTS.topicName()).size();
        Map<TopicPartition, Long> wanted = new HashMap<>();
        Collection<String> standingKeys;
        try {
            standingKeys = standing.get();
        } catch (RuntimeException e) {
            log.warn("cannot list the standing keys of pmig.events: {}", e.toString());
            standingKeys = List.of();
        }
        for (String key : standingKeys) {
            wanted.merge(partition(key, partitions), now, Math::min);
        }
        synchronized (this) {
            // kept, not drained: a reconcile cut short by a wakeup must still seek back when it runs again
            wantedFrom.forEach((key, since) -> wanted.merge(partition(key, partitions), since, Math::min));
        }
        Map<TopicPartition, Long> seek = new HashMap<>();
        for (Map.Entry<TopicPartition, Long> entry : wanted.entrySet()) {
            long from = Math.max(startedMs, entry.getValue() - SKEW_MS);
            Long current = readFrom.get(entry.getKey());
            if (current == null || from < current) {
                seek.put(entry.getKey(), from);
            }
        }
        boolean changed = !readFrom.keySet().equals(wanted.keySet());
        if (changed) {
            consumer.assign(List.copyOf(wanted.keySet()));
            synchronized (this) {
                readFrom.keySet().retainAll(wanted.keySet());
            }
        }
        if (!seek.isEmpty()) {
            Map<TopicPartition, Long> end = consumer.endOffsets(seek.keySet()); // before: nothing later is skipped
            Map<TopicPartition, OffsetAndTimestamp> at = consumer.offsetsForTimes(seek);
            for (Map.Entry<TopicPartition, Long> entry : seek.entrySet()) {
                OffsetAndTimestamp found = at.get(entry.getKey());
                consumer.seek(entry.getKey(), found != null ? found.offset() : end.get(entry.getKey()));
                synchronized (this) {
                    readFrom.put(entry.getKey(), entry.getValue());
                }
            }
        }
    }

    private static TopicPartition partition(String key, int partitions) {
        return new TopicPartition(Topic.EVENTS.topicName(), CommandRouting.partition(key, partitions));
    }

    private void loop() {
        MDC.put("node", node);
        try {
            while (running) {
                ConsumerRecords<String, MigrationEvent> records;
                try {
                    if (reassign || System.currentTimeMillis() - standingCheckedAt >= STANDING_REFRESH_MS) {
                        reconcile();
                    }
                    if (readFrom.isEmpty()) {
                        readerOutages.succeeded(); // reconciled, and nothing to read until a key is watched
                        synchronized (this) {
                            if (!reassign && running) {
                                wait(STANDING_REFRESH_MS); // nothing to read until a key is watched
                            }
                        }
                        continue;
                    }
                    records = consumer.poll(Duration.ofMillis(200));
                    readerOutages.succeeded();
                } catch (WakeupException e) {
                    reassign = true; // a watch changed (a reconcile it cut short runs again), or closing
                    continue;
                } catch (RecordDeserializationException e) {
                    deadLetters.skip(consumer, e); // else every later poll fails on the same record
                    continue;
                } catch (InterruptException e) {
                    return; // closing
                } catch (KafkaException e) {
                    // the broker away (restarting, stalled) for longer than a metadata or offsets call waits, or an ACL
                    // being fixed: keep reading once it can, else every later migration here waits for events nobody
                    // delivers
                    backOff(e);
                    continue;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                if (records.isEmpty()) {
                    continue;
                }
                long now = System.currentTimeMillis();
                List<MigrationEvent> fresh = new ArrayList<>();
                synchronized (this) {
                    recordsRead += records.count();
                    for (ConsumerRecord<String, MigrationEvent> r : records) {
                        MigrationEvent e = r.value();
                        // a partition sought back is read again: each record counts once
                        if (e == null || node.equals(e.getNode())
                                || delivered.putIfAbsent(r.partition() + ":" + r.offset(), now) != null) {
                            continue;
                        }
                        byMigration.computeIfAbsent(e.getMigrationId(), k -> new ArrayList<>()).add(e);
                        fresh.add(e);
                    }
                    byMigration.values().removeIf(list -> now - list.get(list.size() - 1).getTimestampMs() > KEEP_MS);
                    for (Iterator<Long> it = delivered.values().iterator(); it.hasNext() && now - it.next() > KEEP_MS; ) {
                        it.remove();
                    }
                    notifyAll();
                }
                for (MigrationEvent e : fresh) {
                    for (var listener : listeners) {
                        try {
                            listener.accept(e);
                        } catch (RuntimeException failed) { // one listener's bug must not end the reader for all
                            log.error("events reader: a listener failed on {} {} of {}: {}", e.getPhase(),
                                    e.getMigrationId(), e.getWorkloadId(), failed.toString(), failed);
                        }
                    }
                }
            }
        } catch (RuntimeException | Error e) {
            readerOutages.died(e); // logged there, with the stack: the thread ends
        } finally {
            consumer.close();
            deadLetters.close();
        }
    }

    /** After a failed try: the pause {@link ReaderOutages} says; the partitions are reconciled again. */
    private void backOff(KafkaException e) {
        reassign = true; // a reconcile cut short (assigned, not yet sought) runs again
        long pause = readerOutages.failed(e);
        synchronized (this) {
            try {
                if (running) {
                    wait(pause);
                }
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt(); // the loop's next wait ends it
            }
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

    /** Called on the reader thread with every other node's event of a read partition from now on; it must hand real work off. */
    public void listen(java.util.function.Consumer<MigrationEvent> listener) {
        listeners.add(listener);
    }

    public synchronized void forget(String migrationId) {
        byMigration.remove(migrationId);
    }

    @Override
    public void close() {
        running = false;
        synchronized (this) {
            notifyAll();
        }
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
