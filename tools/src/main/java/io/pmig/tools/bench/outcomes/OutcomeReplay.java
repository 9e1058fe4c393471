package io.pmig.tools.bench.outcomes;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.AnalyticsTopology;
import io.pmig.analytics.scoring.CurrentScorer;
import io.pmig.analytics.scoring.OverloadScorer;
import io.pmig.analytics.scoring.ThresholdScorer;
import io.pmig.analytics.training.DefaultModel;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import io.pmig.schemas.serde.AvroSerde;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.Properties;
import java.util.function.Function;
import java.util.stream.Stream;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;

/**
 * Replays a {@link ClusterTrace} through the real analytics topology ({@link AnalyticsTopology#buildTopology}, the
 * app's own, in a Kafka Streams {@link TopologyTestDriver}) against a {@link ClusterModel}, one second per step:
 * <ol>
 *   <li>workloads whose outage is over resume on their destination, and COMPLETED goes to pmig.events;</li>
 *   <li>the wall clock moves one second and every node's sample of this second goes to pmig.metrics;</li>
 *   <li>every MIGRATE the topology put on pmig.commands is carried out by the cluster (FAILED if the workload is
 *       not on its source any more).</li>
 * </ol>
 * TopologyTestDriver rather than a broker because the cluster must see each command in the step it was decided
 * in, whatever the machine's load: the replay is deterministic, and runs at the topology's own speed.
 * Strategies differ only in the scorer the topology uses; the windows, features, decision stage and planner are
 * the app's, with the app's default settings unless overridden.
 */
final class OutcomeReplay {

    private OutcomeReplay() {
    }

    /** No topology at all: the load as it comes. */
    static Outcome none(ClusterTrace trace, AnalyticsConfig config, int horizonS) {
        ClusterModel cluster = new ClusterModel(trace, horizonS, new DowntimeModel(config));
        for (int s = 0; s < trace.seconds(); s++) {
            cluster.advanceTo(s);
            cluster.samples();
        }
        return Outcome.of(cluster);
    }

    /**
     * @param fallback the scorer the topology uses while no model is published, given the cluster (the oracle reads it)
     * @param model    a model to publish on pmig.models before the first sample, or null
     */
    static Outcome run(ClusterTrace trace, AnalyticsConfig config, int horizonS, Function<ClusterModel, OverloadScorer> fallback,
                       ModelUpdate model) {
        return runWith(trace, config, horizonS, cluster -> new CurrentScorer(fallback.apply(cluster)), model);
    }

    /**
     * As {@link #run}, with the scorer holder the app would build ({@link CurrentScorer#of}): whether a published model
     * scores is then the config's {@code analytics.scorer}.
     */
    static Outcome runWith(ClusterTrace trace, AnalyticsConfig config, int horizonS, Function<ClusterModel, CurrentScorer> scorers,
                           ModelUpdate model) {
        return Outcome.of(replay(trace, config, horizonS, scorers, model));
    }

