package io.pmig.analytics.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.analytics.AnalyticsConfig;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.NodeMetrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/** {@code pmig train} against a real broker: replay pmig.metrics for a time range, publish to pmig.models. */
class TrainCommandIntegrationTest {

    @Test
    void replaysTheTimeRangeTrainsAndPublishesTheModelToPmigModels() throws Exception {
        // The recorded trace, moved in time (whole seconds, so windows stay aligned) to end an hour ago and
        // renamed, so that nothing else on the shared broker falls into the replayed range.
        List<NodeMetrics> trace = TraceFile.readDefault();
        long first = trace.stream().mapToLong(NodeMetrics::getTimestampMs).min().orElseThrow();
        long last = trace.stream().mapToLong(NodeMetrics::getTimestampMs).max().orElseThrow();
        long shift = ((System.currentTimeMillis() - 3_600_000 - last) / 1000) * 1000;
        String prefix = "it" + System.nanoTime() + "-";
        List<NodeMetrics> moved = new ArrayList<>();
        for (NodeMetrics sample : trace) {
            moved.add(NodeMetrics.newBuilder(sample).setNodeId(prefix + sample.getNodeId())
                    .setTimestampMs(sample.getTimestampMs() + shift).build());
        }
        // Generous timeouts: on a starved 2-core machine a 30 s request timeout made the idempotent producer reset its
        // sequences mid-send and lose records to OutOfOrderSequenceException (seen); every send is checked below.
        var props = SharedBroker.clientProperties();
        props.put("request.timeout.ms", "120000");
        props.put("delivery.timeout.ms", "600000");
        props.put("linger.ms", "20");
        List<java.util.concurrent.Future<?>> sends = new ArrayList<>();
        try (KafkaProducer<String, NodeMetrics> producer = new KafkaProducer<>(props,
                new StringSerializer(), Topic.METRICS.<NodeMetrics>serde().serializer())) {
            // Records stamped "now" ahead of the trace in every partition: timestamps in a partition are not
            // monotonic (agents flush what they buffered through an outage), and the replay must still find them all.
            NodeMetrics recent = NodeMetrics.newBuilder(moved.get(0)).setNodeId(prefix + "recent")
                    .setTimestampMs(System.currentTimeMillis()).build();
            for (int partition = 0; partition < Topic.METRICS.partitions(); partition++) {
                sends.add(producer.send(new ProducerRecord<>(Topic.METRICS.topicName(), partition, recent.getTimestampMs(),
                        recent.getNodeId().toString(), recent)));
            }
            for (NodeMetrics sample : moved) {
                sends.add(producer.send(new ProducerRecord<>(Topic.METRICS.topicName(), null, sample.getTimestampMs(),
                        sample.getNodeId().toString(), sample)));
            }
            producer.flush();
            for (var send : sends) {
                send.get(); // a record the broker refused fails here, not as a wrong count later
            }
        }

        String key = "overload-it-" + System.nanoTime();
        TrainFromTraceTest.Run run = TrainFromTraceTest.train("--bootstrap-server", SharedBroker.bootstrapServers(),
                "--from", String.valueOf(first + shift), "--to", String.valueOf(last + shift + 1),
                "--model-key", key, "--trees", "30", "--json", "--force"); // the gate's own outcomes: TrainQualityGateTest
        assertEquals(0, run.exit(), run.stdout());
        JsonNode json = run.json();
        assertTrue(json.get("published").asBoolean());
        assertTrue(json.get("gate").asText().equals("passed") || json.get("gate").asText().equals("forced"), json.toString());
        assertEquals(0, json.get("censored_windows").asInt(), "no migration in this range");

        // The replay yields the dataset the trace file does.
        Dataset fromTrace = Dataset.build(moved, AnalyticsConfig.defaults(), OverloadDefinition.defaults());
        assertEquals(moved.size(), json.get("samples").asInt());
        assertEquals(fromTrace.split(0.3).heldOut().size(), json.get("heldout_windows").asInt());
        assertEquals(fromTrace.split(0.3).train().size(), json.get("train_windows").asInt());

        ModelUpdate published = readModel(key);
        assertNotNull(published, "no ModelUpdate under " + key + " on " + Topic.MODELS.topicName());
        assertEquals(json.get("model_version").asText(), published.getVersion().toString());
        assertEquals(first + shift, published.getTrainedFromMs());
        assertEquals(last + shift, published.getTrainedToMs());
        assertEquals(json.get("baseline_f1").asDouble(), published.getMetrics().get("baseline_f1"), 1e-4);
        assertTrue(published.getModelBytes().remaining() > 0);
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
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (consumer.position(partition) < end && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, ModelUpdate> record : consumer.poll(Duration.ofMillis(500))) {
                    if (key.equals(record.key())) {
                        found = record.value();
                    }
                }
            }
            return found;
        }
    }
}
