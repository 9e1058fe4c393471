package io.pmig.executor.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.platform.topics.TopicCreator;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.util.Optional;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * What a source (after a lost COMMIT reply), recovery and LAUNCH read from pmig.events, on a real broker: a migration
 * its destination gave up did not complete, even if its late COMPLETED stands after the ROLLED_BACK in the log.
 */
class EventHistoryTest {

    private final String w = "hist-" + UUID.randomUUID().toString().substring(0, 8);

    @Test
    void aCompletedAfterTheDestinationGaveTheMigrationUpIsNotACommit() throws Exception {
        TopicCreator.ensureTopics(SharedBroker.clientProperties());
        try (KafkaProducer<String, MigrationEvent> producer = new KafkaProducer<>(SharedBroker.clientProperties(),
                new StringSerializer(), Topic.EVENTS.<MigrationEvent>serde().serializer())) {
            for (MigrationEvent e : new MigrationEvent[] {event("l", "a", Phase.LAUNCHED), event("m1", "b", Phase.ROLLED_BACK),
                    event("m1", "a", Phase.ROLLED_BACK), event("m1", "b", Phase.COMPLETED), event("m2", "b", Phase.COMPLETED)}) {
                producer.send(new ProducerRecord<>(Topic.EVENTS.topicName(), w, e)).get();
            }
        }
        EventHistory history = new EventHistory(SharedBroker.clientProperties());
        assertFalse(history.completed(w, "m1"), "m1's destination gave it up");
        assertTrue(history.completed(w, "m2"));
        Optional<MigrationEvent> placing = history.lastPlacing(w);
        assertEquals("m2", placing.orElseThrow().getMigrationId());
    }

    private MigrationEvent event(String migrationId, String node, Phase phase) {
        return MigrationEvent.newBuilder().setCommandId(migrationId).setMigrationId(migrationId).setWorkloadId(w)
                .setNode(node).setPhase(phase).setSourceNode("a").setDestinationNode(phase == Phase.LAUNCHED ? "a" : "b")
                .setTimings(PhaseTimings.newBuilder().build()).setTimestampMs(System.currentTimeMillis()).build();
    }
}
