package io.pmig.executor.network;

import io.pmig.platform.topics.Topic;
import io.pmig.schemas.AddressClaim;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's workload addresses, allocated through the compacted, single-partition pmig.addresses: every claim is
 * a record keyed {@code <address>|<workload id>}, and of the live claims on one address the one earliest in the log
 * holds it. A claimant writes its claim, reads the log up to it, and keeps the address only if no earlier live claim
 * is there; otherwise it deletes its claim (tombstone) and tries another address. So two executors that pick the same
 * address at once both learn which of them got it, whatever order their writes reach the broker in, with no lock and
 * no coordinator; compaction keeps exactly the live claims (each key's last record), at their original offsets.
 */
public final class AddressBook implements AutoCloseable {

    private static final Duration READ_TIMEOUT = Duration.ofSeconds(15);
    private static final int ATTEMPTS = 16;
    private static final Logger log = LoggerFactory.getLogger(AddressBook.class);

    private final AddressRange range;
    private final String node;
    private final KafkaConsumer<String, AddressClaim> consumer;
    private final KafkaProducer<String, AddressClaim> producer;
    private final TopicPartition partition = new TopicPartition(Topic.ADDRESSES.topicName(), 0);
    /** Live claims per address, by offset: the first entry holds the address. */
    private final Map<Integer, TreeMap<Long, AddressClaim>> claims = new HashMap<>();
    /** Offset of each live key's record. */
    private final Map<String, Long> keys = new HashMap<>();

    /** {@code range}: where {@link #claim} picks addresses; null for a book that only releases. */
    public AddressBook(Properties clientProperties, AddressRange range, String node) {
        this.range = range;
        this.node = node;
        Properties c = (Properties) clientProperties.clone();
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        c.put(ConsumerConfig.CLIENT_ID_CONFIG, "pmig-addresses-" + node + "-" + UUID.randomUUID().toString().substring(0, 8));
        c.remove(ConsumerConfig.GROUP_ID_CONFIG);
        c.remove(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG);
        this.consumer = new KafkaConsumer<>(c, new StringDeserializer(), Topic.ADDRESSES.<AddressClaim>serde().deserializer());
        consumer.assign(List.of(partition));
        consumer.seekToBeginning(List.of(partition));
        Properties p = (Properties) clientProperties.clone();
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "pmig-addresses-" + node);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "10000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        this.producer = new KafkaProducer<>(p, new StringSerializer(), Topic.ADDRESSES.<AddressClaim>serde().serializer());
    }

    public AddressRange range() {
        return range;
    }

    /**
     * An address for {@code workloadId} (address/prefix): the one it already holds, else {@code requested} (A.B.C.D)
     * if given and free, else a free one. Throws {@link IllegalArgumentException} with the reason when none can be had.
     */
    public synchronized String claim(String workloadId, String commandId, String requested) {
        catchUp();
        Optional<Integer> held = addressOf(workloadId);
        if (held.isPresent() && (requested == null || held.get().equals(AddressRange.parseAddress(requested).orElse(null)))) {
            return range.withPrefix(held.get());
        }
        if (held.isPresent()) {
            send(key(held.get(), workloadId), null); // launched again with another address: one address per workload
            catchUp();
        }
        Integer wanted = null;
        if (requested != null) {
            wanted = AddressRange.parseAddress(requested).orElseThrow(() ->
                    new IllegalArgumentException("'" + requested + "' is not an IPv4 address A.B.C.D"));
            range.refusal(wanted).ifPresent(why -> {
                throw new IllegalArgumentException(why);
            });
        }
        int start = Math.floorMod(workloadId.hashCode() * 0x9E3779B9, range.size());
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            int address;
            if (wanted != null) {
                address = wanted;
                Optional<AddressClaim> holder = holder(address);
                if (holder.isPresent()) {
                    throw new IllegalArgumentException(AddressRange.format(address) + " is held by workload "
                            + holder.get().getWorkloadId() + " (launched on " + holder.get().getNode() + ")");
                }
            } else {
                address = free(start).orElseThrow(() -> new IllegalArgumentException("the workload range " + range
                        + " has no free address (" + range.size() + " addresses, all held)"));
            }
            String key = key(address, workloadId);
            long offset = send(key, AddressClaim.newBuilder().setAddress(AddressRange.format(address))
                    .setPrefixLength(range.prefixLength()).setWorkloadId(workloadId).setNode(node)
                    .setCommandId(commandId).setClaimedAtMs(System.currentTimeMillis()).build());
            catchUpTo(offset);
            AddressClaim holder = holder(address).orElseThrow();
            if (holder.getWorkloadId().equals(workloadId)) {
                return range.withPrefix(address);
            }
            log.info("address {} went to workload {} first; {} tries another", AddressRange.format(address),
                    holder.getWorkloadId(), workloadId);
            send(key, null);
            start = address - range.address(0) + 1;
        }
        throw new IllegalArgumentException("no address of " + range + " could be claimed for " + workloadId + " in "
                + ATTEMPTS + " attempts (other executors claimed each one first)");
    }

    /**
     * Gives back every address {@code workloadId} holds or claimed: it ended for good. Returns the addresses (A.B.C.D)
     * whose claims were deleted, none if it had none.
     */
    public synchronized List<String> release(String workloadId) {
        catchUp();
        List<String> released = new ArrayList<>();
        for (String key : List.copyOf(keys.keySet())) {
            if (key.endsWith("|" + workloadId)) {
                send(key, null);
                released.add(key.substring(0, key.indexOf('|')));
            }
        }
        return released;
    }

    /**
     * Gives back the addresses of a workload that runs nowhere (an operator forgot it after it was lost), from outside
     * any executor: what {@link #release} does, for a caller that does not know the workload range.
     */
    public static List<String> releaseLost(Properties clientProperties, String workloadId, String by) {
        try (AddressBook book = new AddressBook(clientProperties, null, by)) {
            return book.release(workloadId);
        }
    }

    /** The address {@code workloadId} holds (address/prefix), as of the last read of the log. */
    public synchronized Optional<String> held(String workloadId) {
        catchUp();
        return addressOf(workloadId).map(range::withPrefix);
    }

    private Optional<Integer> addressOf(String workloadId) {
        return claims.entrySet().stream()
                .filter(e -> e.getValue().firstEntry().getValue().getWorkloadId().equals(workloadId))
                .map(Map.Entry::getKey).findFirst();
    }

    private Optional<AddressClaim> holder(int address) {
        TreeMap<Long, AddressClaim> live = claims.get(address);
        return live == null || live.isEmpty() ? Optional.empty() : Optional.of(live.firstEntry().getValue());
    }

    private Optional<Integer> free(int start) {
        for (int i = 0; i < range.size(); i++) {
            int address = range.address(start + i);
            if (holder(address).isEmpty()) {
                return Optional.of(address);
            }
        }
        return Optional.empty();
    }

    private static String key(int address, String workloadId) {
        return AddressRange.format(address) + "|" + workloadId;
    }

    private long send(String key, AddressClaim claim) {
        try {
            return producer.send(new ProducerRecord<>(partition.topic(), 0, key, claim)).get(15, TimeUnit.SECONDS).offset();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while writing to " + partition.topic(), e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot write to " + partition.topic() + ": " + e.getMessage(), e);
        }
    }

    private void catchUp() {
        catchUpTo(consumer.endOffsets(List.of(partition), READ_TIMEOUT).get(partition) - 1);
    }

    /** Reads the log through {@code offset} (inclusive). */
    private void catchUpTo(long offset) {
        long giveUp = System.nanoTime() + READ_TIMEOUT.toNanos();
        while (consumer.position(partition, READ_TIMEOUT) <= offset) {
            if (System.nanoTime() > giveUp) {
                throw new IllegalStateException("could not read " + partition.topic() + " to offset " + offset + " within "
                        + READ_TIMEOUT.toMillis() + " ms");
            }
            for (ConsumerRecord<String, AddressClaim> record : consumer.poll(Duration.ofMillis(100))) {
                apply(record.key(), record.offset(), record.value());
            }
        }
    }

    private void apply(String key, long offset, AddressClaim claim) {
        Long previous = keys.remove(key);
        int bar = key.indexOf('|');
        Optional<Integer> address = bar < 0 ? Optional.empty() : AddressRange.parseAddress(key.substring(0, bar));
        if (address.isEmpty()) {
            log.warn("ignoring a record of {} with key '{}' (not <address>|<workload id>)", partition.topic(),
                    key);
            return;
        }
        TreeMap<Long, AddressClaim> live = claims.computeIfAbsent(address.get(), a -> new TreeMap<>());
        if (previous != null) {
            live.remove(previous);
        }
        if (claim != null) {
            live.put(offset, claim);
            keys.put(key, offset);
        }
        if (live.isEmpty()) {
            claims.remove(address.get());
        }
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
        consumer.close(Duration.ofSeconds(5));
    }
}
