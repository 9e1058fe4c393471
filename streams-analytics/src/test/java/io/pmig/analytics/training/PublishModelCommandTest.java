package io.pmig.analytics.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.ModelUpdate;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class PublishModelCommandTest {

    /** A cluster built by hand ran "model in use: none (threshold rule)": nothing but the demo published the model. */
    @Test
    void publishesTheShippedModelUnderItsKeyAndRefusesAFileThatIsNoModel(@TempDir Path dir) throws Exception {
        String key = "shipped-" + System.nanoTime();
        int status = new CommandLine(new PublishModelCommand()).execute("--bootstrap-server",
                SharedBroker.bootstrapServers(), "--key", key);
        assertEquals(0, status);
        ModelUpdate shipped = DefaultModel.load();
        assertEquals(shipped.getVersion().toString(), readModel(key).getVersion().toString());

        Path notAModel = Files.writeString(dir.resolve("model.avro"), "not avro");
        assertNotEquals(0, new CommandLine(new PublishModelCommand()).execute("--bootstrap-server",
                SharedBroker.bootstrapServers(), "--key", key + "-bad", "--file", notAModel.toString()));
    }

    private static ModelUpdate readModel(String key) {
        Properties props = SharedBroker.clientProperties();
        props.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, String.valueOf(64 * 1024 * 1024));
        try (KafkaConsumer<String, ModelUpdate> consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                Topic.MODELS.<ModelUpdate>serde().deserializer())) {
            TopicPartition partition = new TopicPartition(Topic.MODELS.topicName(), 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long end = consumer.endOffsets(List.of(partition)).get(partition);
            ModelUpdate found = null;
            while (consumer.position(partition) < end) {
                for (var record : consumer.poll(Duration.ofMillis(500))) {
                    if (key.equals(record.key())) {
                        found = record.value();
                    }
                }
            }
            return found;
        }
    }
}
