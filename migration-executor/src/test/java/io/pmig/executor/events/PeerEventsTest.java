package io.pmig.executor.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.platform.topics.TopicCreator;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/** A node reads only the partitions of pmig.events its watches name, and misses no event of a watched key. */
class PeerEventsTest {

    private final String run = "peer-" + UUID.randomUUID().toString().substring(0, 8);

    private static MigrationEvent event(String migrationId, String workload, String node, Phase phase) {
        return MigrationEvent.newBuilder().setCommandId(migrationId).setMigrationId(migrationId).setWorkloadId(workload)
                .setNode(node).setPhase(phase).setTimings(PhaseTimings.newBuilder().build())
                .setTimestampMs(System.currentTimeMillis()).build();
    }

    private static void publish(MigrationEvent event) throws Exception {
        try (KafkaProducer<String, MigrationEvent> producer = new KafkaProducer<>(SharedBroker.clientProperties(),
                new StringSerializer(), Topic.EVENTS.<MigrationEvent>serde().serializer())) {
            producer.send(new ProducerRecord<>(Topic.EVENTS.topicName(), event.getWorkloadId(), event)).get();
        }
    }

    @Test
    void anAnswerPublishedBeforeTheWatchIsFoundAndNothingIsReadWithoutAWatch() throws Exception {
        TopicCreator.ensureTopics(SharedBroker.clientProperties());
        try (PeerEvents peers = new PeerEvents(SharedBroker.clientProperties(), run + "-me")) {
            long issuedAt = System.currentTimeMillis();
            String w = run + "-w";
            publish(event(run + "-m", w, run + "-source", Phase.ACCEPTED)); // before this node looks
            publish(event(run + "-other", run + "-elsewhere", run + "-x", Phase.ACCEPTED));
            assertEquals(0, peers.recordsRead(), "no watch, nothing read");
            assertEquals(Set.of(), peers.partitions());

            // many watches come and go at once (each wakes the reader, possibly in the middle of seeking): none is lost
            List<PeerEvents.Watch> churn = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                churn.add(peers.watch(run + "-churn-" + i, issuedAt));
            }
            try (PeerEvents.Watch watch = peers.watch(w, issuedAt)) {
                churn.forEach(PeerEvents.Watch::close);
                Optional<MigrationEvent> accepted = peers.await(run + "-m", e -> e.getPhase() == Phase.ACCEPTED, Duration.ofSeconds(30));
                assertTrue(accepted.isPresent(), "the ACCEPTED published before the watch is read");
                publish(event(run + "-m", w, run + "-source", Phase.ROLLED_BACK));
                assertTrue(peers.await(run + "-m", e -> e.getPhase() == Phase.ROLLED_BACK, Duration.ofSeconds(30)).isPresent(),
                        "and what follows");
            }
        }
    }

    /** A listener's bug (here: it throws on every ACCEPTED) must not end the reader that every migration waits on. */
    @Test
    void aFailingListenerDoesNotEndTheReader() throws Exception {
        TopicCreator.ensureTopics(SharedBroker.clientProperties());
        try (PeerEvents peers = new PeerEvents(SharedBroker.clientProperties(), run + "-me")) {
            List<Phase> heard = new java.util.concurrent.CopyOnWriteArrayList<>();
            peers.listen(e -> {
                heard.add(e.getPhase());
                if (e.getPhase() == Phase.ACCEPTED) {
                    throw new IllegalStateException("a listener's bug");
                }
            });
            String w = run + "-w";
            try (PeerEvents.Watch watch = peers.watch(w, System.currentTimeMillis())) {
                publish(event(run + "-m", w, run + "-source", Phase.ACCEPTED));
                assertTrue(peers.await(run + "-m", e -> e.getPhase() == Phase.ACCEPTED, Duration.ofSeconds(30)).isPresent());
                publish(event(run + "-m", w, run + "-source", Phase.ROLLED_BACK));
                assertTrue(peers.await(run + "-m", e -> e.getPhase() == Phase.ROLLED_BACK, Duration.ofSeconds(30)).isPresent(),
                        "the event after the one a listener failed on is read");
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30))
                        .until(() -> heard.equals(List.of(Phase.ACCEPTED, Phase.ROLLED_BACK)));
                assertTrue(!peers.readerOutages().failing(), "the reader is not counted as failing");
            }
        }
    }

    @Test
    void aKeyWatchedAgainAfterItsPartitionWasDroppedIsReadAgain() throws Exception {
        TopicCreator.ensureTopics(SharedBroker.clientProperties());
        try (PeerEvents peers = new PeerEvents(SharedBroker.clientProperties(), run + "-me")) {
            for (int round = 0; round < 3; round++) {
                String w = run + "-w" + round;
                long issuedAt = System.currentTimeMillis();
                try (PeerEvents.Watch watch = peers.watch(w, issuedAt)) {
                    publish(event(run + "-m" + round, w, run + "-source", Phase.ACCEPTED));
                    assertTrue(peers.await(run + "-m" + round, e -> e.getPhase() == Phase.ACCEPTED, Duration.ofSeconds(30)).isPresent(),
                            "round " + round + ": " + peers.partitions());
                }
            }
        }
    }

    /**
     * A broker away for longer than the reader's metadata calls wait (a restart under load; chaos restart_broker) must
     * not end the reader: before, it stopped for good and every later migration on the node waited in vain for its
     * peer's events ("no PREPARED within 10 s", "never accepted").
     */
    @Test
    void theReaderCarriesOnAfterTheBrokerWasAwayLongerThanItsCallsWait() throws Exception {
        java.nio.file.Path data = java.nio.file.Files.createTempDirectory("pmig-peer-events-broker-");
        io.pmig.broker.EmbeddedBroker broker = io.pmig.broker.EmbeddedBroker.start(0, data);
        int port = broker.port();
        try {
            java.util.Properties kafka = new java.util.Properties();
            kafka.put("bootstrap.servers", broker.bootstrapServers());
            TopicCreator.ensureTopics(kafka);
            // short waits, so that the calls of the reader time out while the broker is away
            java.util.Properties reader = (java.util.Properties) kafka.clone();
            reader.put("default.api.timeout.ms", "3000");
            reader.put("reconnect.backoff.max.ms", "200");
            try (PeerEvents peers = new PeerEvents(reader, run + "-me")) {
                String w = run + "-w";
                try (PeerEvents.Watch watch = peers.watch(w, System.currentTimeMillis())) {
                    publish(kafka, event(run + "-m", w, run + "-source", Phase.ACCEPTED));
                    assertTrue(peers.await(run + "-m", e -> e.getPhase() == Phase.ACCEPTED, Duration.ofSeconds(60)).isPresent());

                    broker.close();
                    org.awaitility.Awaitility.await("the reader's calls time out").atMost(Duration.ofMinutes(2))
                            .until(() -> peers.outages() > 0);
                    broker = io.pmig.broker.EmbeddedBroker.start(port, data);

                    publish(kafka, event(run + "-m", w, run + "-source", Phase.ROLLED_BACK));
                    assertTrue(peers.await(run + "-m", e -> e.getPhase() == Phase.ROLLED_BACK, Duration.ofSeconds(120))
                            .isPresent(), "an event published after the broker came back is read");
                }
            }
        } finally {
            broker.close();
            io.pmig.executor.workload.NodeWorkloads.deleteTree(data);
        }
    }

    private static void publish(java.util.Properties kafka, MigrationEvent event) throws Exception {
        try (KafkaProducer<String, MigrationEvent> producer = new KafkaProducer<>(kafka,
                new StringSerializer(), Topic.EVENTS.<MigrationEvent>serde().serializer())) {
            producer.send(new ProducerRecord<>(Topic.EVENTS.topicName(), event.getWorkloadId(), event)).get();
        }
    }
}
