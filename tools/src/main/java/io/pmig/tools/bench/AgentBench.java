package io.pmig.tools.bench;

import io.pmig.broker.EmbeddedBroker;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.config.OptionTypes;
import io.pmig.platform.topics.Topic;
import io.pmig.platform.topics.TopicCreator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code pmig bench agent}: what {@code pmig agent} costs its node at 1 Hz. The agent runs as a child JVM
 * launched like bin/pmig launches it, so the broker's threads and heap (in this process) are not counted; its
 * CPU ticks and RSS come from {@code /proc/<pid>}, read after a warm-up so that JIT compilation at start-up
 * does not count as steady-state cost.
 */
@Command(name = "agent", mixinStandardHelpOptions = true,
        description = "CPU %% and RSS of pmig agent sampling at 1 Hz (child JVM, embedded broker).")
public final class AgentBench implements Callable<Integer> {

    /** USER_HZ: the unit of utime/stime in /proc/<pid>/stat on Linux. */
    static final double CLOCK_TICKS_PER_SECOND = 100.0;

    @Option(names = {"--duration", "--seconds"}, paramLabel = "DURATION", defaultValue = "60s",
            converter = OptionTypes.Seconds.class,
            description = "Measured time after the warm-up, e.g. 60s; a bare number is seconds (default: ${DEFAULT-VALUE}).")
    Duration duration;

    @Option(names = {"--warmup", "--warmup-seconds"}, paramLabel = "DURATION", defaultValue = "15s",
            converter = OptionTypes.Seconds.class,
            description = "Not measured, e.g. 15s; a bare number is seconds (default: ${DEFAULT-VALUE}).")
    Duration warmup;

    @Option(names = "--java-opts", defaultValue = "-Xss1m -XX:+UseSerialGC", description = "JVM options of the agent, as bin/pmig's default (default: ${DEFAULT-VALUE}).")
    String javaOpts;

    @Option(names = "--json", description = "End with one JSON line: cpu_percent, rss_mib, rss_peak_mib, samples_published.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        long seconds = duration.toSeconds();
        long warmupSeconds = warmup.toSeconds();
        try (EmbeddedBroker broker = EmbeddedBroker.start(0, null)) {
            Properties client = KafkaClientOptions.of(broker.bootstrapServers()).clientProperties();
            TopicCreator.ensureTopics(client);
            String node = "bench-agent";
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.addAll(List.of(javaOpts.trim().split("\\s+")));
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.pmig.cli.Pmig", "agent",
                    "--node", node, "--bootstrap-server", broker.bootstrapServers()));
            Path log = Files.createTempFile("pmig-bench-agent-", ".log");
            Process agent = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            Map<String, Object> result = new LinkedHashMap<>();
            try {
                Thread.sleep(TimeUnit.SECONDS.toMillis(warmupSeconds));
                requireAlive(agent, log);
                long ticks0 = cpuTicks(agent.pid());
                long wall0 = System.nanoTime();
                long rssMax = 0;
                List<Long> rss = new ArrayList<>();
                long end = wall0 + TimeUnit.SECONDS.toNanos(seconds);
                while (System.nanoTime() < end) {
                    Thread.sleep(1_000);
                    requireAlive(agent, log);
                    long now = statusKib(agent.pid(), "VmRSS:");
                    rss.add(now);
                    rssMax = Math.max(rssMax, now);
                }
                long ticks1 = cpuTicks(agent.pid());
                double wallSeconds = (System.nanoTime() - wall0) / 1e9;
                double cpuPercent = (ticks1 - ticks0) / CLOCK_TICKS_PER_SECOND / wallSeconds * 100;
                long peak = statusKib(agent.pid(), "VmHWM:");
                long published = countSamples(client, node);
                System.out.printf(Locale.ROOT, "agent at 1 Hz (%s), %d s after a %d s warm-up: CPU %.2f %% of one core, "
                                + "RSS median %.0f MiB (peak %.0f MiB), %d samples on %s%n",
                        javaOpts, seconds, warmupSeconds, cpuPercent, Stats.percentile(rss, 0.5) / 1024, peak / 1024.0,
                        published, Topic.METRICS.topicName());
                result.put("cpu_percent", Stats.round(cpuPercent, 2));
                result.put("rss_mib", Stats.round(Stats.percentile(rss, 0.5) / 1024, 1));
                result.put("rss_peak_mib", Stats.round(peak / 1024.0, 1));
                result.put("samples_published", published);
                result.put("seconds", seconds + warmupSeconds);
            } finally {
                agent.destroy();
                if (!agent.waitFor(15, TimeUnit.SECONDS)) {
                    agent.destroyForcibly();
                }
                Files.deleteIfExists(log);
            }
            if (json) {
                System.out.println(JsonLine.of(result));
            }
        }
        return 0;
    }

    private static void requireAlive(Process agent, Path log) throws IOException {
        if (!agent.isAlive()) {
            throw new IllegalStateException("the agent exited with " + agent.exitValue() + ": " + Files.readString(log));
        }
    }

    /** utime + stime of a process, fields 14 and 15 of /proc/<pid>/stat (counted after the ')' of the name). */
    static long cpuTicks(long pid) throws IOException {
        return cpuTicks(Files.readString(Path.of("/proc", String.valueOf(pid), "stat")));
    }

    static long cpuTicks(String stat) {
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
        // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }

    private static long statusKib(long pid, String key) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
            if (line.startsWith(key)) {
                return Long.parseLong(line.substring(key.length()).trim().split("\\s+")[0]);
            }
        }
        return 0;
    }

    private static long countSamples(Properties client, String node) {
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(client, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(Topic.METRICS.topicName()).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            long count = 0;
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (partitions.stream().anyMatch(p -> consumer.position(p) < ends.get(p)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    if (node.equals(record.key())) {
                        count++;
                    }
                }
            }
            return count;
        }
    }
}
