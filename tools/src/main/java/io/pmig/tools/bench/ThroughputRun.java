package io.pmig.tools.bench;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.AnalyticsTopology;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.topics.Topic;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.Topology;

/**
 * One throughput run of {@code bench pipeline}, alone in its own JVM so that its CPU is the whole process's (stream
 * threads, producer network threads, RocksDB, GC, JIT), as a user's application would cost. Runs pmig's analytics
 * topology or the {@link DslThresholdBaseline} over the records already on pmig.metrics until its consumer group has
 * committed all of them, then prints one JSON line: the records committed between its first and last commit seen, the
 * wall and process CPU time of that span, the same from a third of the records on (warm: the JIT has compiled the hot
 * code, as in an app that runs for days), and what its producers sent per topic (store changelogs, repartition and
 * output topics). Started by {@link PipelineBench}; arguments {@code pmig|dsl BOOTSTRAP APP_ID RECORDS THREADS [KEY=VALUE]...}.
 */
public final class ThroughputRun {

    private ThroughputRun() {
    }

    public static void main(String[] args) throws Exception {
        String kind = args[0];
        Properties client = KafkaClientOptions.of(args[1]).clientProperties();
        String applicationId = args[2];
        long total = Long.parseLong(args[3]);
        int threads = Integer.parseInt(args[4]);
        Map<String, String> settings = new LinkedHashMap<>();
        for (int i = 5; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            settings.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        settings.put(AnalyticsConfig.APPLICATION_ID, applicationId);
        AnalyticsConfig config = AnalyticsConfig.of(settings);
        Topology topology = switch (kind) {
            case "pmig" -> AnalyticsTopology.buildTopology(config);
            case "dsl" -> DslThresholdBaseline.buildTopology(config);
            default -> throw new IllegalArgumentException("kind must be pmig or dsl, was " + kind);
        };
        System.out.println(JsonLine.of(measure(topology, client, applicationId, threads, total, Duration.ofMinutes(15))));
        System.exit(0); // a lingering non-daemon client thread must not keep the run's process alive
    }

    private static Map<String, Object> measure(Topology topology, Properties client, String applicationId, int threads,
                                               long total, Duration timeout) throws Exception {
        Path stateDir = Files.createTempDirectory("pmig-bench-state-");
        KafkaStreams streams = new KafkaStreams(topology, StreamsThroughput.streamsProperties(client, applicationId, stateDir, threads));
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
            long firstCpuNanos = 0;
            // The same from when a third of the records is committed: the warm app, its JIT mostly done, as it runs for days.
            long warmCommitted = -1;
            long warmNanos = 0;
            long warmCpuNanos = 0;
            while (System.nanoTime() < deadline) {
                if (streams.state() == KafkaStreams.State.ERROR || streams.state() == KafkaStreams.State.NOT_RUNNING) {
                    throw new IllegalStateException(applicationId + " stopped in state " + streams.state());
                }
                long committed = committed(admin, applicationId, partitions);
                long now = System.nanoTime();
                long cpu = processCpuNanos();
                if (committed > 0 && firstCommitted < 0) {
                    firstCommitted = committed;
                    firstNanos = now;
                    firstCpuNanos = cpu;
                }
                if (committed >= total / 3 && warmCommitted < 0) {
                    warmCommitted = committed;
                    warmNanos = now;
                    warmCpuNanos = cpu;
                }
                if (committed >= total) {
                    Map<String, Object> result = new LinkedHashMap<>();
                    result.put("records", total);
                    result.put("span_records", committed - firstCommitted);
                    result.put("span_ms", TimeUnit.NANOSECONDS.toMillis(now - firstNanos));
                    result.put("span_cpu_ms", TimeUnit.NANOSECONDS.toMillis(cpu - firstCpuNanos));
                    result.put("warm_records", committed - warmCommitted);
                    result.put("warm_ms", TimeUnit.NANOSECONDS.toMillis(now - warmNanos));
                    result.put("warm_cpu_ms", TimeUnit.NANOSECONDS.toMillis(cpu - warmCpuNanos));
                    result.put("elapsed_ms", TimeUnit.NANOSECONDS.toMillis(now - startNanos));
                    result.put("process_cpu_ms", TimeUnit.NANOSECONDS.toMillis(cpu));
                    result.put("thread_cpu_ms", cpuByThreadKind(cpu));
                    result.put("produced", producedByTopic(streams));
                    return result;
                }
                Thread.sleep(100); // an Admin request per poll is this process's CPU too: poll gently
            }
            throw new IllegalStateException(applicationId + " did not consume its " + total + " records within " + timeout);
        } finally {
            streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                    .withTimeout(Duration.ofSeconds(30)));
            streams.cleanUp();
            StreamsThroughput.deleteTree(stateDir);
        }
    }

    /** All threads of this JVM, as the OS accounts them. */
    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /**
     * Where the process's CPU went, by kind of thread over the whole run: stream threads, producer and consumer network
     * threads, the rest of the Java threads, and what no Java thread accounts for (GC, the JIT compilers, RocksDB's own
     * flush and compaction threads).
     */
    private static Map<String, Long> cpuByThreadKind(long processCpuNanos) {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        Map<String, Long> byKind = new TreeMap<>();
        long javaNanos = 0;
        for (ThreadInfo info : mx.getThreadInfo(mx.getAllThreadIds())) {
            if (info == null) {
                continue;
            }
            long nanos = Math.max(0, mx.getThreadCpuTime(info.getThreadId()));
            String name = info.getThreadName();
            String kind = name.contains("producer-network-thread") ? "producer_network"
                    : name.contains("GlobalStreamThread") ? "global_stream"
                    : name.contains("StreamThread") ? "stream"
                    : name.contains("admin") ? "admin" : "other_java";
            byKind.merge(kind, TimeUnit.NANOSECONDS.toMillis(nanos), Long::sum);
            javaNanos += nanos;
        }
        // JIT compiler threads, GC threads and RocksDB's own threads are no Java threads: the kernel names them.
        Map<String, Long> nonJava = nonJavaThreadCpuMs();
        long named = 0;
        for (Map.Entry<String, Long> entry : nonJava.entrySet()) {
            byKind.put(entry.getKey(), entry.getValue());
            named += entry.getValue();
        }
        byKind.put("other_native", Math.max(0, TimeUnit.NANOSECONDS.toMillis(Math.max(0, processCpuNanos - javaNanos)) - named));
        return byKind;
    }

    /** CPU of the JIT compilers, the VM/GC threads and RocksDB's background threads, from /proc (empty where there is none). */
    private static Map<String, Long> nonJavaThreadCpuMs() {
        Map<String, Long> byKind = new TreeMap<>();
        Path tasks = Path.of("/proc/self/task");
        if (!Files.isDirectory(tasks)) {
            return byKind;
        }
        try (var dirs = Files.list(tasks)) {
            for (Path task : dirs.toList()) {
                try {
                    String name = Files.readString(task.resolve("comm")).trim();
                    String stat = Files.readString(task.resolve("stat"));
                    // Fields after the parenthesised name: state is field 3, utime 14, stime 15 (clock ticks of 10 ms).
                    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    long ms = (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) * 10;
                    String kind = name.contains("CompilerThre") ? "jit"
                            : name.startsWith("VM Thread") || name.startsWith("GC ") ? "gc_vm"
                            : name.startsWith("rocksdb") ? "rocksdb_background" : null;
                    if (kind != null) {
                        byKind.merge(kind, ms, Long::sum);
                    }
                } catch (java.io.IOException | RuntimeException e) {
                    // the thread ended while being read
                }
            }
        } catch (java.io.IOException e) {
            return byKind;
        }
        return byKind;
    }

    /** Records and bytes (as sent, batch overhead included) per topic, summed over the run's producers. */
    private static Map<String, Map<String, Long>> producedByTopic(KafkaStreams streams) {
        Map<String, Map<String, Long>> byTopic = new TreeMap<>();
        for (Map.Entry<MetricName, ? extends Metric> entry : streams.metrics().entrySet()) {
            MetricName name = entry.getKey();
            String topic = name.tags().get("topic");
            if (!"producer-topic-metrics".equals(name.group()) || topic == null) {
                continue;
            }
            String field = switch (name.name()) {
                case "record-send-total" -> "records";
                case "byte-total" -> "bytes";
                default -> null;
            };
            if (field != null && entry.getValue().metricValue() instanceof Number value) {
                byTopic.computeIfAbsent(topic, t -> new TreeMap<>()).merge(field, value.longValue(), Long::sum);
            }
        }
        return byTopic;
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
}
