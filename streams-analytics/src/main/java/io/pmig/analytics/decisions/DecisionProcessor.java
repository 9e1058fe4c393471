package io.pmig.analytics.decisions;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.AnalyticsMeters;
import io.pmig.analytics.windows.NodeReport;
import io.pmig.analytics.windows.WorkloadLoad;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.DecisionReason;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.Trigger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
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
 * the {@link MigrationPlanner}; a resulting move becomes one MIGRATE command on pmig.commands, keyed by
 * workload id. Time here is the reports' window end, never the wall clock, so cooldowns and command
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
        if (move == null) {
            return; // not ours, or already finished (the other node of the migration reports too)
        }
        inFlight.delete(outcome.commandId());
        log.info("migration {} of {} from {} to {} ended {}", move.commandId(), move.workloadId(), move.sourceNode(),
                move.destinationNode(), outcome.phase());
    }

    private void decide(NodeReport report) {
        long now = report.windowEndMs();
        NodeView previous = views().get(report.nodeId());
        NodeView view = previous == null ? new NodeView(report, report.overloaded() ? 1 : 0, -1) : previous.next(report);
        putView(view);
        if (view.overloadStreak() < config.hysteresisWindows()) {
            return;
        }
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
            log.debug("node {} overloaded for {} windows but nothing to do: {}", report.nodeId(), view.overloadStreak(), plan.rejection());
            return;
        }
        MigrationCommand command = command(plan, view, now);
        WorkloadLoad workload = plan.workload();
        putView(view.migrated(now));
        putView(views().get(plan.destinationNode()).involvedIn(now));
        workloads.put(workload.workloadId(), new WorkloadHistory(now, plan.sourceNode()));
        meters.decided(command.getReason().getTrigger());
        if (config.dryRun()) {
            log.info("dry run, not issued: {} ({})", command.getCommandId(), command.getReason().getText());
            return;
        }
        inFlight.put(command.getCommandId().toString(), new InFlightMove(command.getCommandId().toString(),
                workload.workloadId(), plan.sourceNode(), plan.destinationNode(), now, workload.cpuCores(), workload.rssBytes()));
        log.info("issuing {}: {}", command.getCommandId(), command.getReason().getText());
        context.forward(new Record<>(workload.workloadId(), command, now));
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
                log.warn("migration {} of {} has had no outcome for {} ms; no longer counting it as in flight",
                        entry.key, entry.value.workloadId(), now - entry.value.issuedAtMs());
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
        Trigger trigger = "model".equals(report.scorer()) ? Trigger.MODEL : Trigger.THRESHOLD;
        String text = String.format(Locale.ROOT,
                "node %s overloaded for %d windows (score %.3f by %s%s); moving %s (%.2f cores, %d MiB) to %s, the least-loaded node with room (load after move: source %.2f, destination %.2f)",
                plan.sourceNode(), source.overloadStreak(), report.score(), report.scorer(),
                report.modelVersion() == null ? "" : " " + report.modelVersion(), workload.workloadId(),
                workload.cpuCores(), workload.rssBytes() >> 20, plan.destinationNode(), plan.sourceLoadAfter(),
                plan.destinationLoadAfter());
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
