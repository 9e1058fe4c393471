package io.pmig.analytics;

import io.pmig.analytics.balancer.BalancerProcessor;
import io.pmig.analytics.balancer.CellGrant;
import io.pmig.analytics.decisions.Cells;
import io.pmig.analytics.decisions.DecisionCodec;
import io.pmig.analytics.decisions.DecisionInput;
import io.pmig.analytics.decisions.DecisionProcessor;
import io.pmig.analytics.decisions.ExecutorOutcome;
import io.pmig.analytics.decisions.InFlightMove;
import io.pmig.analytics.decisions.NodeView;
import io.pmig.analytics.decisions.WorkloadHistory;
import io.pmig.analytics.windows.InputLag;
import io.pmig.analytics.ingest.DecodeAttempt;
import io.pmig.analytics.ingest.DeadLetterProcessor;
import io.pmig.analytics.ingest.PlausibleSample;
import io.pmig.analytics.ingest.SampleTimestampExtractor;
import io.pmig.analytics.scoring.CurrentScorer;
import io.pmig.analytics.scoring.ModelUpdateProcessor;
import io.pmig.analytics.windows.NodeClock;
import io.pmig.analytics.windows.NodeVerdict;
import io.pmig.analytics.windows.NodeWindowProcessor;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.CellSummary;
import io.pmig.schemas.DeadLetter;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.serde.AvroSerde;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.state.Stores;

/**
 * The analytics topology, shared by {@link AnalyticsApp} and the tests. Data path, in order:
 * <ol>
 *   <li><b>ingest</b>: pmig.metrics decoded once at the source; undecodable records become DeadLetters on
 *       pmig.dlq and processing continues. Stream time is each sample's own timestampMs.</li>
 *   <li><b>windows + scoring</b>: per-node hopping windows ({@link NodeWindowProcessor}), closed by sample
 *       time and, for silent nodes, by the wall clock; each closed window's features
 *       ({@link io.pmig.analytics.features.WindowFeatures}) are scored as {@value AnalyticsConfig#SCORER}
 *       says: the trend rule (default), the threshold rule, or the current model from the pmig.models global store. Scores go to pmig.scores; NODE_DOWN / NODE_UP
 *       to pmig.events (keyed by node id).</li>
 *   <li><b>decisions, per cell</b>: every node report is keyed by its node's cell ({@link Cells}: a label or a hash),
 *       every final phase of a migration from pmig.events by the cells of its source and destination, and both go to
 *       the decision topic ({@code <application.id>-decision-input-repartition}), partitioned by cell. The task that
 *       owns a partition decides the cells on it in memory ({@link DecisionProcessor}, one cell's view at a time, the
 *       pure {@link io.pmig.analytics.decisions.MigrationPlanner}) and issues MIGRATE commands to pmig.commands.</li>
 *   <li><b>balancer</b>: each cell's task publishes the cell's summary to pmig.cells (compacted, one partition) every
 *       {@value AnalyticsConfig#CELL_SUMMARY_INTERVAL_MS}: its hot nodes without room inside, its nodes with the most
 *       room. The one task that reads pmig.cells runs the {@link BalancerProcessor}, which grants cross-cell moves; a
 *       grant goes back onto the decision topic keyed by the borrowing and by the lending cell.</li>
 * </ol>
 *
 * <p><b>Why cells.</b> pmig.metrics is partitioned by node, so no window task sees the whole cluster. Until cells, every
 * report crossed one partition to one task that held the whole cluster: its throughput, its changelog and its
 * fail-over were the app's limits. A cell is the set of nodes a workload normally moves between (Borg's cell): its
 * decision needs only its own nodes, so cells spread over as many tasks as the decision topic has partitions (by
 * default as many as the window stage's: the larger count of pmig.metrics and pmig.events;
 * {@value AnalyticsConfig#DECISION_PARTITIONS} sets it). Moves between cells are rare (a cell with no room) and need
 * only a coarse view, so one balancer sees only the cells' summaries - a model of the cluster, as Cruise Control's
 * analyzer works on one - a few hundred bytes per cell, never a node report. Its grants are inputs of the cell tasks
 * like reports, so a cell's decisions stay a function of its input log. How it relates: partitions of pmig.metrics
 * bound the instances doing window work; partitions of the decision topic bound those deciding; cells are spread over
 * the decision partitions by the hash of their id, so have several cells per partition for an even spread.
 *
 * <p><b>Exactly-once.</b> With {@code processing.guarantee=exactly_once_v2} each task's outputs
 * (scores, events, dead letters, the decision topic, commands, cell summaries), its changelogs and its input offsets
 * commit in one transaction. A killed instance's uncommitted work is aborted and redone by the instance
 * that takes over its tasks from the restored state (a warm standby by default, {@value AnalyticsConfig#STANDBY_REPLICAS}),
 * so no decision is lost and none is published twice; readers use {@code isolation.level=read_committed}. Commands also
 * carry deterministic ids ({@link DecisionProcessor#commandId}) for executors that read uncommitted data or see a window
 * re-decided after a wall-clock-dependent edge (a late sample that made it into a window on one run only). The
 * balancer's state (the latest summaries) is soft: a task that takes it over has every cell's again within a summary
 * interval.
 *
 * <p><b>Scaling.</b> Instances with the same {@value AnalyticsConfig#APPLICATION_ID} split the tasks: one
 * window task per pmig.metrics partition (6 by default; task 0 also runs the balancer), one decision task per decision
 * partition, and the global model store on every instance. So at most as many instances as pmig.metrics has partitions
 * do window work; more only wait as standbys. Create the topics with more partitions to scale further
 * ({@code pmig analytics --topic-partitions pmig.metrics=24}, before the first start: it re-homes nodes). The decision
 * topic's partition count is fixed when the application first runs.
 *
 * <p>Watch it: {@code pmig console-consumer --topic pmig.scores} and {@code pmig console-consumer --topic pmig.commands}.
 */
