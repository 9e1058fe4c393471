package io.pmig.tools.bench;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.features.WindowFeatures;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.serde.AvroSerde;
import java.nio.ByteBuffer;
import java.time.Duration;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;

/**
 * The pipeline benchmark's baseline: what a Kafka Streams user would write for "the same hopping windows and a
 * threshold on them", in the DSL. Decodes each NodeMetrics, aggregates per node and window (sample count, CPU maximum,
 * last memory fraction and load per CPU), emits each window once when it closes, with its threshold verdict, to
 * {@value #OUTPUT}. Windows by the record timestamp (the sample time, as the agent sends it) with pmig's window size,
 * advance and grace, and the threshold rule's limits (CPU as the window's maximum, which is what {@code cpu_p95} is
 * over ten 1 Hz samples).
 */
final class DslThresholdBaseline {

    static final String OUTPUT = "bench.dsl-window-verdicts";

    private DslThresholdBaseline() {
    }

    static Topology buildTopology(AnalyticsConfig config) {
        double cpuLimit = config.thresholdCpuPercent();
        double memLimit = config.thresholdMemFraction();
        double loadLimit = config.thresholdLoadPerCpu();
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(Topic.METRICS.topicName(), Consumed.with(Serdes.String(), AvroSerde.of(NodeMetrics.class)))
                .groupByKey()
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(config.windowSizeMs()), Duration.ofMillis(config.windowGraceMs()))
                        .advanceBy(Duration.ofMillis(config.windowAdvanceMs())))
                .aggregate(WindowLoad::new, (node, sample, load) -> load.add(sample),
                        Materialized.with(Serdes.String(), WindowLoad.SERDE))
                .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                .toStream()
                .map((window, load) -> KeyValue.pair(window.key(),
                        load.verdict(window.window().end(), load.cpuMax >= cpuLimit || load.memFractionLast >= memLimit
                                || load.loadPerCpuLast >= loadLimit)))
                .to(OUTPUT, Produced.with(Serdes.String(), Serdes.ByteArray()));
        return builder.build();
    }

    /** The aggregate: fixed-size, encoded as four fields. */
    static final class WindowLoad {
        static final Serde<WindowLoad> SERDE = Serdes.serdeFrom(
                (topic, load) -> load == null ? null : ByteBuffer.allocate(28).putInt(load.count).putDouble(load.cpuMax)
                        .putDouble(load.memFractionLast).putDouble(load.loadPerCpuLast).array(),
                (topic, bytes) -> {
                    if (bytes == null) {
                        return null;
                    }
                    ByteBuffer in = ByteBuffer.wrap(bytes);
                    WindowLoad load = new WindowLoad();
                    load.count = in.getInt();
                    load.cpuMax = in.getDouble();
                    load.memFractionLast = in.getDouble();
                    load.loadPerCpuLast = in.getDouble();
                    return load;
                });

        int count;
        double cpuMax;
        double memFractionLast;
        double loadPerCpuLast;

        WindowLoad add(NodeMetrics sample) {
            count++;
            cpuMax = Math.max(cpuMax, sample.getCpuPercent());
            long capacity = WindowFeatures.memCapacityBytes(sample);
            memFractionLast = capacity > 0 ? (double) sample.getMemUsedBytes() / capacity : 0;
            loadPerCpuLast = sample.getLoadAvg1() / Math.max(WindowFeatures.cpus(sample), 1e-9);
            return this;
        }

        /** Window end, sample count, CPU maximum, overloaded: what the threshold says about one window. */
        byte[] verdict(long windowEndMs, boolean overloaded) {
            return ByteBuffer.allocate(21).putLong(windowEndMs).putInt(count).putDouble(cpuMax)
                    .put((byte) (overloaded ? 1 : 0)).array();
        }
    }
}
