package io.pmig.platform.topics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.broker.EmbeddedBroker;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.serde.AvroSerde;
import io.pmig.schemas.serde.SampleRecords;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** pmig's topics on a real broker: what they keep across a restart, and what a reader sees of bytes that are no record. */
class TopicRecordsTest {

    @Test
    void pmigTopicsAndTheirRecordsSurviveABrokerRestart(@TempDir Path dataDir) throws Exception {
        int port;
        MigrationEvent event = SampleRecords.migrationEvent();
        try (EmbeddedBroker broker = EmbeddedBroker.start(0, dataDir)) {
            port = broker.port();
            Properties props = KafkaClientOptions.of(broker.bootstrapServers()).clientProperties();
            TopicCreator.ensureTopics(props);
            try (var producer = new KafkaProducer<>(props, new StringSerializer(), Topic.EVENTS.<MigrationEvent>serde().serializer())) {
                producer.send(new ProducerRecord<>(Topic.EVENTS.topicName(), "w-counter", event)).get();
            }
        }
        assertTrue(Files.exists(dataDir.resolve("logs")), "data kept after stop");

        try (EmbeddedBroker broker = EmbeddedBroker.start(port, dataDir)) {
            Properties props = KafkaClientOptions.of(broker.bootstrapServers()).clientProperties();
            try (Admin admin = Admin.create(props)) {
                Set<String> topics = admin.listTopics().names().get();
                for (Topic topic : Topic.values()) {
                    assertTrue(topics.contains(topic.topicName()), topic.topicName() + " survives restart");
                }
            }
            TopicCreator.ensureTopics(props); // idempotent on an existing cluster
            List<MigrationEvent> read = readAll(props, Topic.EVENTS.topicName(), Topic.EVENTS.<MigrationEvent>serde());
            assertEquals(List.of(event), read);
        }
    }

    @Test
    void malformedBytesFailWithTopicAndOffsetNotACrash() throws Exception {
        Properties props = SharedBroker.clientProperties();
        String topic = Topic.METRICS.topicName();
        long garbageOffset;
        try (var producer = new KafkaProducer<String, byte[]>(props, new StringSerializer(), new ByteArraySerializer())) {
            garbageOffset = producer.send(new ProducerRecord<>(topic, 0, "node-x", new byte[] {(byte) 0xC3, 1, 2, 3})).get().offset();
        }
        props.put(ConsumerConfig.GROUP_ID_CONFIG, "malformed-test");
        try (var consumer = new KafkaConsumer<>(props, new StringDeserializer(), Topic.METRICS.<NodeMetrics>serde().deserializer())) {
            TopicPartition partition = new TopicPartition(topic, 0);
            consumer.assign(List.of(partition));
            consumer.seek(partition, garbageOffset);
            RecordDeserializationException e = assertThrows(RecordDeserializationException.class,
                    () -> consumer.poll(Duration.ofSeconds(10)));
            assertEquals(garbageOffset, e.offset());
            assertEquals(partition, e.topicPartition());
            assertTrue(e.getMessage().contains(topic + "-0") && e.getMessage().contains("offset " + garbageOffset), e.getMessage());
            assertTrue(e.getCause().getMessage().contains("not a valid NodeMetrics"), e.getCause().getMessage());
            // The consumer is still usable: skip the bad record and carry on.
            consumer.seek(partition, garbageOffset + 1);
            assertInstanceOf(Iterable.class, consumer.poll(Duration.ofMillis(100)));
        }
    }

    private static <T extends org.apache.avro.specific.SpecificRecordBase> List<T> readAll(
            Properties props, String topic, AvroSerde<T> serde) {
        props = (Properties) props.clone();
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        List<T> records = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(props, new StringDeserializer(), serde.deserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).collect(Collectors.toList());
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.currentTimeMillis() + 15_000;
            var end = consumer.endOffsets(partitions);
            while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p)) && System.currentTimeMillis() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> records.add(r.value()));
            }
        }
        return records;
    }
}