public final class AnalyticsTopology {

    public static final String MODELS_STORE = "analytics-models";
    public static final String SAMPLES_STORE = "analytics-window-samples";
    public static final String CLOCKS_STORE = "analytics-node-clocks";
    /** Every node's latest NodeScore (features, score, state), Avro-encoded as on pmig.scores; served by the query endpoint. */
    public static final String STATUS_STORE = "analytics-node-status";
    public static final String DECISION_NODES_STORE = "analytics-decision-nodes";
    public static final String DECISION_IN_FLIGHT_STORE = "analytics-decision-in-flight";
    public static final String DECISION_WORKLOADS_STORE = "analytics-decision-workloads";
    /** Grants of the global balancer a cell borrowed, with their unused rooms. */
    public static final String DECISION_GRANTS_STORE = "analytics-decision-grants";

    private AnalyticsTopology() {
    }

    public static Topology buildTopology(AnalyticsConfig config) {
        return buildTopology(config, CurrentScorer.of(config));
    }

    /** As {@link #buildTopology(AnalyticsConfig)}, scoring with the given holder so its owner can see the model in use. */
    public static Topology buildTopology(AnalyticsConfig config, CurrentScorer scorer) {
        return buildTopology(config, scorer, AnalyticsMeters.unexported(config));
    }

    /** As {@link #buildTopology(AnalyticsConfig, CurrentScorer)}, counting decisions, scores and dead letters in meters. */
    public static Topology buildTopology(AnalyticsConfig config, CurrentScorer scorer, AnalyticsMeters meters) {
        return buildTopology(config, scorer, meters, InputLag.UNKNOWN);
    }

