package io.pmig.analytics.windows;

import static io.pmig.analytics.Samples.sample;

import io.pmig.analytics.AnalyticsApp;
import io.pmig.analytics.AnalyticsConfig;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.serde.AvroSerde;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import java.util.stream.IntStream;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * What the window processor asks before it judges silence, read from a real instance's consumer: behind on
 * pmig.metrics while a backlog waits unfetched, not behind once it has read everything.
 */
class InputLagTest {

    private static final Duration DEADLINE = Duration.ofSeconds(90);

    @Test
    void aRunningInstanceIsBehindWhileItsBacklogWaitsAndNotOnceItIsRead() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        int partitions = Topic.METRICS.partitions();
        // a backlog produced before the instance starts: 5 minutes of 60 nodes, on every partition
        AvroSerde<NodeMetrics> serde = AvroSerde.of(NodeMetrics.class);
        long start = System.currentTimeMillis() - 300_000;
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(SharedBroker.clientProperties(),
                new StringSerializer(), new ByteArraySerializer())) {
            for (int second = 0; second < 300; second++) {
                for (int node = 0; node < 60; node++) {
                    NodeMetrics sample = sample("lag-" + node + "-" + run, start + second * 1000L, 30, 0.3);
                    producer.send(new ProducerRecord<>(Topic.METRICS.topicName(), sample.getNodeId().toString(), serde.encode(sample)));
                }
            }
        }
        Properties client = SharedBroker.clientProperties();
        // read it slowly enough to be seen behind: small fetches
        client.put("main.consumer.max.poll.records", "5");
        client.put("main.consumer.max.partition.fetch.bytes", "2048");
        InputLag.ConsumerLag lag = InputLag.ofConsumer();
        AnalyticsApp app = AnalyticsApp.start(AnalyticsConfig.of(Map.of(AnalyticsConfig.APPLICATION_ID, "input-lag-" + run)),
                client, "lag", "127.0.0.1", 0, Files.createTempDirectory("analytics-lag-"));
        try {
            lag.attach(app.streams());
            await("behind on some partition while the backlog is read",
                    () -> IntStream.range(0, partitions).anyMatch(lag::behind));
            // the metric is looked up again every few seconds; forget makes the next answer fresh
            await("behind on none once everything is read", () -> {
                IntStream.range(0, partitions).forEach(lag::forget);
                return IntStream.range(0, partitions).noneMatch(lag::behind);
            });
        } finally {
            app.close();
        }
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("gave up waiting for: " + what);
            }
            Thread.sleep(50);
        }
    }
}
