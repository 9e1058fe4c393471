package io.pmig.analytics.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.Samples;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.Phase;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Future;
import java.util.function.Function;
import java.util.function.ToLongFunction;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code pmig train}'s replay against a real broker whose pmig.commands and pmig.events hold a migration: the windows
 * whose run-up the move cut short are left out, not learnt as "this run-up is harmless".
 */
class ReplayCensorsMigrationsTest {

    private static final String PREFIX = "cz" + System.nanoTime() + "-";
    private static final String MOVED = PREFIX + "moved";
    /** The same metrics, with no migration recorded: what the moved node's windows would have been labelled. */
    private static final String CONTROL = PREFIX + "control";
    /** Whole seconds three hours ago: outside the range TrainCommandIntegrationTest replays on the same broker. */
    private static final long T0 = ((System.currentTimeMillis() - 3 * 3_600_000) / 1000) * 1000;
    private static final int SECONDS = 200;
    private static final int ISSUED_S = 88;
    private static final int COMPLETED_S = 91;

    private static long at(double second) {
        return T0 + (long) (second * 1000);
    }

    /**
     * Quiet, then a ramp towards overload from second 60 that the move ends at second 90: the load left with the
     * workload, so the node never overloads.
     */
    private static double cpu(int s) {
        return s < 60 || s >= 90 ? 10 : 10 + 2.5 * (s - 60);
    }

    @BeforeAll
    static void recordTheClustersHistory() throws Exception {
        List<NodeMetrics> samples = new ArrayList<>();
        for (int s = 0; s < SECONDS; s++) {
            for (String node : List.of(MOVED, CONTROL)) {
                samples.add(Samples.sample(node, at(s), cpu(s), 0.2));
            }
        }
        send(Topic.METRICS, samples, sample -> sample.getNodeId().toString(), NodeMetrics::getTimestampMs);
        MigrationCommand migrate = MigrationCommand.newBuilder().setCommandId(PREFIX + "cmd").setKind(CommandKind.MIGRATE)
                .setWorkloadId(PREFIX + "w").setSourceNode(MOVED).setDestinationNode(PREFIX + "other")
                .setMode(MigrationMode.PLAIN).setIssuedAtMs(at(ISSUED_S)).setDeadlineMs(at(ISSUED_S + 30))
                .setIssuedBy("analytics").build();
        send(Topic.COMMANDS, List.of(migrate), command -> PREFIX + "w", MigrationCommand::getIssuedAtMs);
        List<MigrationEvent> events = new ArrayList<>();
        for (Phase phase : List.of(Phase.ACCEPTED, Phase.COMPLETED)) {
            events.add(MigrationEvent.newBuilder().setCommandId(PREFIX + "cmd").setMigrationId(PREFIX + "cmd")
                    .setWorkloadId(PREFIX + "w").setNode(MOVED).setPhase(phase).setSourceNode(MOVED)
                    .setDestinationNode(PREFIX + "other")
                    .setTimestampMs(at(phase == Phase.COMPLETED ? COMPLETED_S : ISSUED_S + 0.2)).build());
        }
        send(Topic.EVENTS, events, event -> PREFIX + "w", MigrationEvent::getTimestampMs);
    }

    private static <T extends SpecificRecordBase> void send(Topic topic, List<T> records, Function<T, String> key,
                                                            ToLongFunction<T> timestamp) throws Exception {
        try (KafkaProducer<String, T> producer = new KafkaProducer<>(SharedBroker.clientProperties(), new StringSerializer(),
                topic.<T>serde().serializer())) {
            List<Future<RecordMetadata>> sends = new ArrayList<>();
            for (T record : records) {
                sends.add(producer.send(new ProducerRecord<>(topic.topicName(), null, timestamp.applyAsLong(record),
                        key.apply(record), record)));
            }
            for (Future<RecordMetadata> sent : sends) {
                sent.get(); // a record the broker refused fails here, not as a wrong count later
            }
        }
    }

    private static Dataset replay(String... extra) {
        TrainCommand command = new TrainCommand();
        command.stderr = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        String[] args = new String[] {"--bootstrap-server", SharedBroker.bootstrapServers(),
                "--from", String.valueOf(T0), "--to", String.valueOf(at(SECONDS))};
        String[] all = java.util.stream.Stream.concat(java.util.Arrays.stream(args), java.util.Arrays.stream(extra))
                .toArray(String[]::new);
        new CommandLine(command).parseArgs(all);
        return command.dataset(AnalyticsConfig.defaults(), OverloadDefinition.defaults(), T0, at(SECONDS), "test", Dataset.Label.OVERLOAD);
    }

    /** Windows of a node ending from H before the MIGRATE to just before the first window wholly after the move. */
    private static List<LabelledWindow> aroundTheMove(Dataset data, String node) {
        long from = at(ISSUED_S) - OverloadDefinition.defaults().horizonMs();
        long firstAfter = at(COMPLETED_S) + AnalyticsConfig.defaults().windowSizeMs();
        return data.windows().stream().filter(w -> w.nodeId().equals(node) && w.endMs() >= from && w.endMs() < firstAfter).toList();
    }

    @Test
    void theWindowsBeforeAMigrationUntilTheMoveEndedAreLeftOutNotLearntAsNegatives() {
        Dataset data = replay();

        List<LabelledWindow> control = aroundTheMove(data, CONTROL);
        assertEquals(28, control.size(), "windows ending from second 73 to 100 of the control node");
        assertTrue(control.stream().noneMatch(LabelledWindow::positive), "unmarked, these run-ups read as harmless");

        assertEquals(List.of(), aroundTheMove(data, MOVED));
        assertEquals(control.size(), data.censoredWindows());
        assertEquals(1, data.censoring().migrations());
        // Only that stretch: the moved node keeps its windows before it and from the first window wholly after the move.
        long moved = data.windows().stream().filter(w -> w.nodeId().equals(MOVED)).count();
        long same = data.windows().stream().filter(w -> w.nodeId().equals(CONTROL)).count();
        assertEquals(same - control.size(), moved);
        assertTrue(data.windows().stream().anyMatch(w -> w.nodeId().equals(MOVED) && w.startMs() == at(COMPLETED_S)));
    }

    @Test
    void withoutCensoringTheSameWindowsWouldBeNegatives() {
        Dataset data = replay("--no-censor-migrations");
        List<LabelledWindow> moved = aroundTheMove(data, MOVED);
        assertEquals(28, moved.size());
        assertTrue(moved.stream().noneMatch(LabelledWindow::positive));
        assertEquals(0, data.censoredWindows());
    }
}
