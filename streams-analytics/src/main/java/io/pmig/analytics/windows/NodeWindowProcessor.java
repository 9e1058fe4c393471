package io.pmig.analytics.windows;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.features.FeatureVector;
import io.pmig.analytics.features.WindowFeatures;
import io.pmig.analytics.scoring.OverloadScore;
import io.pmig.analytics.scoring.OverloadScorer;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.NodeState;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per-node hopping windows over the samples of pmig.metrics, scored as they close.
 *
 * <p>Hand-rolled rather than the DSL's windowed aggregation because windows must close on the wall clock
 * too: the DSL closes windows only when stream time advances, i.e. when some record arrives, and a node
 * that went silent sends none. Here each node's time is its newest sample time, extrapolated by the wall
 * clock while it is silent ({@link NodeClock#eventTimeAt}); a wall-clock punctuator closes due windows and
 * marks nodes DOWN after {@value AnalyticsConfig#NODE_DOWN_AFTER_MS}. Windows start at multiples of the
 * advance and only full windows are scored: the first one starts at or after a node's first sample (or its
 * first sample after a gap). Samples older than the oldest open window are late and dropped.
 *
 * <p>State: the samples (one store entry per sample, key node + big-endian time, so a window is a range
 * scan and each new sample writes one changelog record), each node's {@link NodeClock}, and each node's
 * latest {@link NodeScore} for interactive queries.
 */
public final class NodeWindowProcessor implements Processor<byte[], NodeMetrics, String, NodeVerdict> {

    private static final Logger log = LoggerFactory.getLogger(NodeWindowProcessor.class);

    private final AnalyticsConfig config;
    private final OverloadScorer scorer;
    private final String samplesStoreName;
    private final String clocksStoreName;
    private final String statusStoreName;
    private ProcessorContext<String, NodeVerdict> context;
    private KeyValueStore<Bytes, NodeMetrics> samples;
    private KeyValueStore<String, NodeClock> clocks;
    private KeyValueStore<String, NodeScore> status;
    /** Silence is measured from no earlier than this task's start, so a restart does not mark every node DOWN. */
    private long startedWallMs;

    public NodeWindowProcessor(AnalyticsConfig config, OverloadScorer scorer, String samplesStoreName,
                               String clocksStoreName, String statusStoreName) {
        this.config = config;
        this.scorer = scorer;
        this.samplesStoreName = samplesStoreName;
        this.clocksStoreName = clocksStoreName;
        this.statusStoreName = statusStoreName;
    }

    @Override
    public void init(ProcessorContext<String, NodeVerdict> context) {
        this.context = context;
        this.samples = context.getStateStore(samplesStoreName);
        this.clocks = context.getStateStore(clocksStoreName);
        this.status = context.getStateStore(statusStoreName);
        this.startedWallMs = context.currentSystemTimeMs();
        context.schedule(Duration.ofMillis(config.punctuateIntervalMs()), PunctuationType.WALL_CLOCK_TIME, this::onWallClock);
    }

    @Override
    public void process(Record<byte[], NodeMetrics> record) {
        NodeMetrics sample = record.value();
        String node = sample.getNodeId().toString();
        long sampleMs = sample.getTimestampMs();
        long wallNow = context.currentSystemTimeMs();
        if (sampleMs < 0) {
            log.warn("dropping sample of {} with negative timestamp {}", node, sampleMs);
            return;
        }
        NodeClock clock = clocks.get(node);
        if (clock == null) {
            clock = new NodeClock(firstFullWindowEnd(sampleMs), sampleMs, wallNow, false);
            log.info("first sample of node {} at {}; first window ends at {}", node, sampleMs, clock.nextWindowEndMs());
        }
        if (sampleMs >= clock.nextWindowEndMs() - config.windowSizeMs()) {
            samples.put(sampleKey(node, sampleMs), sample);
        } else {
            log.debug("late sample of {} at {} (oldest open window starts at {})", node, sampleMs,
                    clock.nextWindowEndMs() - config.windowSizeMs());
        }
        if (clock.down()) {
            log.info("node {} is back", node);
            context.forward(new Record<>(node, new NodeVerdict(null, null,
                    nodeEvent(node, Phase.NODE_UP, "node-up-" + node + "-" + sampleMs, sampleMs)), sampleMs));
        }
        clocks.put(node, closeDueWindows(node, clock.arrived(sampleMs, wallNow), wallNow));
    }

    private void onWallClock(long wallNow) {
        List<KeyValue<String, NodeClock>> all = new ArrayList<>();
        try (KeyValueIterator<String, NodeClock> iterator = clocks.all()) {
            iterator.forEachRemaining(all::add);
        }
        for (KeyValue<String, NodeClock> entry : all) {
            String node = entry.key;
            NodeClock clock = entry.value;
            long silentMs = wallNow - Math.max(clock.lastArrivalWallMs(), startedWallMs);
            if (!clock.down() && silentMs >= config.nodeDownAfterMs()) {
                clock = markDown(node, clock, wallNow, silentMs);
            }
            NodeClock next = closeDueWindows(node, clock, wallNow);
            if (!next.equals(entry.value)) {
                clocks.put(node, next);
            }
        }
    }

    private NodeClock markDown(String node, NodeClock clock, long wallNow, long silentMs) {
        log.warn("node {} sent no sample for {} ms; marking it DOWN", node, silentMs);
        long nodeTime = clock.eventTimeAt(wallNow, startedWallMs);
        NodeScore previous = status.get(node);
        NodeScore down = NodeScore.newBuilder()
                .setNodeId(node)
                .setWindowStartMs(previous == null ? nodeTime : previous.getWindowStartMs())
                .setWindowEndMs(previous == null ? nodeTime : previous.getWindowEndMs())
                .setFeatures(previous == null ? Map.of() : previous.getFeatures())
                .setScore(0.0)
                .setOverloaded(false)
                .setState(NodeState.DOWN)
                .setScorer(previous == null ? "threshold" : previous.getScorer())
                .setModelVersion(previous == null ? null : previous.getModelVersion())
                .setTimestampMs(nodeTime)
                .build();
        status.put(node, down);
        // Id from the last sample seen: a replay of this punctuation after fail-over yields the same event.
        MigrationEvent event = nodeEvent(node, Phase.NODE_DOWN, "node-down-" + node + "-" + clock.maxSampleMs(), nodeTime);
        context.forward(new Record<>(node, new NodeVerdict(down, NodeReport.down(down), event), nodeTime));
        return clock.markedDown();
    }

    private NodeClock closeDueWindows(String node, NodeClock clock, long wallNow) {
        long nodeTime = clock.eventTimeAt(wallNow, startedWallMs);
        long size = config.windowSizeMs();
        long end = clock.nextWindowEndMs();
        while (end + config.windowGraceMs() <= nodeTime) {
            List<NodeMetrics> window = samplesBetween(node, end - size, end);
            if (window.isEmpty()) {
                // A gap: resume with the first full window after it instead of scoring empty windows.
                Long nextSample = firstSampleAtOrAfter(node, end);
                end = nextSample == null ? firstEndAfter(nodeTime - config.windowGraceMs())
                        : Math.max(end + config.windowAdvanceMs(), firstFullWindowEnd(nextSample));
                continue;
            }
            emitWindow(node, end - size, end, window, clock.down());
            end += config.windowAdvanceMs();
        }
        deleteSamplesBefore(node, end - size);
        return clock.withNextWindowEnd(end);
    }

    private void emitWindow(String node, long startMs, long endMs, List<NodeMetrics> window, boolean down) {
        FeatureVector features = WindowFeatures.compute(window);
        OverloadScore verdict = scorer.score(features);
        NodeState state = down ? NodeState.DOWN : verdict.overloaded() ? NodeState.OVERLOADED : NodeState.UP;
        NodeScore score = NodeScore.newBuilder()
                .setNodeId(node)
                .setWindowStartMs(startMs)
                .setWindowEndMs(endMs)
                .setFeatures(features.toMap())
                .setScore(verdict.score())
                .setOverloaded(verdict.overloaded() && !down)
                .setState(state)
                .setScorer(verdict.scorer())
                .setModelVersion(verdict.modelVersion())
                .setTimestampMs(endMs)
                .build();
        status.put(node, score);
        NodeReport report = down ? NodeReport.down(score) : NodeReport.of(score, window);
        if (verdict.overloaded()) {
            log.debug("node {} window [{}, {}) overloaded: {} score {}", node, startMs, endMs, verdict.scorer(), verdict.score());
        }
        context.forward(new Record<>(node, new NodeVerdict(score, report, null), endMs));
    }

    private MigrationEvent nodeEvent(String node, Phase phase, String id, long timestampMs) {
        return MigrationEvent.newBuilder()
                .setCommandId(id)
                .setMigrationId(id)
                .setWorkloadId("")
                .setNode(node)
                .setPhase(phase)
                .setTimings(PhaseTimings.newBuilder().build())
                .setTimestampMs(timestampMs)
                .build();
    }

    /** End of the first window that starts at or after time t (windows start at multiples of the advance). */
    private long firstFullWindowEnd(long t) {
        long advance = config.windowAdvanceMs();
        return Math.floorDiv(t + advance - 1, advance) * advance + config.windowSizeMs();
    }

    /** The smallest window end strictly after time t. */
    private long firstEndAfter(long t) {
        long advance = config.windowAdvanceMs();
        long size = config.windowSizeMs();
        return (Math.floorDiv(t - size, advance) + 1) * advance + size;
    }

    private List<NodeMetrics> samplesBetween(String node, long fromMs, long toMsExclusive) {
        List<NodeMetrics> window = new ArrayList<>();
        if (toMsExclusive <= 0) {
            return window;
        }
        try (KeyValueIterator<Bytes, NodeMetrics> range = samples.range(sampleKey(node, Math.max(fromMs, 0)),
                sampleKey(node, toMsExclusive - 1))) {
            range.forEachRemaining(entry -> window.add(entry.value));
        }
        return window;
    }

    private Long firstSampleAtOrAfter(String node, long fromMs) {
        try (KeyValueIterator<Bytes, NodeMetrics> range = samples.range(sampleKey(node, fromMs), sampleKey(node, Long.MAX_VALUE))) {
            return range.hasNext() ? range.next().value.getTimestampMs() : null;
        }
    }

    private void deleteSamplesBefore(String node, long beforeMs) {
        if (beforeMs <= 0) {
            return;
        }
        List<Bytes> expired = new ArrayList<>();
        try (KeyValueIterator<Bytes, NodeMetrics> range = samples.range(sampleKey(node, 0), sampleKey(node, beforeMs - 1))) {
            range.forEachRemaining(entry -> expired.add(entry.key));
        }
        expired.forEach(samples::delete);
    }

    /** Node id, a zero byte, then the big-endian time: byte order equals time order within one node. */
    static Bytes sampleKey(String node, long timeMs) {
        byte[] id = node.getBytes(StandardCharsets.UTF_8);
        return Bytes.wrap(ByteBuffer.allocate(id.length + 9).put(id).put((byte) 0).putLong(timeMs).array());
    }
}
