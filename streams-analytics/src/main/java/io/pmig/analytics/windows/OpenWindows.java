package io.pmig.analytics.windows;

import io.pmig.analytics.features.WindowSample;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.serde.AvroSerde;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The samples (as {@link WindowSample}s: what the features and reports read of them) and clock of each node of one
 * window task, in memory, written through to the changelogged stores of {@link NodeWindowProcessor}: the stores stay
 * the truth for exactly-once and fail-over, this copy only spares the hot path a store scan and an Avro decode per
 * window sample.
 *
 * <p>Built lazily: a node is read from the stores the first time it is touched, so a new instance of the
 * processor (after a restart, a rebalance or a revived task, whose stores were restored from their
 * changelogs) starts from exactly the committed state. Only samples at or after the node's oldest open
 * window start are read: {@link NodeWindowProcessor} deletes every older one in the same transaction that
 * moves the clock, so nothing older is ever in the store, and the scan never walks old tombstones.
 *
 * <p>Memory: one window length (plus grace) of samples per node, about 11 {@link WindowSample}s at 1 Hz.
 */
final class OpenWindows {

    /** One node: its clock (null until its first sample) and its retained samples by time. */
    static final class Node {
        private final String id;
        private NodeClock clock;
        /** The clock as last written to the store (or read from it); null if none is there. */
        private NodeClock stored;
        /** Compact, not the decoded NodeMetrics: they live a window length, long enough to be promoted (WindowSample). */
        private final TreeMap<Long, WindowSample> samples = new TreeMap<>();

        private Node(String id) {
            this.id = id;
        }

        String id() {
            return id;
        }

        NodeClock clock() {
            return clock;
        }

        /** The samples in {@code [fromMs, toMsExclusive)} in time order. */
        List<WindowSample> samplesBetween(long fromMs, long toMsExclusive) {
            if (toMsExclusive <= 0) {
                return new ArrayList<>();
            }
            return new ArrayList<>(samples.subMap(Math.max(fromMs, 0), true, toMsExclusive - 1, true).values());
        }

        Long firstSampleAtOrAfter(long fromMs) {
            return samples.ceilingKey(fromMs);
        }
    }

    private final KeyValueStore<Bytes, byte[]> samplesStore;
    private final AvroSerde<NodeMetrics> serde = AvroSerde.of(NodeMetrics.class);
    private final KeyValueStore<String, NodeClock> clocksStore;
    private final long windowSizeMs;
    /** By node id, so that the punctuator visits nodes in the clocks store's key order, as it did scanning it. */
    private final TreeMap<String, Node> nodes = new TreeMap<>();
    /** Whether every node in the clocks store has been loaded. */
    private boolean complete;

    OpenWindows(KeyValueStore<Bytes, byte[]> samplesStore, KeyValueStore<String, NodeClock> clocksStore, long windowSizeMs) {
        this.samplesStore = samplesStore;
        this.clocksStore = clocksStore;
        this.windowSizeMs = windowSizeMs;
    }

    Node node(String id) {
        Node node = nodes.get(id);
        return node != null ? node : load(id, clocksStore.get(id));
    }

    /** Every node that has a clock, in node id order; a snapshot, so callers may update nodes while iterating. */
    List<Node> allNodes() {
        if (!complete) {
            List<String> missing = new ArrayList<>();
            try (KeyValueIterator<String, NodeClock> all = clocksStore.all()) {
                all.forEachRemaining(entry -> {
                    if (!nodes.containsKey(entry.key)) {
                        missing.add(entry.key);
                    }
                });
            }
            missing.forEach(this::node);
            complete = true;
        }
        List<Node> withClock = new ArrayList<>(nodes.size());
        for (Node node : nodes.values()) {
            if (node.clock != null) {
                withClock.add(node);
            }
        }
        return withClock;
    }

    /** @param bytes the sample as it arrived, stored as is */
    void add(Node node, long timeMs, NodeMetrics sample, byte[] bytes) {
        samplesStore.put(NodeWindowProcessor.sampleKey(node.id, timeMs), bytes);
        Map.Entry<Long, WindowSample> newest = node.samples.lastEntry();
        // same time, same key: the later sample replaces it, as in the store
        node.samples.put(timeMs, WindowSample.of(sample, newest == null ? null : newest.getValue()));
    }

    /**
     * Sets the node's clock, writing it to the store only when what {@link NodeClock#restored} cannot recover changed:
     * the next window end, the DOWN mark, or a newest sample time that no retained sample holds (a late sample's).
     */
    void setClock(Node node, NodeClock clock) {
        NodeClock stored = node.stored;
        Long newestRetained = node.samples.isEmpty() ? null : node.samples.lastKey();
        if (stored == null || stored.nextWindowEndMs() != clock.nextWindowEndMs() || stored.down() != clock.down()
                || clock.maxSampleMs() > stored.maxSampleMs() && (newestRetained == null || clock.maxSampleMs() > newestRetained)) {
            clocksStore.put(node.id, clock);
            node.stored = clock;
        }
        node.clock = clock;
    }

    /**
     * Deletes the node's samples older than {@code beforeMs}: exactly the keys it holds, no range scan. A
     * put of null rather than {@code delete}, which would read and decode the old value only to return it.
     */
    void deleteSamplesBefore(Node node, long beforeMs) {
        if (beforeMs <= 0) {
            return;
        }
        NavigableMap<Long, WindowSample> expired = node.samples.headMap(beforeMs, false);
        for (Long timeMs : expired.keySet()) {
            samplesStore.put(NodeWindowProcessor.sampleKey(node.id, timeMs), null);
        }
        expired.clear();
    }

    private Node load(String id, NodeClock clock) {
        Node node = new Node(id);
        node.stored = clock;
        long from = clock == null ? 0 : Math.max(0, clock.nextWindowEndMs() - windowSizeMs);
        try (KeyValueIterator<Bytes, byte[]> range = samplesStore.range(NodeWindowProcessor.sampleKey(id, from),
                NodeWindowProcessor.sampleKey(id, Long.MAX_VALUE))) {
            range.forEachRemaining(entry -> {
                NodeMetrics sample = serde.decode(entry.value);
                Map.Entry<Long, WindowSample> newest = node.samples.lastEntry();
                node.samples.put(sample.getTimestampMs(), WindowSample.of(sample, newest == null ? null : newest.getValue()));
            });
        }
        node.clock = clock == null ? null : clock.restored(node.samples.isEmpty() ? null : node.samples.lastKey());
        nodes.put(id, node);
        return node;
    }
}
