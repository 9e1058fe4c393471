package io.pmig.analytics.windows;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.AnalyticsMeters;
import io.pmig.analytics.features.FeatureVector;
import io.pmig.analytics.features.WindowFeatures;
import io.pmig.analytics.features.WindowSample;
import io.pmig.analytics.ingest.DecodeAttempt;
import io.pmig.analytics.scoring.OverloadScore;
import io.pmig.analytics.scoring.OverloadScorer;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.NodeState;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import io.pmig.schemas.features.FeatureLayout;
import io.pmig.schemas.serde.AvroSerde;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
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
 * marks nodes DOWN after {@value AnalyticsConfig#NODE_DOWN_AFTER_MS}. A node's time never runs past its task's: the
 * newest sample time the task has read from any node (stream time), itself extrapolated by the wall clock only while
 * nothing at all arrives and the consumer has nothing left to fetch there ({@link InputLag}). So when analytics falls
 * behind pmig.metrics (a burst, a GC pause, a warming JIT) a node whose samples wait unread in the backlog is not
 * silent, its windows wait for them and it is not marked DOWN - a false NODE_DOWN would have peers restore its
 * workloads from checkpoints; silence is judged only against what was read. A punctuation that comes long after the
 * previous one (the thread stood still) restarts every silence, as a start does. Windows start at multiples of the
 * advance and only full windows are scored: the first one starts at or after a node's first sample (or its first
 * sample after a gap). Samples older than the oldest open window are late and dropped.
 *
 * <p>State: the samples (one store entry per sample, key node + big-endian time, value the sample's bytes as
 * they arrived, so each new sample writes one changelog record and each expired one a tombstone), each node's
 * {@link NodeClock} (18 bytes, cached, written only when its next window end or DOWN mark changes), and each node's
 * latest {@link NodeScore} (features by position, {@link FeatureLayout}), encoded once for pmig.scores and kept for interactive queries in memory without a
 * changelog (after a fail-over a node shows again when its next window closes). The samples and clocks stores are the
 * truth that exactly-once commits and fail-over restores; {@link OpenWindows} keeps the same samples and clocks
 * decoded in memory, so that closing a window neither scans nor decodes the store. It is rebuilt from the stores, node
 * by node, on first use after {@link #init} (a start, a rebalance, or a task revived after an aborted transaction).
 */
public final class NodeWindowProcessor implements Processor<byte[], DecodeAttempt<NodeMetrics>, String, NodeVerdict> {

    private static final Logger log = LoggerFactory.getLogger(NodeWindowProcessor.class);
    private static final long NEW_NODES_LOG_INTERVAL_MS = 10_000;

    private final AnalyticsConfig config;
    private final OverloadScorer scorer;
    private final AnalyticsMeters meters;
    private final String samplesStoreName;
    private final String clocksStoreName;
    private final String statusStoreName;
    private ProcessorContext<String, NodeVerdict> context;
    private KeyValueStore<Bytes, byte[]> samples;
    private KeyValueStore<String, NodeClock> clocks;
    /** Each node's latest NodeScore, encoded as on pmig.scores (the same bytes go to both). */
    private KeyValueStore<String, byte[]> status;
    private final AvroSerde<NodeScore> scoreSerde = AvroSerde.of(NodeScore.class);
    private OpenWindows open;
    /**
     * Silence is measured from no earlier than this: the task's start, or the end of a stretch in which its thread
     * stood still, so that neither a restart nor a stall marks every node DOWN.
     */
    private long resumedWallMs;
    /** When the previous punctuation ran: one much later than its interval means the thread stood still. */
    private long punctuatedWallMs;
    /** When any sample last arrived at this task: while they arrive, the task's time is its stream time. */
    private long taskArrivalWallMs;
    private final InputLag inputLag;
    /** Nodes first seen since the last summary line: one INFO line per task, not one per node of a 10,000-node start. */
    private int newNodes;
    private long newNodesLoggedWallMs;

    public NodeWindowProcessor(AnalyticsConfig config, OverloadScorer scorer, String samplesStoreName,
                               String clocksStoreName, String statusStoreName) {
        this(config, scorer, samplesStoreName, clocksStoreName, statusStoreName, AnalyticsMeters.unexported(config),
                InputLag.UNKNOWN);
    }

    public NodeWindowProcessor(AnalyticsConfig config, OverloadScorer scorer, String samplesStoreName,
                               String clocksStoreName, String statusStoreName, AnalyticsMeters meters, InputLag inputLag) {
        this.inputLag = inputLag;
        this.meters = meters;
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
        this.open = new OpenWindows(samples, clocks, config.windowSizeMs());
        this.resumedWallMs = context.currentSystemTimeMs();
        this.punctuatedWallMs = resumedWallMs;
        this.taskArrivalWallMs = resumedWallMs;
        inputLag.forget(context.taskId().partition());
        context.schedule(Duration.ofMillis(config.punctuateIntervalMs()), PunctuationType.WALL_CLOCK_TIME, this::onWallClock);
    }

    @Override
    public void process(Record<byte[], DecodeAttempt<NodeMetrics>> record) {
        NodeMetrics sample = record.value().value();
        String node = sample.getNodeId().toString();
        long sampleMs = sample.getTimestampMs();
        long wallNow = context.currentSystemTimeMs();
        taskArrivalWallMs = wallNow;
        if (sampleMs < 0) {
            log.warn("dropping sample of {} with negative timestamp {}", node, sampleMs);
            return;
        }
        OpenWindows.Node state = open.node(node);
        NodeClock clock = state.clock();
        if (clock == null) {
            clock = new NodeClock(firstFullWindowEnd(sampleMs), sampleMs, wallNow, false);
            log.debug("first sample of node {} at {}; first window ends at {}", node, sampleMs, clock.nextWindowEndMs());
            newNodes++;
        }
        if (sampleMs >= clock.nextWindowEndMs() - config.windowSizeMs()) {
            open.add(state, sampleMs, sample, record.value().bytes());
        } else {
            log.debug("late sample of {} at {} (oldest open window starts at {})", node, sampleMs,
                    clock.nextWindowEndMs() - config.windowSizeMs());
        }
        if (clock.down()) {
            log.info("node {} is back", node);
            context.forward(new Record<>(node, new NodeVerdict(null, null, null,
                    nodeEvent(node, Phase.NODE_UP, "node-up-" + node + "-" + sampleMs, sampleMs)), sampleMs));
        }
        NodeClock arrived = clock.arrived(sampleMs, wallNow);
        open.setClock(state, closeDueWindows(state, arrived, arrived.maxSampleMs()));
    }

    private void onWallClock(long wallNow) {
        if (wallNow - punctuatedWallMs > stallMs()) {
            log.info("window task {} stood still for {} ms: node silence counts from now", context.taskId(),
                    wallNow - punctuatedWallMs);
            resumedWallMs = wallNow;
        }
        punctuatedWallMs = wallNow;
        if (newNodes > 0 && wallNow - newNodesLoggedWallMs >= NEW_NODES_LOG_INTERVAL_MS) {
            log.info("window task {}: first samples of {} new node(s) (each at DEBUG)", context.taskId(), newNodes);
            newNodes = 0;
            newNodesLoggedWallMs = wallNow;
        }
        long taskTime = taskTime(wallNow);
        for (OpenWindows.Node state : open.allNodes()) {
            String node = state.id();
            NodeClock before = state.clock();
            NodeClock clock = before;
            long nodeTime = Math.min(clock.eventTimeAt(wallNow, resumedWallMs), taskTime);
            long silentMs = nodeTime - clock.maxSampleMs();
            if (!clock.down() && silentMs >= config.nodeDownAfterMs()) {
                clock = markDown(node, clock, nodeTime, silentMs);
            }
            NodeClock next = closeDueWindows(state, clock, nodeTime);
            if (!next.equals(before)) {
                open.setClock(state, next);
            }
        }
    }

    /**
     * The newest sample time this task has read (its stream time), run on by the wall clock only while no sample
     * arrives at all and the consumer has none left to fetch (a quiet partition, not one waiting in a backlog);
     * unbounded before the task has read any.
     */
    private long taskTime(long wallNow) {
        long streamTime = context.currentStreamTimeMs();
        if (streamTime < 0) {
            return Long.MAX_VALUE;
        }
        if (inputLag.behind(context.taskId().partition())) {
            return streamTime;
        }
        return streamTime + Math.max(0, wallNow - Math.max(taskArrivalWallMs, resumedWallMs));
    }

    /** A gap between punctuations this long means the thread stood still (GC, a blocked commit), not the nodes. */
    private long stallMs() {
        return Math.max(1_000, 10 * config.punctuateIntervalMs());
    }

    private NodeClock markDown(String node, NodeClock clock, long nodeTime, long silentMs) {
        log.warn("node {} sent no sample for {} ms; marking it DOWN", node, silentMs);
        byte[] previousBytes = status.get(node);
        NodeScore previous = previousBytes == null ? null : scoreSerde.decode(previousBytes);
        NodeScore down = NodeScore.newBuilder()
                .setNodeId(node)
                .setWindowStartMs(previous == null ? nodeTime : previous.getWindowStartMs())
                .setWindowEndMs(previous == null ? nodeTime : previous.getWindowEndMs())
                .setFeatures(previous == null ? Map.of() : previous.getFeatures())
                .setFeatureLayout(previous == null ? FeatureLayout.BY_NAME : previous.getFeatureLayout())
                .setFeatureValues(previous == null ? List.of() : previous.getFeatureValues())
                .setScore(0.0)
                .setOverloaded(false)
                .setState(NodeState.DOWN)
                .setScorer(previous == null ? "threshold" : previous.getScorer())
                .setModelVersion(previous == null ? null : previous.getModelVersion())
                .setTimestampMs(nodeTime)
                .build();
        byte[] encoded = scoreSerde.encode(down);
        status.put(node, encoded);
        // Id from the last sample seen: a replay of this punctuation after fail-over yields the same event.
        MigrationEvent event = nodeEvent(node, Phase.NODE_DOWN, "node-down-" + node + "-" + clock.maxSampleMs(), nodeTime);
        context.forward(new Record<>(node, new NodeVerdict(down, encoded, NodeReport.down(down), event), nodeTime));
        return clock.markedDown();
    }

    /** Closes the node's windows that end, with the grace, at or before {@code nodeTime}. */
    private NodeClock closeDueWindows(OpenWindows.Node state, NodeClock clock, long nodeTime) {
        String node = state.id();
        long size = config.windowSizeMs();
        long end = clock.nextWindowEndMs();
        while (end + config.windowGraceMs() <= nodeTime) {
            List<WindowSample> window = state.samplesBetween(end - size, end);
            if (window.isEmpty()) {
                // A gap: resume with the first full window after it instead of scoring empty windows.
                Long nextSample = state.firstSampleAtOrAfter(end);
                end = nextSample == null ? firstEndAfter(nodeTime - config.windowGraceMs())
                        : Math.max(end + config.windowAdvanceMs(), firstFullWindowEnd(nextSample));
                continue;
            }
            emitWindow(node, end - size, end, window, clock.down());
            end += config.windowAdvanceMs();
        }
        open.deleteSamplesBefore(state, end - size);
        return clock.withNextWindowEnd(end);
    }

    private void emitWindow(String node, long startMs, long endMs, List<WindowSample> window, boolean down) {
        FeatureVector features = WindowFeatures.of(window);
        boolean sharedHost = window.get(window.size() - 1).simulated();
        OverloadScore verdict = scorer.score(node, endMs, features, sharedHost);
        NodeState state = down ? NodeState.DOWN : verdict.overloaded() ? NodeState.OVERLOADED : NodeState.UP;
        NodeScore score = FeatureLayout.setFeatures(NodeScore.newBuilder(), WindowFeatures.NAMES, features.toArray())
                .setNodeId(node)
                .setWindowStartMs(startMs)
                .setWindowEndMs(endMs)
                .setScore(verdict.score())
                .setOverloaded(verdict.overloaded() && !down)
                .setState(state)
                .setScorer(verdict.scorer())
                .setModelVersion(verdict.modelVersion())
                .setTimestampMs(endMs)
                .build();
        byte[] encoded = scoreSerde.encode(score);
        status.put(node, encoded);
        meters.scored(node, verdict.scorer(), verdict.score());
        NodeReport report = down ? NodeReport.down(score) : NodeReport.ofSamples(score, window);
        if (verdict.overloaded()) {
            log.debug("node {} window [{}, {}) overloaded: {} score {}", node, startMs, endMs, verdict.scorer(), verdict.score());
        }
        context.forward(new Record<>(node, new NodeVerdict(score, encoded, report, null), endMs));
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

    /** Node id, a zero byte, then the big-endian time: byte order equals time order within one node. */
    static Bytes sampleKey(String node, long timeMs) {
        byte[] id = node.getBytes(StandardCharsets.UTF_8);
        return Bytes.wrap(ByteBuffer.allocate(id.length + 9).put(id).put((byte) 0).putLong(timeMs).array());
    }
}