    /**
     * As {@link #buildTopology(AnalyticsConfig, CurrentScorer, AnalyticsMeters)}, judging node silence against the
     * consumer's lag on pmig.metrics (a running instance's; {@link InputLag}).
     */
    public static Topology buildTopology(AnalyticsConfig config, CurrentScorer scorer, AnalyticsMeters meters,
                                         InputLag inputLag) {
        StreamsBuilder builder = new StreamsBuilder();

        builder.addGlobalStore(
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(MODELS_STORE), Serdes.String(), Serdes.ByteArray())
                        .withLoggingDisabled(),
                Topic.MODELS.topicName(),
                Consumed.with(Serdes.String(), Serdes.ByteArray()).withName("models-source"),
                () -> new ModelUpdateProcessor(MODELS_STORE, config.modelKey(), config, scorer));

        // Ingest.
        KStream<byte[], DecodeAttempt<NodeMetrics>> samples = decodeOrDeadLetter(builder, Topic.METRICS, NodeMetrics.class,
                sample -> PlausibleSample.problem(sample, System.currentTimeMillis()), new SampleTimestampExtractor(), "metrics", meters);

        // Windows and scoring.
        // Values are the samples' bytes as they arrived (Avro single-object encoding): stored without re-encoding.
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(SAMPLES_STORE),
                Serdes.Bytes(), Serdes.ByteArray()));
        // Cached: a node's clock changes with every window it closes, its changelog needs only the last one per commit.
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(CLOCKS_STORE),
                Serdes.String(), NodeClock.SERDE).withCachingEnabled());
        // Values are NodeScores encoded as on pmig.scores, by the one encode that also feeds the topic. Not changelogged:
        // it only answers queries and gives a DOWN node its last features; after a fail-over a node shows again when its
        // next window closes (one advance later).
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(STATUS_STORE),
                Serdes.String(), Serdes.ByteArray()).withLoggingDisabled());
        KStream<String, NodeVerdict> verdicts = samples.process(
                () -> new NodeWindowProcessor(config, scorer, SAMPLES_STORE, CLOCKS_STORE, STATUS_STORE, meters, inputLag),
                Named.as("node-windows"), SAMPLES_STORE, CLOCKS_STORE, STATUS_STORE);
        verdicts.filter((node, verdict) -> verdict.score() != null, Named.as("has-score"))
                .mapValues(NodeVerdict::encodedScore, Named.as("score"))
                .to(Topic.SCORES.topicName(), Produced.with(Serdes.String(), Serdes.ByteArray()).withName("scores-sink"));
        verdicts.filter((node, verdict) -> verdict.transition() != null, Named.as("has-transition"))
                .mapValues(NodeVerdict::transition, Named.as("transition"))
                .to(Topic.EVENTS.topicName(), Produced.with(Serdes.String(), AvroSerde.of(MigrationEvent.class)).withName("node-events-sink"));

        // Decisions, keyed by cell: each cell's inputs reach the one task that owns its partition of the decision topic.
        Cells cells = Cells.of(config);
        KStream<String, DecisionInput> reports = verdicts
                .filter((node, verdict) -> verdict.report() != null, Named.as("has-report"))
                .map((node, verdict) -> KeyValue.pair(cells.cellOf(node), DecisionInput.of(verdict.report())), Named.as("report-to-cell"));
        // an outcome concerns the cell that issued the move (its source's) and, for a move across cells, the destination's
        KStream<String, DecisionInput> outcomes = decodeOrDeadLetter(builder, Topic.EVENTS, MigrationEvent.class, event -> null, null, "events", meters)
                .mapValues(DecodeAttempt::value, Named.as("events-value"))
                .filter((key, event) -> ExecutorOutcome.isFinal(event), Named.as("final-phases"))
                .flatMap((key, event) -> {
                    DecisionInput outcome = DecisionInput.of(ExecutorOutcome.of(event));
                    Set<String> concerned = new TreeSet<>();
                    concerned.add(cells.cellOf((event.getSourceNode() == null ? event.getNode() : event.getSourceNode()).toString()));
                    if (event.getDestinationNode() != null) {
                        concerned.add(cells.cellOf(event.getDestinationNode().toString()));
                    }
                    return concerned.stream().map(cell -> KeyValue.pair(cell, outcome)).toList();
                }, Named.as("outcome-to-cells"));
        KStream<String, DecisionInput> grants = decodeOrDeadLetter(builder, Topic.CELLS, CellSummary.class, summary -> null, null, "cells", meters)
                .process(() -> new BalancerProcessor(config), Named.as("balancer"));
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(DECISION_NODES_STORE),
                Serdes.String(), DecisionCodec.nodeViewSerde()));
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(DECISION_IN_FLIGHT_STORE),
                Serdes.String(), JsonSerde.of(InFlightMove.class)));
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(DECISION_WORKLOADS_STORE),
                Serdes.String(), JsonSerde.of(WorkloadHistory.class)));
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(DECISION_GRANTS_STORE),
                Serdes.String(), JsonSerde.of(CellGrant.class)));
        Repartitioned<String, DecisionInput> byCell = Repartitioned.with(Serdes.String(), DecisionCodec.decisionInputSerde())
                .withName("decision-input");
        if (config.decisionPartitions() > 0) {
            byCell = byCell.withNumberOfPartitions(config.decisionPartitions());
        }
        KStream<String, SpecificRecordBase> decided = reports.merge(outcomes, Named.as("decision-inputs"))
                .merge(grants, Named.as("decision-inputs-and-grants"))
                .repartition(byCell)
                .process(() -> new DecisionProcessor(config, scorer, DECISION_NODES_STORE, DECISION_IN_FLIGHT_STORE, DECISION_WORKLOADS_STORE,
                                DECISION_GRANTS_STORE, meters),
                        Named.as("decisions"), DECISION_NODES_STORE, DECISION_IN_FLIGHT_STORE, DECISION_WORKLOADS_STORE, DECISION_GRANTS_STORE);
        decided.filter((key, record) -> record instanceof MigrationCommand, Named.as("is-command"))
                .mapValues(record -> (MigrationCommand) record, Named.as("command"))
                .to(Topic.COMMANDS.topicName(), Produced.with(Serdes.String(), AvroSerde.of(MigrationCommand.class)).withName("commands-sink"));
        decided.filter((key, record) -> record instanceof CellSummary, Named.as("is-cell-summary"))
                .mapValues(record -> (CellSummary) record, Named.as("cell-summary"))
                .to(Topic.CELLS.topicName(), Produced.with(Serdes.String(), AvroSerde.of(CellSummary.class)).withName("cells-sink"));

        return builder.build();
    }

    /** Reads a topic, decoding each value once at the source; what cannot be decoded, or fails {@code check}, goes to pmig.dlq. */
    private static <T extends SpecificRecordBase> KStream<byte[], DecodeAttempt<T>> decodeOrDeadLetter(
            StreamsBuilder builder, Topic topic, Class<T> type, Function<T, String> check, TimestampExtractor timestamps,
            String name, AnalyticsMeters meters) {
        Consumed<byte[], DecodeAttempt<T>> consumed = Consumed.with(Serdes.ByteArray(), DecodeAttempt.serde(type, check))
                .withName(name + "-source");
        if (timestamps != null) {
            consumed = consumed.withTimestampExtractor(timestamps);
        }
        KStream<byte[], DecodeAttempt<T>> attempts = builder.stream(topic.topicName(), consumed);
        attempts.filter((key, attempt) -> attempt == null || !attempt.decoded(), Named.as(name + "-undecodable"))
                .processValues(() -> new DeadLetterProcessor<>(type, meters), Named.as(name + "-dead-letter"))
                .map((key, deadLetter) -> KeyValue.pair(deadLetter.getSourceTopic().toString(), deadLetter),
                        Named.as(name + "-dead-letter-key"))
                .to(Topic.DLQ.topicName(), Produced.with(Serdes.String(), AvroSerde.<DeadLetter>of(DeadLetter.class))
                        .withName(name + "-dlq-sink"));
        return attempts.filter((key, attempt) -> attempt != null && attempt.decoded(), Named.as(name + "-decoded"));
    }
}
