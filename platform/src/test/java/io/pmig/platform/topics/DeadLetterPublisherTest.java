package io.pmig.platform.topics;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.platform.testing.SharedBroker;
import io.pmig.schemas.DeadLetter;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.serde.AvroSerde;
import io.pmig.schemas.serde.SampleRecords;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

class DeadLetterPublisherTest {

    @Test
    void aCorruptRecordIsDeadLetteredAndTheReaderGoesOn() throws Exception {
        Properties kafka = SharedBroker.clientProperties();
        String workload = "w-" + UUID.randomUUID();
        byte[] valid = AvroSerde.of(MigrationCommand.class).encode(
                MigrationCommand.newBuilder(SampleRecords.migrationCommand()).setWorkloadId(workload).build());
        byte[] garbage = "{\"not\": \"avro\"}".getBytes(StandardCharsets.UTF_8);
        RecordMetadata first;
        try (var producer = new KafkaProducer<>(kafka, new StringSerializer(), new ByteArraySerializer())) {
            // one key: the three land on one partition, in order
            first = producer.send(new ProducerRecord<>(Topic.COMMANDS.topicName(), workload, valid)).get();
            producer.send(new ProducerRecord<>(Topic.COMMANDS.topicName(), workload, garbage)).get();
            producer.send(new ProducerRecord<>(Topic.COMMANDS.topicName(), workload, valid)).get();
        }
        TopicPartition tp = new TopicPartition(first.topic(), first.partition());

        List<Long> decoded = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(kafka, new StringDeserializer(), Topic.COMMANDS.<MigrationCommand>serde().deserializer());
             var deadLetters = new DeadLetterPublisher(kafka, "test reader")) {
            consumer.assign(List.of(tp));
            consumer.seek(tp, first.offset());
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (decoded.size() < 2 && System.nanoTime() < deadline) {
                try {
                    for (ConsumerRecord<String, MigrationCommand> r : consumer.poll(Duration.ofMillis(200))) {
                        decoded.add(r.offset());
                    }
                } catch (RecordDeserializationException e) {
                    deadLetters.skip(consumer, e);
                }
            }
        }
        assertEquals(List.of(first.offset(), first.offset() + 2), decoded, "the records either side of the corrupt one are read");

        Properties readDlq = SharedBroker.clientProperties();
        readDlq.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        readDlq.put(ConsumerConfig.GROUP_ID_CONFIG, "dlq-check-" + workload);
        DeadLetter found = null;
        try (var consumer = new KafkaConsumer<>(readDlq, new StringDeserializer(), Topic.DLQ.<DeadLetter>serde().deserializer())) {
            consumer.subscribe(List.of(Topic.DLQ.topicName()));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (found == null && System.nanoTime() < deadline) {
                for (var r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.value().getOffset() == first.offset() + 1 && r.value().getPartition() == tp.partition()
                            && r.value().getSourceTopic().equals(tp.topic())) {
                        found = r.value();
                    }
                }
            }
        }
        assertNotNull(found, "dead letter on " + Topic.DLQ.topicName());
        assertEquals("test reader", found.getStage());
        assertTrue(found.getReason().contains("not a valid MigrationCommand"), found.getReason());
        byte[] value = new byte[found.getValue().remaining()];
        found.getValue().get(value);
        assertArrayEquals(garbage, value);
    }
}
