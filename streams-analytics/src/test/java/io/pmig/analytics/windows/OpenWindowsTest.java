package io.pmig.analytics.windows;

import static io.pmig.analytics.Samples.sample;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pmig.analytics.JsonSerde;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.serde.AvroSerde;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.processor.api.MockProcessorContext;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The clock store is written only when what a restore cannot recover changes; a restore (a new OpenWindows over the
 * same stores, as after a fail-over) must still resume with the clock the processor had.
 */
class OpenWindowsTest {

    private static final long WINDOW_MS = 10_000;
    private final AvroSerde<NodeMetrics> serde = AvroSerde.of(NodeMetrics.class);
    private KeyValueStore<Bytes, byte[]> samples;
    private KeyValueStore<String, NodeClock> clocks;

    @BeforeEach
    void stores() {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "open-windows-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        MockProcessorContext<String, String> context = new MockProcessorContext<>(props);
        samples = Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore("samples"), Serdes.Bytes(), Serdes.ByteArray())
                .withLoggingDisabled().build();
        clocks = Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore("clocks"), Serdes.String(), NodeClock.SERDE)
                .withLoggingDisabled().build();
        samples.init(context.getStateStoreContext(), samples);
        clocks.init(context.getStateStoreContext(), clocks);
    }

    private void arrive(OpenWindows open, OpenWindows.Node node, long timeMs, long wallMs, boolean store) {
        NodeMetrics sample = sample("n", timeMs, 40, 0.5);
        if (store) {
            open.add(node, timeMs, sample, serde.encode(sample));
        }
        NodeClock clock = node.clock() == null ? new NodeClock(WINDOW_MS, timeMs, wallMs, false) : node.clock();
        open.setClock(node, clock.arrived(timeMs, wallMs));
    }

    private static NodeClock asRestored(NodeClock clock) {
        return new NodeClock(clock.nextWindowEndMs(), clock.maxSampleMs(), 0, clock.down());
    }

    @Test
    void arrivalsWriteNoClockYetARestoreResumesWithTheNewestSampleTime() {
        OpenWindows open = new OpenWindows(samples, clocks, WINDOW_MS);
        OpenWindows.Node node = open.node("n");
        arrive(open, node, 0, 100, true);
        NodeClock first = clocks.get("n");
        for (long t = 1_000; t <= 5_000; t += 1_000) {
            arrive(open, node, t, 100 + t, true);
        }
        assertEquals(first, clocks.get("n"), "arrivals that change only the newest sample time wrote the clock");
        assertEquals(5_000, node.clock().maxSampleMs());

        OpenWindows restored = new OpenWindows(samples, clocks, WINDOW_MS);
        assertEquals(asRestored(node.clock()), restored.node("n").clock());
    }

    @Test
    void aNewWindowEndOrADownMarkIsWrittenAndSoIsANewestTimeNoRetainedSampleHolds() {
        OpenWindows open = new OpenWindows(samples, clocks, WINDOW_MS);
        OpenWindows.Node node = open.node("n");
        arrive(open, node, 0, 100, true);
        arrive(open, node, 1_000, 1_100, true);
        open.setClock(node, node.clock().withNextWindowEnd(11_000));
        assertEquals(11_000, clocks.get("n").nextWindowEndMs());
        // Samples expire as windows close; a sample the window stage did not keep (late) still raises the newest time.
        open.deleteSamplesBefore(node, 2_000);
        arrive(open, node, 1_500, 1_600, false);
        assertEquals(1_500, clocks.get("n").maxSampleMs());
        open.setClock(node, node.clock().markedDown());
        assertEquals(true, clocks.get("n").down());

        OpenWindows restored = new OpenWindows(samples, clocks, WINDOW_MS);
        assertEquals(asRestored(node.clock()), restored.node("n").clock());
    }

    @Test
    void clocksWrittenAsJsonByEarlierVersionsAreStillRead() {
        NodeClock clock = new NodeClock(21_000, 12_345, 99, true);
        byte[] json = JsonSerde.of(NodeClock.class).serialize("t", clock);
        assertEquals(clock, NodeClock.SERDE.deserializer().deserialize("t", json));
        byte[] binary = NodeClock.SERDE.serializer().serialize("t", clock);
        assertEquals(18, binary.length);
        assertEquals(asRestored(clock), NodeClock.SERDE.deserializer().deserialize("t", binary));
    }
}