    /** As {@link #runWith}, returning the cluster as the replay left it (its moves and what happened). */
    static ClusterModel replay(ClusterTrace trace, AnalyticsConfig config, int horizonS, Function<ClusterModel, CurrentScorer> scorers,
                               ModelUpdate model) {
        ClusterModel cluster = new ClusterModel(trace, horizonS, new DowntimeModel(config));
        Path stateDir;
        try {
            stateDir = Files.createTempDirectory("pmig-bench-outcomes-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, config.applicationId());
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:1");
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        CurrentScorer scorer = scorers.apply(cluster);
        AvroSerde<NodeMetrics> metricsSerde = AvroSerde.of(NodeMetrics.class);
        AvroSerde<MigrationEvent> eventSerde = AvroSerde.of(MigrationEvent.class);
        try (TopologyTestDriver driver = new TopologyTestDriver(AnalyticsTopology.buildTopology(config, scorer), props,
                Instant.ofEpochMilli(trace.startMs()))) {
            TestInputTopic<String, byte[]> metrics = driver.createInputTopic(Topic.METRICS.topicName(), new StringSerializer(),
                    new ByteArraySerializer());
            TestInputTopic<String, byte[]> events = driver.createInputTopic(Topic.EVENTS.topicName(), new StringSerializer(),
                    new ByteArraySerializer());
            TestOutputTopic<String, MigrationCommand> commands = driver.createOutputTopic(Topic.COMMANDS.topicName(),
                    new StringDeserializer(), AvroSerde.of(MigrationCommand.class));
            if (model != null) {
                driver.createInputTopic(Topic.MODELS.topicName(), new StringSerializer(), new ByteArraySerializer())
                        .pipeInput(config.modelKey(), AvroSerde.of(ModelUpdate.class).encode(model), trace.startMs());
                if (scorer.publishedModelVersion() == null || (scorer.usesModels() && scorer.modelVersion() == null)) {
                    throw new IllegalStateException("the topology did not take model " + model.getVersion());
                }
            }
            for (int s = 0; s < trace.seconds(); s++) {
                long nowMs = trace.startMs() + s * 1000L;
                for (ClusterModel.Move landed : cluster.advanceTo(s)) {
                    MigrationEvent completed = event(landed, Phase.COMPLETED, cluster, nowMs);
                    events.pipeInput(completed.getWorkloadId().toString(), eventSerde.encode(completed), nowMs);
                }
                if (s > 0) {
                    driver.advanceWallClockTime(Duration.ofSeconds(1));
                }
                for (NodeMetrics sample : cluster.samples()) {
                    metrics.pipeInput(sample.getNodeId().toString(), metricsSerde.encode(sample), sample.getTimestampMs());
                }
                for (MigrationCommand command : commands.readValuesToList()) {
                    if (command.getKind() != CommandKind.MIGRATE) {
                        continue;
                    }
                    ClusterModel.Move move = cluster.migrate(command.getWorkloadId().toString(),
                            command.getSourceNode().toString(), command.getDestinationNode().toString());
                    if (move == null) {
                        MigrationEvent failed = MigrationEvent.newBuilder()
                                .setCommandId(command.getCommandId()).setMigrationId(command.getCommandId())
                                .setWorkloadId(command.getWorkloadId()).setNode(command.getSourceNode()).setPhase(Phase.FAILED)
                                .setTimings(PhaseTimings.newBuilder().build()).setTimestampMs(nowMs).build();
                        events.pipeInput(failed.getWorkloadId().toString(), eventSerde.encode(failed), nowMs);
                    } else {
                        move.commandId = command.getCommandId().toString();
                    }
                }
            }
        } finally {
            deleteTree(stateDir);
        }
        return cluster;
    }

    private static MigrationEvent event(ClusterModel.Move move, Phase phase, ClusterModel cluster, long nowMs) {
        long downtimeMs = Math.round(move.downtimeS * 1000);
        return MigrationEvent.newBuilder()
                .setCommandId(move.commandId)
                .setMigrationId(move.commandId)
                .setWorkloadId(cluster.workloadId(move.workload))
                .setNode(cluster.nodeId(move.destination))
                .setPhase(phase)
                .setSourceNode(cluster.nodeId(move.source))
                .setDestinationNode(cluster.nodeId(move.destination))
                .setTimings(PhaseTimings.newBuilder().setDowntimeMs(downtimeMs).setTotalMs(downtimeMs).build())
                .setTimestampMs(nowMs)
                .build();
    }

    /** The threshold rule the app runs without a model. */
    static Function<ClusterModel, OverloadScorer> threshold(AnalyticsConfig config) {
        return cluster -> ThresholdScorer.from(config);
    }

    static ModelUpdate shippedModel() {
        return DefaultModel.load();
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            // a temp dir left behind is harmless
        }
    }
}
