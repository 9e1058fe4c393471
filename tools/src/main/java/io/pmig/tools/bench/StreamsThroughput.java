package io.pmig.tools.bench;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.serde.AvroSerde;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;

/**
 * Throughput of a Kafka Streams application over records already on pmig.metrics: the records/s at which
 * its consumer group's committed offsets advance, from the first commit seen to the one that covers all
 * input. Offsets are read the same way for every topology, so start-up, rebalance and the first batch (before
 * the first commit) count for neither, and the ratio compares processing only.
 */
final class StreamsThroughput {

    static final String BARE_OUTPUT = "bench.bare-counts";

    /**
     * @param recordsPerSecond    NaN when the whole input was committed at once (too few records to time)
     * @param streamThreadCpuMs   CPU time of the application's stream threads over the whole run: unlike
     *                            records/s it does not depend on what else the machine was doing
     */
    record Result(long records, double recordsPerSecond, long elapsedMs, long streamThreadCpuMs) {

        double recordsPerCpuSecond() {
            return streamThreadCpuMs <= 0 ? Double.NaN : records * 1000.0 / streamThreadCpuMs;
        }
    }

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

    /** The bare baseline: a hopping windowed count per key over the raw bytes of pmig.metrics, same windows as pmig. */
    static Topology bareWindowedCount(AnalyticsConfig config) {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(Topic.METRICS.topicName(), Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .groupByKey()
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(config.windowSizeMs()), Duration.ofMillis(config.windowGraceMs()))
                        .advanceBy(Duration.ofMillis(config.windowAdvanceMs())))
                .count(Materialized.with(Serdes.ByteArray(), Serdes.Long()))
                .toStream()
                .map((window, count) -> KeyValue.pair(window.key(), count))
                .to(BARE_OUTPUT, Produced.with(Serdes.ByteArray(), Serdes.Long()));
        return builder.build();
    }

    static void createBareOutput(Admin admin) throws Exception {
        if (!admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(BARE_OUTPUT)) {
            admin.createTopics(List.of(new NewTopic(BARE_OUTPUT, java.util.Optional.of(Topic.METRICS.partitions()),
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

    /** Runs the topology until its group has committed {@code total} records of pmig.metrics, then stops it. */
    static Result measure(Topology topology, Properties client, String applicationId, int threads, long total,
                          Duration timeout) throws Exception {
        Path stateDir = Files.createTempDirectory("pmig-bench-state-");
        KafkaStreams streams = new KafkaStreams(topology, streamsProperties(client, applicationId, stateDir, threads));
        try (Admin admin = Admin.create(client)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (int p = 0; p < Topic.METRICS.partitions(); p++) {
                partitions.add(new TopicPartition(Topic.METRICS.topicName(), p));
            }
            long startNanos = System.nanoTime();
            streams.start();
            long deadline = startNanos + timeout.toNanos();
            long firstCommitted = -1;
            long firstNanos = 0;
            while (System.nanoTime() < deadline) {
                if (streams.state() == KafkaStreams.State.ERROR || streams.state() == KafkaStreams.State.NOT_RUNNING) {
                    throw new IllegalStateException(applicationId + " stopped in state " + streams.state());
                }
                long committed = committed(admin, applicationId, partitions);
                long now = System.nanoTime();
                if (committed > 0 && firstCommitted < 0) {
                    firstCommitted = committed;
                    firstNanos = now;
                }
                if (committed >= total) {
                    long counted = committed - firstCommitted;
                    long elapsed = now - firstNanos;
                    return new Result(total, counted > 0 ? Stats.perSecond(counted, elapsed) : Double.NaN,
                            TimeUnit.NANOSECONDS.toMillis(now - startNanos), streamThreadCpuMs(applicationId));
                }
                Thread.sleep(20);
            }
            throw new IllegalStateException(applicationId + " did not consume its " + total + " records within " + timeout);
        } finally {
            streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                    .withTimeout(Duration.ofSeconds(30)));
            streams.cleanUp();
            deleteTree(stateDir);
        }
    }

    /** CPU time of the live threads named after the application (stream threads, global thread, their producers). */
    static long streamThreadCpuMs(String applicationId) {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long nanos = 0;
        for (Thread thread : Thread.getAllStackTraces().keySet()) {
            if (thread.getName().startsWith(applicationId)) {
                long cpu = threads.getThreadCpuTime(thread.getId());
                nanos += Math.max(cpu, 0);
            }
        }
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }

    private static long committed(Admin admin, String group, List<TopicPartition> partitions) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group)
                .partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
        long sum = 0;
        for (TopicPartition partition : partitions) {
            OffsetAndMetadata offset = offsets.get(partition);
            if (offset != null) {
                sum += offset.offset();
            }
        }
        return sum;
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
