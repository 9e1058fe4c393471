package io.pmig.executor;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.pmig.executor.events.EventHistory;
import io.pmig.executor.events.ExecutorMeters;
import io.pmig.executor.events.MigrationCommit;
import io.pmig.executor.workload.InitBinary;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.platform.topics.TopicCreator;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The commit's one answer, on a real broker. The case it exists for (chaos, broker stopped at the commit): the
 * destination's COMPLETED reached the log but its commit was never acknowledged; the destination gave its copy up,
 * and a source that then read a plain COMPLETED killed the only running copy. Here the stalled commit is a
 * transaction left open with its COMPLETED written: settling fences it, it never becomes visible, and the
 * destination's late commit fails.
 */
class MigrationCommitTest {

    private final String w = "commit-" + UUID.randomUUID().toString().substring(0, 8);
    private Path workdir;
    private ExecutorConfig config;
    private EventHistory history;

    @BeforeEach
    void config() throws Exception {
        TopicCreator.ensureTopics(SharedBroker.clientProperties());
        workdir = Files.createTempDirectory("pmig-commit-test");
        config = ExecutorConfig.local(w + "-b", SharedBroker.clientProperties(), workdir, TestNodes.criu(),
                InitBinary.install(InitBinary.DEFAULT_PATH), "commit-test-secret".getBytes(StandardCharsets.UTF_8)).build();
        history = new EventHistory(SharedBroker.clientProperties());
    }

    @AfterEach
    void cleanUp() throws Exception {
        NodeWorkloads.deleteTree(workdir);
    }

    @Test
    void aCommittedCompletedIsWhatTheOtherSideSettlesOn() throws Exception {
        String m = w + "-m1";
        try (MigrationCommit commit = MigrationCommit.open(config, m, meters())) {
            assertTrue(commit.publishCompleted(completed(m)));
        }
        assertTrue(MigrationCommit.settle(config, history, w, m), "the source must see the commit");
        assertTrue(history.completed(w, m));
    }

    @Test
    void aCommitTheBrokerNeverFinishedSettlesAsNeverMadeAndCannotBeFinishedLater() throws Exception {
        String m = w + "-m2";
        try (KafkaProducer<String, MigrationEvent> stalled = transactional(MigrationCommit.transactionalId(m))) {
            stalled.initTransactions();
            stalled.beginTransaction();
            stalled.send(new ProducerRecord<>(Topic.EVENTS.topicName(), w, completed(m))).get(30, TimeUnit.SECONDS);
            assertTrue(uncommittedPhases().contains(Phase.COMPLETED), "the COMPLETED is in the log, as a late one was");

            assertFalse(MigrationCommit.settle(config, history, w, m), "an open commit settles as never made");
            assertThrows(KafkaException.class, stalled::commitTransaction, "the fenced destination cannot commit afterwards");
        }
        assertFalse(history.completed(w, m), "an aborted COMPLETED is no event");
        assertFalse(MigrationCommit.settle(config, history, w, m), "settling again gives the same answer");
    }

    @Test
    void aReadWaitsForAnEarlierOpenTransactionAndThenFindsTheCommitBehindIt() throws Exception {
        String m = w + "-m3";
        // another migration's commit of the same workload's partition, begun first and still open
        try (KafkaProducer<String, MigrationEvent> other = transactional("commit-test-other-" + UUID.randomUUID())) {
            other.initTransactions();
            other.beginTransaction();
            other.send(new ProducerRecord<>(Topic.EVENTS.topicName(), w, completed(w + "-other"))).get(30, TimeUnit.SECONDS);
            try (MigrationCommit commit = MigrationCommit.open(config, m, meters())) {
                assertTrue(commit.publishCompleted(completed(m)));
            }
            CompletableFuture<Boolean> read = CompletableFuture.supplyAsync(() -> history.completed(w, m));
            // a read that stopped at the open transaction would answer "not committed" at once
            Awaitility.await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> !read.isDone());
            other.abortTransaction();
            assertTrue(read.get(60, TimeUnit.SECONDS), "the COMPLETED behind the open transaction counts");
        }
    }

    private List<Phase> uncommittedPhases() {
        Properties props = SharedBroker.clientProperties();
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        try (KafkaConsumer<String, MigrationEvent> consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                Topic.EVENTS.<MigrationEvent>serde().deserializer())) {
            List<TopicPartition> parts = consumer.partitionsFor(Topic.EVENTS.topicName()).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            var end = consumer.endOffsets(parts);
            List<Phase> phases = new java.util.ArrayList<>();
            while (parts.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> {
                    if (r.value() != null && w.equals(r.value().getWorkloadId().toString())) {
                        phases.add(r.value().getPhase());
                    }
                });
            }
            return phases;
        }
    }

    private static KafkaProducer<String, MigrationEvent> transactional(String id) {
        Properties props = SharedBroker.clientProperties();
        props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id);
        return new KafkaProducer<>(props, new StringSerializer(), Topic.EVENTS.<MigrationEvent>serde().serializer());
    }

    private static ExecutorMeters meters() {
        return new ExecutorMeters(new SimpleMeterRegistry());
    }

    private MigrationEvent completed(String migrationId) {
        return MigrationEvent.newBuilder().setCommandId(migrationId).setMigrationId(migrationId).setWorkloadId(w)
                .setNode(w + "-b").setPhase(Phase.COMPLETED).setSourceNode(w + "-a").setDestinationNode(w + "-b")
                .setTimings(PhaseTimings.newBuilder().build()).setTimestampMs(System.currentTimeMillis()).build();
    }
}
