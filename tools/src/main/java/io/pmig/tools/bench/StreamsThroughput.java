package io.pmig.tools.bench;

import io.pmig.platform.topics.Topic;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.serde.AvroSerde;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;

/**
 * What the throughput runs of {@code bench pipeline} share: the backlog of samples on pmig.metrics they all read, the
 * output topic of the baseline, and the Streams settings of {@code AnalyticsApp.start}.
 */
final class StreamsThroughput {

    private StreamsThroughput() {
    }

    /**
     * Produces {@code records} samples of {@code nodes} nodes, one per node per second of sample time, ending
     * now, with occasional overload episodes so that pmig also scores, reports and decides. Producer settings
     * are the agent's (lz4, idempotent, acks=all); the record timestamp is the sample time, so the bare count
     * windows by the same time as pmig without decoding.
     */
    static long produceBacklog(Properties client, int records, int nodes, long seed) throws Exception {
        Properties props = new Properties();
        props.putAll(client);
        props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "20");
        props.put(ProducerConfig.BATCH_SIZE_CONFIG, String.valueOf(256 * 1024));
        Random random = new Random(seed);
        AvroSerde<NodeMetrics> serde = AvroSerde.of(NodeMetrics.class);
        int seconds = Math.max(1, (records + nodes - 1) / nodes);
        long start = (System.currentTimeMillis() / 1000 - seconds) * 1000;
        MetricsLoad load = new MetricsLoad(start);
        long sent = 0;
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer())) {
            for (int s = 0; s < seconds && sent < records; s++) {
                for (int n = 0; n < nodes && sent < records; n++) {
                    String node = String.format("bench-node-%04d", n);
                    // A 6-s overload episode every 5 minutes per node, at a per-node offset.
                    boolean overloaded = (s + 37L * n) % 300 < 6;
                    long ts = start + s * 1000L + n % 1000;
                    NodeMetrics sample = load.sample(node, ts, s, 30 + (n % 5) * 5, overloaded, random);
                    producer.send(new ProducerRecord<>(Topic.METRICS.topicName(), null, ts, node, serde.encode(sample)));
                    sent++;
                }
            }
            producer.flush();
        }
        return sent;
    }

    static void createOutput(Admin admin, String topic) throws Exception {
        if (!admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(topic)) {
            admin.createTopics(List.of(new NewTopic(topic, java.util.Optional.of(Topic.METRICS.partitions()),
                    java.util.Optional.empty()))).all().get(30, TimeUnit.SECONDS);
        }
    }

    /** The Streams settings of {@code AnalyticsApp.start} (exactly-once v2), for the scored and the bare run alike. */
    static Properties streamsProperties(Properties client, String applicationId, Path stateDir, int threads) {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        props.put(StreamsConfig.CLIENT_ID_CONFIG, applicationId + "-bench");
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
        props.putAll(client);
        return props;
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
