package io.pmig.analytics.decisions;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.AnalyticsMeters;
import io.pmig.analytics.scoring.CurrentScorer;
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
import io.pmig.analytics.balancer.CellGrant;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The decision point of the cells this task owns. Node reports, executor outcomes and balancer grants arrive keyed by
 * cell on the decision topic, so each cell's inputs reach one task (on one instance at a time), which holds the cell's
 * view: every node's latest report and overload streak, the moves in flight, and each workload's move history, all in
 * changelogged stores. Planning reads one cell's view, never the cluster's.
 *
 * <p>A node overloaded for {@value AnalyticsConfig#HYSTERESIS_WINDOWS} consecutive windows is handed to
 * the {@link MigrationPlanner} together with the other overloaded nodes of its cell and window end, the most
 * severe first; a resulting move becomes one MIGRATE command on pmig.commands, keyed by its source. A
 * COMPLETED move keeps its destination's reservation until the destination reports a window that holds
 * the moved load. Time here is the reports' window end, never the wall clock, so cooldowns and command
 * fields are the same when the input is replayed. The command id is derived from the workload, the source
 * node and the deciding window's end: if a fail-over re-runs a decision whose transaction was aborted, the
 * re-issued command carries the same id, and an executor that somehow saw both de-duplicates it.
 *
 * <p><b>Across cells.</b> A hot node the planner finds no room for in its cell is "stuck"; every
 * {@value AnalyticsConfig#CELL_SUMMARY_INTERVAL_MS} (wall clock) the task publishes each cell's {@link CellSummaries
 * summary} to pmig.cells. A grant of the global balancer ({@link io.pmig.analytics.balancer.BalancerProcessor}) arrives
 * here twice: the borrowing cell keeps it and offers its rooms to the planner, one move each, until it expires; the
 * lending cell reserves the rooms so its own moves leave them free. Grants are inputs like reports, so a replay decides
 * the same.
 *
 * <p>The node views are also kept decoded in memory, per cell, written through to their store: each report reads its
 * node's view and, once a node is overloaded, its cell's, and decoding them every time was most of this stage's cost.
 * The in-flight moves likewise (each report checks whether it ends a reservation). Both copies are loaded from the
 * (restored) stores on first use after {@link #init}.
 *
 * <p>In dry-run mode decisions are logged, not published; cooldowns are still recorded so each decision
 * is logged once, but nothing counts as in flight.
 */
public final class DecisionProcessor implements Processor<String, DecisionInput, String, SpecificRecordBase> {

    public static final String ISSUED_BY = "analytics";

    private static final Logger log = LoggerFactory.getLogger(DecisionProcessor.class);

    private final AnalyticsConfig config;
    /** Whose model may carry its own windows-in-a-row count (every instance reads the same pmig.models). */
    private final CurrentScorer scorer;
    private final AnalyticsMeters meters;
    private final MigrationPlanner planner;
    private final String nodesStoreName;
    private final String inFlightStoreName;
    private final String workloadsStoreName;
    private final String grantsStoreName;
    private final Cells cells;
    private final CellSummaries summaries;
    private ProcessorContext<String, SpecificRecordBase> context;
    private KeyValueStore<String, NodeView> nodes;
    private KeyValueStore<String, InFlightMove> inFlight;
    private KeyValueStore<String, WorkloadHistory> workloads;
    /** Grants this task's cells borrowed, with the rooms not used yet, by grant id. */
    private KeyValueStore<String, CellGrant> grants;
    /** Every node's view by cell, then by node id as in the store; null until loaded from the store after init. */
    private Map<String, TreeMap<String, NodeView>> views;
    /**
     * The in-flight store's entries by command id, decoded, written through like the views; null until loaded after init.
     * Every report checks them (does it end a reservation?): reading and decoding the store each time cost more than
     * the rest of a report's handling at 10,000 nodes.
     */
    private TreeMap<String, InFlightMove> moves;
    /** Per cell: overloaded nodes waiting for the rest of their window end's reports. */
    private final Map<String, PendingTick> pending = new TreeMap<>();
    /** Per cell: overloaded nodes with no room in the cell, and the workload that would move (for the summary; soft). */
    private final Map<String, Map<String, WorkloadLoad>> stuck = new TreeMap<>();
    private final Map<String, String> lastRejection = new HashMap<>();

    /** A cell's overloaded nodes of one window end, waiting since a wall-clock time. */
    private static final class PendingTick {
        final long tickMs;
        final long sinceWallMs;
        final Set<String> nodes = new TreeSet<>();
        /** The first node (by id) not known to have reported the window end yet: every one before it has, or is DOWN. */
        String waitingFrom;

        PendingTick(long tickMs, long sinceWallMs) {
            this.tickMs = tickMs;
            this.sinceWallMs = sinceWallMs;
        }
    }

    public DecisionProcessor(AnalyticsConfig config, CurrentScorer scorer, String nodesStoreName, String inFlightStoreName, String workloadsStoreName,
                             String grantsStoreName, AnalyticsMeters meters) {
        this.config = config;
        this.scorer = scorer;
        this.meters = meters;
        this.planner = new MigrationPlanner(config);
        this.nodesStoreName = nodesStoreName;
        this.inFlightStoreName = inFlightStoreName;
        this.workloadsStoreName = workloadsStoreName;
        this.grantsStoreName = grantsStoreName;
        this.cells = Cells.of(config);
        this.summaries = new CellSummaries(config);
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecordBase> context) {
        this.context = context;
        this.nodes = context.getStateStore(nodesStoreName);
        this.inFlight = context.getStateStore(inFlightStoreName);
        this.workloads = context.getStateStore(workloadsStoreName);
        this.grants = context.getStateStore(grantsStoreName);
        this.views = null;
        this.moves = null;
        this.pending.clear();
        this.stuck.clear();
        context.schedule(Duration.ofMillis(config.punctuateIntervalMs()), PunctuationType.WALL_CLOCK_TIME, this::onWallClock);
        if (!cells.single()) { // one cell has nobody to trade room with
            context.schedule(Duration.ofMillis(config.cellSummaryIntervalMs()), PunctuationType.WALL_CLOCK_TIME, this::publishSummaries);
        }
    }

    @Override
    public void process(Record<String, DecisionInput> record) {
        DecisionInput input = record.value();
        if (input.outcome() != null) {
            finish(input.outcome());
        } else if (input.report() != null) {
            decide(input.report());
        } else if (input.grant() != null) {
            take(record.key(), input.grant());
        }
    }

    /** The borrowing cell keeps the grant for its planner; the lending cell holds the rooms until the grant's moves could have ended. */
    private void take(String cell, CellGrant grant) {
        if (cell.equals(grant.fromCell())) {
            grants.put(grant.grantId(), grant);
        } else if (cell.equals(grant.toCell())) {
            long holdUntilMs = grant.expiresAtMs() + config.commandTtlMs();
            for (CellGrant.GrantedRoom room : grant.rooms()) {
                InFlightMove lent = InFlightMove.lent(grant, room, holdUntilMs);
                putMove(lent.commandId(), lent);
            }
        }
    }

    private void finish(ExecutorOutcome outcome) {
        InFlightMove move = moves().get(outcome.commandId());
        if (move == null || !move.inFlight()) {
            return; // not ours, or already finished (the other node of the migration reports too)
        }
        if (outcome.phase() == Phase.COMPLETED) {
            // The load is on the destination now, but its reports show it only a window later: keep the reservation.
            putMove(outcome.commandId(), move.completed(outcome.timestampMs()));
        } else {
            deleteMove(outcome.commandId());
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
        String cell = cells.cellOf(report.nodeId());
        releaseReported(report);
        PendingTick tick = pending.get(cell);
        if (tick != null && now > tick.tickMs) {
            planPending(cell);
            tick = null;
        }
        NodeView previous = views(cell).get(report.nodeId());
        NodeView view = previous == null ? new NodeView(report, report.overloaded() ? 1 : 0, -1) : previous.next(report);
        putView(view);
        if (acts(view)) {
            if (tick != null && now < tick.tickMs) {
                plan(view, now); // a straggler of an earlier window end: no reason to hold it back
                return;
            }
            if (tick == null) {
                tick = new PendingTick(now, context.currentSystemTimeMs());
                pending.put(cell, tick);
            }
            tick.nodes.add(report.nodeId());
        } else {
            stuckIn(cell).remove(report.nodeId());
        }
        if (tick != null && everyUpNodeReported(cell, tick)) {
            planPending(cell);
        }
    }

    /**
     * Whether the node has been flagged in enough windows in a row: {@value AnalyticsConfig#HYSTERESIS_WINDOWS}, or for a
     * window a model scored, the count that model carries unless the key was set.
     */
    private boolean acts(NodeView view) {
        int needed = scorer.consecutiveWindows(view.report().modelVersion() != null, config.hysteresisWindows());
        return OverloadStreak.acts(view.overloadStreak(), needed);
    }

    private void onWallClock(long wallNowMs) {
        for (String cell : new ArrayList<>(pending.keySet())) {
            if (wallNowMs - pending.get(cell).sinceWallMs >= config.tickWaitMs()) {
                planPending(cell);
            }
        }
    }

    /**
     * Resumes where the last check stopped: a node's window end only grows, so each tick walks the cell once in all
     * rather than once per report (10,000 views per report at 10,000 nodes). A node that joins the cell before that point
     * meanwhile is not waited for; the wall-clock bound covers it.
     */
    private boolean everyUpNodeReported(String cell, PendingTick tick) {
        TreeMap<String, NodeView> cellViews = views(cell);
        for (NodeView view : (tick.waitingFrom == null ? cellViews : cellViews.tailMap(tick.waitingFrom, true)).values()) {
            if (view.report().state() != NodeState.DOWN && view.report().windowEndMs() < tick.tickMs) {
                tick.waitingFrom = view.nodeId();
                return false;
            }
        }
        return true;
    }

    /** Plans a cell's pending nodes of one window end, the most severe first: highest score, then highest load. */
    private void planPending(String cell) {
        PendingTick tick = pending.remove(cell);
        if (tick == null) {
            return;
        }
        List<NodeView> due = new ArrayList<>();
        for (String node : tick.nodes) {
            NodeView view = views(cell).get(node);
            if (view != null && view.report().windowEndMs() == tick.tickMs && acts(view)) {
                due.add(view);
            }
        }
        due.sort(Comparator.comparingDouble((NodeView v) -> -v.report().score())
                .thenComparingDouble(v -> -Math.max(v.report().cpuFraction(), v.report().memFraction()))
                .thenComparing(NodeView::nodeId));
        for (NodeView view : due) {
            plan(views(cell).get(view.nodeId()), tick.tickMs);
        }
    }

    /** A reservation ends once its destination reports a window wholly after the move: the load is in its figures. */
    private void releaseReported(NodeReport report) {
        List<String> released = new ArrayList<>();
        moves().forEach((id, move) -> {
            if (move.reportedBy(report.nodeId(), report.windowStartMs())) {
                released.add(id);
            }
        });
        released.forEach(this::deleteMove);
    }

    private void plan(NodeView view, long now) {
        NodeReport report = view.report();
        String cell = cells.cellOf(report.nodeId());
        List<InFlightMove> moves = ofCell(cell, currentMoves(now));
        Map<String, WorkloadHistory> history = new HashMap<>();
        for (WorkloadLoad workload : report.workloads()) {
            WorkloadHistory moved = workloads.get(workload.workloadId());
            if (moved != null) {
                history.put(workload.workloadId(), moved);
            }
        }
        Map<String, CellGrant> borrowed = borrowed(cell, now);
        List<NodeView> lent = new ArrayList<>();
        borrowed.values().forEach(grant -> grant.rooms().forEach(room -> lent.add(lentView(room))));
        MigrationPlan plan = planner.plan(view, views(cell).values(), moves, history, now, lent);
        if (!plan.isMove()) {
            if (plan.roomNeeded() != null) {
                stuckIn(cell).put(report.nodeId(), plan.roomNeeded());
            } else {
                stuckIn(cell).remove(report.nodeId());
            }
            // Said once per change of reason, not every window: "nothing to do, and why" is part of the decision.
            String kind = plan.rejection().replaceAll("[0-9][0-9.]*", "#");
            if (!kind.equals(lastRejection.put(report.nodeId(), kind))) {
                log.info("node {} overloaded for {} windows, not moving anything: {}", report.nodeId(), view.overloadStreak(),
                        plan.rejection());
            }
            return;
        }
        stuckIn(cell).remove(report.nodeId());
        lastRejection.remove(report.nodeId());
        String lender = null;
        if (!cells.cellOf(plan.destinationNode()).equals(cell)) {
            useRoom(borrowed, plan.destinationNode());
            lender = cells.cellOf(plan.destinationNode());
        }
        MigrationCommand command = command(plan, view, now, lender);
        WorkloadLoad workload = plan.workload();
        putView(view.migrated(now));
        if (lender == null) { // a lent node's view is its own cell's, which holds the lent room instead
            putView(views(cell).get(plan.destinationNode()).involvedIn(now));
        }
        workloads.put(workload.workloadId(), WorkloadHistory.moved(workloads.get(workload.workloadId()), plan.sourceNode(), now,
                config.returnCooldownMs()));
        meters.decided(command.getReason().getTrigger());
        if (config.dryRun()) {
            log.info("dry run, not issued: {} ({})", command.getCommandId(), command.getReason().getText());
            return;
        }
        putMove(command.getCommandId().toString(), new InFlightMove(command.getCommandId().toString(),
                workload.workloadId(), plan.sourceNode(), plan.destinationNode(), now, workload.cpuCores(), workload.rssBytes()));
        log.info("issuing {}: {}", command.getCommandId(), command.getReason().getText());
        context.forward(new Record<>(CommandRouting.addressee(command), command, now)); // the source's partition
    }

    /** The cell's borrowed grants still valid at {@code now} that have rooms left; expired ones are dropped. */
    private Map<String, CellGrant> borrowed(String cell, long now) {
        Map<String, CellGrant> valid = new TreeMap<>();
        List<String> expired = new ArrayList<>();
        try (KeyValueIterator<String, CellGrant> all = grants.all()) {
            all.forEachRemaining(entry -> {
                if (now > entry.value.expiresAtMs() || entry.value.rooms().isEmpty()) {
                    expired.add(entry.key);
                } else if (entry.value.fromCell().equals(cell)) {
                    valid.put(entry.key, entry.value);
                }
            });
        }
        expired.forEach(grants::delete);
        return valid;
    }

    /** Takes the room on {@code node} out of the grant that lent it: one move per room. */
    private void useRoom(Map<String, CellGrant> borrowed, String node) {
        for (CellGrant grant : borrowed.values()) {
            List<CellGrant.GrantedRoom> left = grant.rooms().stream().filter(room -> !room.nodeId().equals(node)).toList();
            if (left.size() < grant.rooms().size()) {
                grants.put(grant.grantId(), new CellGrant(grant.grantId(), grant.fromCell(), grant.toCell(), grant.issuedAtMs(),
                        grant.expiresAtMs(), left));
                return;
            }
        }
    }

    /** A lent node as the planner sees a destination: its figures as its cell summarised them, use including reservations. */
    private static NodeView lentView(CellGrant.GrantedRoom room) {
        return new NodeView(new NodeReport(room.nodeId(), room.windowEndMs(), room.windowEndMs(), NodeState.UP, 0, false, "lent",
                null, Map.of(), room.cpuCapacity(), room.memCapacityBytes(), room.cpuUsedCores(), room.memUsedBytes(), List.of()), 0, -1);
    }

    /**
     * The moves one cell's view holds: those it issued, those into its nodes, and room it lent, but not room lent to it
     * (its lender's reservation, when both cells share this task: the granted figures count it already).
     */
    private List<InFlightMove> ofCell(String cell, List<InFlightMove> moves) {
        return moves.stream().filter(move -> move.lent()
                ? !move.sourceNode().equals(cell) && cells.cellOf(move.destinationNode()).equals(cell)
                : cells.cellOf(move.sourceNode()).equals(cell) || cells.cellOf(move.destinationNode()).equals(cell)).toList();
    }

    private Map<String, WorkloadLoad> stuckIn(String cell) {
        return stuck.computeIfAbsent(cell, c -> new TreeMap<>());
    }

    /** Each owned cell's summary to pmig.cells, for the global balancer; nodes already holding a grant's room are not stuck. */
    private void publishSummaries(long wallNowMs) {
        List<InFlightMove> all = new ArrayList<>(moves().values());
        Set<String> served = new TreeSet<>();
        try (KeyValueIterator<String, CellGrant> iterator = grants.all()) {
            iterator.forEachRemaining(entry -> entry.value.rooms().forEach(room -> served.add(room.forNode())));
        }
        for (Map.Entry<String, TreeMap<String, NodeView>> entry : views().entrySet()) {
            String cell = entry.getKey();
            List<InFlightMove> moves = ofCell(cell, all);
            Map<String, WorkloadLoad> needs = new TreeMap<>(stuckIn(cell));
            needs.keySet().removeAll(served);
            context.forward(new Record<>(cell, summaries.summarize(cell, entry.getValue().values(), moves, needs, wallNowMs), wallNowMs));
        }
    }

    private Map<String, TreeMap<String, NodeView>> views() {
        if (views == null) {
            views = new TreeMap<>();
            try (KeyValueIterator<String, NodeView> all = nodes.all()) {
                all.forEachRemaining(entry -> views.computeIfAbsent(cells.cellOf(entry.key), cell -> new TreeMap<>())
                        .put(entry.key, entry.value));
            }
        }
        return views;
    }

    private TreeMap<String, NodeView> views(String cell) {
        return views().computeIfAbsent(cell, c -> new TreeMap<>());
    }

    private TreeMap<String, InFlightMove> moves() {
        if (moves == null) {
            moves = new TreeMap<>();
            try (KeyValueIterator<String, InFlightMove> all = inFlight.all()) {
                all.forEachRemaining(entry -> moves.put(entry.key, entry.value));
            }
        }
        return moves;
    }

    private void putMove(String commandId, InFlightMove move) {
        inFlight.put(commandId, move);
        moves().put(commandId, move);
    }

    private void deleteMove(String commandId) {
        inFlight.delete(commandId);
        moves().remove(commandId);
    }

    private void putView(NodeView view) {
        nodes.put(view.nodeId(), view);
        views(cells.cellOf(view.nodeId())).put(view.nodeId(), view);
    }

    /** In-flight moves at this time; those without an outcome for too long are given up on. */
    private List<InFlightMove> currentMoves(long now) {
        List<InFlightMove> current = new ArrayList<>();
        for (Map.Entry<String, InFlightMove> entry : new ArrayList<>(moves().entrySet())) {
            if (now - entry.getValue().issuedAtMs() >= config.inFlightTimeoutMs()) {
                if (entry.getValue().inFlight()) {
                    log.warn("migration {} of {} has had no outcome for {} ms; no longer counting it as in flight",
                            entry.getKey(), entry.getValue().workloadId(), now - entry.getValue().issuedAtMs());
                }
                deleteMove(entry.getKey());
            } else {
                current.add(entry.getValue());
            }
        }
        return current;
    }

    private MigrationCommand command(MigrationPlan plan, NodeView source, long now, String lender) {
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
                plan.sourceLoadAfter(), plan.destinationLoadAfter())
                + (lender == null ? "" : "; in cell " + lender + ", room the global balancer lent cell "
                + cells.cellOf(plan.sourceNode()) + ", which had none");
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
