package io.pmig.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedBrokerTest {

    @Test
    void restartWithADataDirKeepsTopicsAndRecords(@TempDir Path dataDir) throws Exception {
        int port;
        try (EmbeddedBroker broker = EmbeddedBroker.start(0, dataDir)) {
            port = broker.port();
            Properties props = clientProperties(broker);
            try (Admin admin = Admin.create(props)) {
                admin.createTopics(List.of(new NewTopic("kept", 1, (short) 1))).all().get();
            }
            try (var producer = new KafkaProducer<>(props, new StringSerializer(), new StringSerializer())) {
                producer.send(new ProducerRecord<>("kept", "k", "v")).get();
            }
        }
        assertTrue(Files.exists(dataDir.resolve("logs")), "data kept after stop");

        try (EmbeddedBroker broker = EmbeddedBroker.start(port, dataDir)) {
            Properties props = clientProperties(broker);
            try (Admin admin = Admin.create(props)) {
                assertTrue(admin.listTopics().names().get().contains("kept"), "topic survives restart");
            }
            assertEquals(List.of("k=v"), readAll(props, "kept"));
        }
    }

    @Test
    void temporaryDataDirIsRemovedOnClose() {
        EmbeddedBroker broker = EmbeddedBroker.start(0, null);
        Path dir = broker.dataDir();
        assertTrue(Files.exists(dir));
        broker.close();
        assertFalse(Files.exists(dir));
    }

    private static Properties clientProperties(EmbeddedBroker broker) {
        Properties props = new Properties();
        props.put("bootstrap.servers", broker.bootstrapServers());
        return props;
    }

    private static List<String> readAll(Properties props, String topic) {
        props = (Properties) props.clone();
        props.put(ConsumerConfig.GROUP_ID_CONFIG, "embedded-broker-test");
        List<String> records = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(props, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition partition = new TopicPartition(topic, 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long end = consumer.endOffsets(List.of(partition)).get(partition);
            long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
            while (consumer.position(partition) < end && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> records.add(r.key() + "=" + r.value()));
            }
        }
        return records;
    }
}
