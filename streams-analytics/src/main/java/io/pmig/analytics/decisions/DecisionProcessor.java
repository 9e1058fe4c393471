package io.pmig.analytics.decisions;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.AnalyticsMeters;
import io.pmig.analytics.scoring.ModelScorer;
import io.pmig.analytics.windows.NodeReport;
import io.pmig.analytics.windows.WorkloadLoad;
import io.pmig.platform.commands.CommandRouting;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.DecisionReason;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.NodeState;
import io.pmig.schemas.Phase;
import io.pmig.schemas.Trigger;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The single decision point of the cluster. All node reports and executor outcomes arrive on one
 * partition of an internal topic, so exactly one task (on one instance at a time) holds the whole
 * cluster view: every node's latest report and overload streak, the in-flight migrations, and each
 * workload's move history, all in changelogged stores.
 *
 * <p>A node overloaded for {@value AnalyticsConfig#HYSTERESIS_WINDOWS} consecutive windows is handed to
 * the {@link MigrationPlanner} together with the other overloaded nodes of the same window end, the most
 * severe first; a resulting move becomes one MIGRATE command on pmig.commands, keyed by workload id. A
 * COMPLETED move keeps its destination's reservation until the destination reports a window that holds
 * the moved load. Time here is the reports' window end, never the wall clock, so cooldowns and command
 * fields are the same when the input is replayed. The command id is derived from the workload, the source
 * node and the deciding window's end: if a fail-over re-runs a decision whose transaction was aborted, the
 * re-issued command carries the same id, and an executor that somehow saw both de-duplicates it.
 *
 * <p>The node views are also kept decoded in memory, written through to their store: each report reads its
 * node's view and, once a node is overloaded, the whole cluster's, and decoding them from JSON every time
 * was most of this stage's cost. The copy is loaded from the (restored) store on first use after
 * {@link #init}.
 *
 * <p>In dry-run mode decisions are logged, not published; cooldowns are still recorded so each decision
 * is logged once, but nothing counts as in flight.
 */
public final class DecisionProcessor implements Processor<String, DecisionInput, String, MigrationCommand> {

    public static final String ISSUED_BY = "analytics";

    private static final Logger log = LoggerFactory.getLogger(DecisionProcessor.class);

    private final AnalyticsConfig config;
    private final AnalyticsMeters meters;
    private final MigrationPlanner planner;
    private final String nodesStoreName;
    private final String inFlightStoreName;
    private final String workloadsStoreName;
    private ProcessorContext<String, MigrationCommand> context;
    private KeyValueStore<String, NodeView> nodes;
    private KeyValueStore<String, InFlightMove> inFlight;
    private KeyValueStore<String, WorkloadHistory> workloads;
    /** Every node's view, by node id as in the store; null until loaded from the store after init. */
    private TreeMap<String, NodeView> views;
    /** Overloaded nodes waiting for the rest of their window end's reports, and that window end (-1: none). */
    private final Set<String> pending = new TreeSet<>();
    private long pendingTickMs = -1;
    private long pendingSinceWallMs;
    private final Map<String, String> lastRejection = new HashMap<>();

    public DecisionProcessor(AnalyticsConfig config, String nodesStoreName, String inFlightStoreName, String workloadsStoreName) {
        this(config, nodesStoreName, inFlightStoreName, workloadsStoreName, AnalyticsMeters.unexported(config));
    }

    public DecisionProcessor(AnalyticsConfig config, String nodesStoreName, String inFlightStoreName, String workloadsStoreName,
                             AnalyticsMeters meters) {
        this.config = config;
        this.meters = meters;
        this.planner = new MigrationPlanner(config);
        this.nodesStoreName = nodesStoreName;
        this.inFlightStoreName = inFlightStoreName;
        this.workloadsStoreName = workloadsStoreName;
    }

    @Override
    public void init(ProcessorContext<String, MigrationCommand> context) {
        this.context = context;
        this.nodes = context.getStateStore(nodesStoreName);
        this.inFlight = context.getStateStore(inFlightStoreName);
        this.workloads = context.getStateStore(workloadsStoreName);
        this.views = null;
        this.pending.clear();
        this.pendingTickMs = -1;
        context.schedule(Duration.ofMillis(config.punctuateIntervalMs()), PunctuationType.WALL_CLOCK_TIME, this::onWallClock);
    }

    @Override
    public void process(Record<String, DecisionInput> record) {
        DecisionInput input = record.value();
        if (input.outcome() != null) {
            finish(input.outcome());
        } else if (input.report() != null) {
            decide(input.report());
        }
    }

    private void finish(ExecutorOutcome outcome) {
        InFlightMove move = inFlight.get(outcome.commandId());
        if (move == null || !move.inFlight()) {
            return; // not ours, or already finished (the other node of the migration reports too)
        }
        if (outcome.phase() == Phase.COMPLETED) {
            // The load is on the destination now, but its reports show it only a window later: keep the reservation.
            inFlight.put(outcome.commandId(), move.completed(outcome.timestampMs()));
        } else {
            inFlight.delete(outcome.commandId());
        }
        log.info("migration {} of {} from {} to {} ended {}", move.commandId(), move.workloadId(), move.sourceNode(),
                move.destinationNode(), outcome.phase());
    }

    /**
     * A report joins its node's view; an overloaded node is planned with the others of the same window end,
     * most severe first, once every UP node has reported that window end (or a later one arrives, or the
     * wall clock says {@value AnalyticsConfig#TICK_WAIT_MS} passed). Pending nodes live in memory only: a
     * fail-over between a report and its tick's planning plans that node at its next overloaded window.
     */
    private void decide(NodeReport report) {
        long now = report.windowEndMs();
        releaseReported(report);
        if (pendingTickMs >= 0 && now > pendingTickMs) {
            planPending();
        }
        NodeView previous = views().get(report.nodeId());
        NodeView view = previous == null ? new NodeView(report, report.overloaded() ? 1 : 0, -1) : previous.next(report);
        putView(view);
        if (view.overloadStreak() >= config.hysteresisWindows()) {
            if (pendingTickMs >= 0 && now < pendingTickMs) {
                plan(view, now); // a straggler of an earlier window end: no reason to hold it back
                return;
            }
            if (pending.isEmpty()) {
                pendingTickMs = now;
                pendingSinceWallMs = context.currentSystemTimeMs();
            }
            pending.add(report.nodeId());
        }
        if (!pending.isEmpty() && everyUpNodeReported(pendingTickMs)) {
            planPending();
        }
    }

    private void onWallClock(long wallNowMs) {
        if (!pending.isEmpty() && wallNowMs - pendingSinceWallMs >= config.tickWaitMs()) {
            planPending();
        }
    }

    private boolean everyUpNodeReported(long windowEndMs) {
        for (NodeView view : views().values()) {
            if (view.report().state() != NodeState.DOWN && view.report().windowEndMs() < windowEndMs) {
                return false;
            }
        }
        return true;
    }

    /** Plans the pending nodes of one window end, the most severe first: highest score, then highest load. */
    private void planPending() {
        long tick = pendingTickMs;
        List<NodeView> due = new ArrayList<>();
        for (String node : pending) {
            NodeView view = views().get(node);
            if (view != null && view.report().windowEndMs() == tick && view.overloadStreak() >= config.hysteresisWindows()) {
                due.add(view);
            }
        }
        pending.clear();
        pendingTickMs = -1;
        due.sort(Comparator.comparingDouble((NodeView v) -> -v.report().score())
                .thenComparingDouble(v -> -Math.max(v.report().cpuFraction(), v.report().memFraction()))
                .thenComparing(NodeView::nodeId));
        for (NodeView view : due) {
            plan(views().get(view.nodeId()), tick);
        }
    }

    /** A reservation ends once its destination reports a window wholly after the move: the load is in its figures. */
    private void releaseReported(NodeReport report) {
        List<String> released = new ArrayList<>();
        try (KeyValueIterator<String, InFlightMove> all = inFlight.all()) {
            all.forEachRemaining(entry -> {
                if (entry.value.reportedBy(report.nodeId(), report.windowStartMs())) {
                    released.add(entry.key);
                }
            });
        }
        released.forEach(inFlight::delete);
    }

    private void plan(NodeView view, long now) {
        NodeReport report = view.report();
        List<InFlightMove> moves = currentMoves(now);
        List<NodeView> cluster = new ArrayList<>(views().values());
        Map<String, WorkloadHistory> history = new HashMap<>();
        for (WorkloadLoad workload : report.workloads()) {
            WorkloadHistory moved = workloads.get(workload.workloadId());
            if (moved != null) {
                history.put(workload.workloadId(), moved);
            }
        }
        MigrationPlan plan = planner.plan(view, cluster, moves, history, now);
        if (!plan.isMove()) {
            // Said once per change of reason, not every window: "nothing to do, and why" is part of the decision.
            String kind = plan.rejection().replaceAll("[0-9][0-9.]*", "#");
            if (!kind.equals(lastRejection.put(report.nodeId(), kind))) {
                log.info("node {} overloaded for {} windows, not moving anything: {}", report.nodeId(), view.overloadStreak(),
                        plan.rejection());
            }
            return;
        }
        lastRejection.remove(report.nodeId());
        MigrationCommand command = command(plan, view, now);
        WorkloadLoad workload = plan.workload();
        putView(view.migrated(now));
        putView(views().get(plan.destinationNode()).involvedIn(now));
        workloads.put(workload.workloadId(), WorkloadHistory.moved(workloads.get(workload.workloadId()), plan.sourceNode(), now,
                config.returnCooldownMs()));
        meters.decided(command.getReason().getTrigger());
        if (config.dryRun()) {
            log.info("dry run, not issued: {} ({})", command.getCommandId(), command.getReason().getText());
            return;
        }
        inFlight.put(command.getCommandId().toString(), new InFlightMove(command.getCommandId().toString(),
                workload.workloadId(), plan.sourceNode(), plan.destinationNode(), now, workload.cpuCores(), workload.rssBytes()));
        log.info("issuing {}: {}", command.getCommandId(), command.getReason().getText());
        context.forward(new Record<>(CommandRouting.addressee(command), command, now)); // the source's partition
    }

    private Map<String, NodeView> views() {
        if (views == null) {
            views = new TreeMap<>();
            try (KeyValueIterator<String, NodeView> all = nodes.all()) {
                all.forEachRemaining(entry -> views.put(entry.key, entry.value));
            }
        }
        return views;
    }

    private void putView(NodeView view) {
        nodes.put(view.nodeId(), view);
        views().put(view.nodeId(), view);
    }

    /** In-flight moves at this time; those without an outcome for too long are given up on. */
    private List<InFlightMove> currentMoves(long now) {
        List<KeyValue<String, InFlightMove>> all = new ArrayList<>();
        try (KeyValueIterator<String, InFlightMove> iterator = inFlight.all()) {
            iterator.forEachRemaining(all::add);
        }
        List<InFlightMove> current = new ArrayList<>();
        for (KeyValue<String, InFlightMove> entry : all) {
            if (now - entry.value.issuedAtMs() >= config.inFlightTimeoutMs()) {
                if (entry.value.inFlight()) {
                    log.warn("migration {} of {} has had no outcome for {} ms; no longer counting it as in flight",
                            entry.key, entry.value.workloadId(), now - entry.value.issuedAtMs());
                }
                inFlight.delete(entry.key);
            } else {
                current.add(entry.value);
            }
        }
        return current;
    }

    private MigrationCommand command(MigrationPlan plan, NodeView source, long now) {
        NodeReport report = source.report();
        WorkloadLoad workload = plan.workload();
        // A rule, tuned or not, is a threshold on the window's figures; which one is on the reason's scorer.
        Trigger trigger = ModelScorer.NAME.equals(report.scorer()) ? Trigger.MODEL : Trigger.THRESHOLD;
        String text = String.format(Locale.ROOT,
                "node %s overloaded for %d windows (score %.3f by %s%s); moving %s (%.2f cores, %d MiB, estimated outage %.2f s),"
                        + " the cheapest move that relieves %s, to %s, the least loaded node with room (near-ties broken by two seeded random draws)"
                        + " (load after move: source %.2f, destination %.2f)",
                plan.sourceNode(), source.overloadStreak(), report.score(), report.scorer(),
                report.modelVersion() == null ? "" : " " + report.modelVersion(), workload.workloadId(),
                workload.cpuCores(), workload.rssBytes() >> 20, plan.downtimeMs() / 1000, plan.need(), plan.destinationNode(),
                plan.sourceLoadAfter(), plan.destinationLoadAfter());
        return MigrationCommand.newBuilder()
                .setCommandId(commandId(workload.workloadId(), plan.sourceNode(), now))
                .setKind(CommandKind.MIGRATE)
                .setWorkloadId(workload.workloadId())
                .setSourceNode(plan.sourceNode())
                .setDestinationNode(plan.destinationNode())
                .setMode(config.migrationModeFor(workload.rssBytes()))
                .setCpuRequest(workload.cpuCores())
                .setMemRequestBytes(workload.rssBytes())
                .setReason(DecisionReason.newBuilder()
                        .setTrigger(trigger)
                        .setScore(report.score())
                        .setFeatures(new HashMap<>(report.features()))
                        .setModelVersion(report.modelVersion())
                        .setText(text)
                        .setScorer(report.scorer())
                        .build())
                .setIssuedAtMs(now)
                .setDeadlineMs(now + config.commandTtlMs())
                .setIssuedBy(ISSUED_BY)
                .build();
    }

    /** Deterministic: the same decision always gets the same id, so executors can drop a replayed duplicate. */
    public static String commandId(String workloadId, String sourceNode, long windowEndMs) {
        return "migrate-" + workloadId + "-from-" + sourceNode + "-at-" + windowEndMs;
    }
}
