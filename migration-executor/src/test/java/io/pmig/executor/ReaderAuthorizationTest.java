package io.pmig.executor;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.broker.EmbeddedBroker;
import io.pmig.executor.events.PeerEvents;
import io.pmig.executor.node.NodeExecutor;
import io.pmig.platform.topics.Topic;
import io.pmig.platform.topics.TopicCreator;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * An operator takes the executors' READ on a topic away and gives it back (an ACL change being rolled out, a
 * credential being rotated): each of the node's Kafka readers waits it out and then acts on what was written
 * meanwhile. Before, the first authorization error ended the reader for good and the node went on heartbeating -
 * still chosen as a source or destination - but deaf to its commands, or to the peer events every migration waits for.
 */
class ReaderAuthorizationTest {

    private static EmbeddedBroker broker;
    private static Properties kafka;
    private final String run = "acl-" + UUID.randomUUID().toString().substring(0, 8);

    @BeforeAll
    static void startBrokerWithAcls() {
        // ACLs checked, and every principal allowed on a resource no ACL names (the broker's own and the test's calls)
        broker = EmbeddedBroker.start(0, null, Map.of(
                "authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "allow.everyone.if.no.acl.found", "true"));
        kafka = new Properties();
        kafka.put("bootstrap.servers", broker.bootstrapServers());
        TopicCreator.ensureTopics(kafka);
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    @Test
    void commandsWrittenWhileReadWasDeniedAreActedOnOnceItIsGrantedAgain() throws Exception {
        try (TestNodes nodes = new TestNodes(kafka, broker.bootstrapServers())) {
            NodeExecutor executor = nodes.start("n", new FakeEngine());
            // a KILL of a workload the node does not have: its executor answers FAILED
            String before = nodes.send(CommandKind.KILL, nodes.prefix + "absent-1", "n", null, null, List.of());
            nodes.await(TestNodes.phase(before, Phase.FAILED), Duration.ofSeconds(60), "FAILED before the ACL change");

            try (Admin admin = Admin.create(kafka)) {
                denyRead(admin, Topic.COMMANDS);
                await("the command reader is refused").atMost(Duration.ofSeconds(60))
                        .until(() -> executor.commandReaderOutages() > 0);
                String during = nodes.send(CommandKind.KILL, nodes.prefix + "absent-2", "n", null, null, List.of());
                allowReadAgain(admin, Topic.COMMANDS);
                nodes.await(TestNodes.phase(during, Phase.FAILED), Duration.ofSeconds(60),
                        "the node's answer to the command written while it could not read");
                // what an operator's alert sees
                assertTrue(executor.meters().registry().get("pmig.executor.reader.outages").tag("reader", "commands")
                        .functionCounter().count() >= 1);
                assertEquals(0, executor.meters().registry().get("pmig.executor.reader.outages").tag("reader", "events")
                        .functionCounter().count());
            }
        }
    }

    /**
     * The claim keeper reads the node registry to see whether another executor took the node over. A registry it cannot
     * read is no such sign: before, its first error fenced the executor for good (no more commands, no heartbeats).
     */
    @Test
    void anExecutorThatCannotReadTheNodeRegistryKeepsItsClaimAndActsOnCommands() throws Exception {
        try (TestNodes nodes = new TestNodes(kafka, broker.bootstrapServers()); Admin admin = Admin.create(kafka)) {
            NodeExecutor executor = nodes.start("r", new FakeEngine());
            try {
                denyRead(admin, Topic.NODES);
                await("the registry reader is refused").atMost(Duration.ofSeconds(60))
                        .until(() -> executor.registryReaderOutages() > 0);
                String during = nodes.send(CommandKind.KILL, nodes.prefix + "absent-r", "r", null, null, List.of());
                nodes.await(TestNodes.phase(during, Phase.FAILED), Duration.ofSeconds(60),
                        "the node's answer while it cannot read the registry");
                assertTrue(!executor.fenced(), "not fenced: no other executor took the node");
            } finally {
                allowReadAgain(admin, Topic.NODES);
            }
        }
    }

    @Test
    void peerEventsWrittenWhileReadWasDeniedAreDeliveredOnceItIsGrantedAgain() throws Exception {
        Properties reader = (Properties) kafka.clone();
        reader.put("default.api.timeout.ms", "3000");
        try (Admin admin = Admin.create(kafka); PeerEvents peers = new PeerEvents(reader, run + "-me")) {
            String workload = run + "-w";
            try (PeerEvents.Watch watch = peers.watch(workload, System.currentTimeMillis())) {
                publish(event(run + "-m", workload, Phase.ACCEPTED));
                assertTrue(peers.await(run + "-m", e -> e.getPhase() == Phase.ACCEPTED, Duration.ofSeconds(60)).isPresent());

                denyRead(admin, Topic.EVENTS);
                await("the events reader is refused").atMost(Duration.ofSeconds(60)).until(() -> peers.outages() > 0);
                publish(event(run + "-m", workload, Phase.ROLLED_BACK));
                allowReadAgain(admin, Topic.EVENTS);
                assertTrue(peers.await(run + "-m", e -> e.getPhase() == Phase.ROLLED_BACK, Duration.ofSeconds(60))
                        .isPresent(), "the event published while the reader could not read is delivered");
            }
        } finally {
            try (Admin admin = Admin.create(kafka)) {
                allowReadAgain(admin, Topic.EVENTS);
            }
        }
    }

    /** DENY READ for everyone, beside ALLOW ALL so that writing and describing the topic still work (DENY wins). */
    private static void denyRead(Admin admin, Topic topic) throws Exception {
        admin.createAcls(List.of(
                acl(topic, AclOperation.ALL, AclPermissionType.ALLOW),
                acl(topic, AclOperation.READ, AclPermissionType.DENY))).all().get();
    }

    private static void allowReadAgain(Admin admin, Topic topic) throws Exception {
        admin.deleteAcls(List.of(acl(topic, AclOperation.READ, AclPermissionType.DENY).toFilter())).all().get();
    }

    private static AclBinding acl(Topic topic, AclOperation operation, AclPermissionType permission) {
        return new AclBinding(new ResourcePattern(ResourceType.TOPIC, topic.topicName(), PatternType.LITERAL),
                new AccessControlEntry("User:*", "*", operation, permission));
    }

    private static MigrationEvent event(String migrationId, String workload, Phase phase) {
        return MigrationEvent.newBuilder().setCommandId(migrationId).setMigrationId(migrationId).setWorkloadId(workload)
                .setNode("acl-peer").setPhase(phase).setTimings(PhaseTimings.newBuilder().build())
                .setTimestampMs(System.currentTimeMillis()).build();
    }

    private static void publish(MigrationEvent event) throws Exception {
        try (KafkaProducer<String, MigrationEvent> producer = new KafkaProducer<>(kafka, new StringSerializer(),
                Topic.EVENTS.<MigrationEvent>serde().serializer())) {
            producer.send(new ProducerRecord<>(Topic.EVENTS.topicName(), event.getWorkloadId(), event)).get();
        }
    }
}
