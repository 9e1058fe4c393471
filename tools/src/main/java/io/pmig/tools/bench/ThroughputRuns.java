package io.pmig.tools.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.scoring.ModelScorer;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.serde.AvroSerde;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The throughput half of {@code bench pipeline}: starts each {@link ThroughputRun} as a JVM of its own on the same
 * class path, collects what it measured, checks on pmig.scores that pmig's runs scored with the model, and reports
 * medians with their spread.
 */
final class ThroughputRuns {

    /** One run's figures over the span from its first commit to the commit of the last input record. */
    record Run(String kind, int repeat, long spanRecords, long spanMs, long spanCpuMs, long warmRecords, long warmCpuMs,
               long processCpuMs, long producedRecords, long producedBytes, Map<String, long[]> producedByTopic, long scores,
               long modelScores, String threadCpuMs) {

        double recordsPerSecond() {
            return spanMs <= 0 ? Double.NaN : spanRecords * 1000.0 / spanMs;
        }

        double recordsPerCpuSecond() {
            return spanCpuMs <= 0 ? Double.NaN : spanRecords * 1000.0 / spanCpuMs;
        }

        /** Over the last two thirds of the records: the warm app. */
        double warmRecordsPerCpuSecond() {
            return warmCpuMs <= 0 ? Double.NaN : warmRecords * 1000.0 / warmCpuMs;
        }
    }

    private static final ObjectMapper MAPPER = new ObjectMapper();
    /** bin/pmig's JVM options for every role but the agent: both apps run as a user would start them. */
    private static final List<String> JVM_OPTIONS = List.of("-Xss1m", "-XX:+UseSerialGC", "-XX:-UsePerfData");

    private final Properties client;
    private final String bootstrap;
    private final long records;
    private final int threads;
    private final List<String> extraJvmOptions;
    private final List<Run> runs = new ArrayList<>();

    ThroughputRuns(Properties client, String bootstrap, long records, int threads, List<String> extraJvmOptions) {
        this.client = client;
        this.bootstrap = bootstrap;
        this.records = records;
        this.threads = threads;
        this.extraJvmOptions = List.copyOf(extraJvmOptions);
    }

    void dsl(AnalyticsConfig config, int repeat) throws Exception {
        Map<String, String> settings = Map.of(AnalyticsConfig.WINDOW_SIZE_MS, String.valueOf(config.windowSizeMs()),
                AnalyticsConfig.WINDOW_ADVANCE_MS, String.valueOf(config.windowAdvanceMs()),
                AnalyticsConfig.WINDOW_GRACE_MS, String.valueOf(config.windowGraceMs()),
                AnalyticsConfig.THRESHOLD_CPU_PERCENT, String.valueOf(config.thresholdCpuPercent()),
                AnalyticsConfig.THRESHOLD_MEM_FRACTION, String.valueOf(config.thresholdMemFraction()),
                AnalyticsConfig.THRESHOLD_LOAD_PER_CPU, String.valueOf(config.thresholdLoadPerCpu()));
        run("dsl", repeat, settings);
    }

    void pmig(Map<String, String> settings, int repeat) throws Exception {
        run("pmig", repeat, settings);
    }

    private void run(String kind, int repeat, Map<String, String> settings) throws Exception {
        String applicationId = DecisionLatency.applicationId(kind + "-" + repeat);
        Map<TopicPartition, Long> scoresBefore = endOffsets(Topic.SCORES);
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(JVM_OPTIONS);
        command.addAll(extraJvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), ThroughputRun.class.getName(), kind, bootstrap,
                applicationId, String.valueOf(records), String.valueOf(threads)));
        settings.forEach((key, value) -> command.add(key + "=" + value));
        File log = Files.createTempFile("pmig-bench-" + kind + "-", ".log").toFile();
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log).start();
        int status = process.waitFor();
        List<String> lines = Files.readAllLines(log.toPath(), StandardCharsets.UTF_8);
        String last = lines.isEmpty() ? "" : lines.get(lines.size() - 1);
        if (status != 0 || !last.startsWith("{")) {
            String tail = String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
            throw new IllegalStateException(kind + " run " + repeat + " failed (exit " + status + "), its log " + log + " ends:\n" + tail);
        }
        log.delete();
        JsonNode json = MAPPER.readTree(last);
        Map<String, long[]> byTopic = new TreeMap<>();
        long producedRecords = 0;
        long producedBytes = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = json.get("produced").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> topic = it.next();
            long[] counts = {topic.getValue().path("records").asLong(), topic.getValue().path("bytes").asLong()};
            byTopic.put(topic.getKey().replace(applicationId + "-", ""), counts);
            producedRecords += counts[0];
            producedBytes += counts[1];
        }
        long[] scores = kind.equals("pmig") ? scoresSince(scoresBefore) : new long[2];
        Run run = new Run(kind, repeat, json.get("span_records").asLong(), json.get("span_ms").asLong(),
                json.get("span_cpu_ms").asLong(), json.get("warm_records").asLong(), json.get("warm_cpu_ms").asLong(),
                json.get("process_cpu_ms").asLong(), producedRecords, producedBytes,
                byTopic, scores[0], scores[1], json.get("thread_cpu_ms").toString());
        runs.add(run);
        System.out.printf(Locale.ROOT, "  %-4s run %d: %,8.0f records/s  %,8.0f records/CPU-s  (%,d records in %,d ms, %,d CPU-ms;"
                        + " process CPU %,d ms; warm: %,8.0f records/CPU-s)  wrote %.0f B in %.2f records per input record%s%n",
                kind, repeat, run.recordsPerSecond(), run.recordsPerCpuSecond(), run.spanRecords(), run.spanMs(), run.spanCpuMs(),
                run.processCpuMs(), run.warmRecordsPerCpuSecond(), (double) producedBytes / records, (double) producedRecords / records,
                kind.equals("pmig") ? String.format(Locale.ROOT, "; %,d scores, %,d by the model", scores[0], scores[1]) : "");
        System.out.printf(Locale.ROOT, "           CPU-ms by thread over the whole run: %s%n", run.threadCpuMs());
    }

    void report(Map<String, Object> result, double goal) {
        List<Run> pmig = runs.stream().filter(r -> r.kind().equals("pmig")).toList();
        List<Run> dsl = runs.stream().filter(r -> r.kind().equals("dsl")).toList();
        List<Double> pmigCpu = pmig.stream().map(Run::recordsPerCpuSecond).toList();
        List<Double> dslCpu = dsl.stream().map(Run::recordsPerCpuSecond).toList();
        List<Double> pmigWarm = pmig.stream().map(Run::warmRecordsPerCpuSecond).toList();
        List<Double> dslWarm = dsl.stream().map(Run::warmRecordsPerCpuSecond).toList();
        List<Double> pmigRps = pmig.stream().map(Run::recordsPerSecond).toList();
        List<Double> dslRps = dsl.stream().map(Run::recordsPerSecond).toList();
        // Each repeat's pair ran back to back: their ratios show the spread the machine's noise leaves.
        List<Double> pairCpuRatios = new ArrayList<>();
        List<Double> pairRatios = new ArrayList<>();
        List<Double> pairWarmRatios = new ArrayList<>();
        for (int i = 0; i < Math.min(pmig.size(), dsl.size()); i++) {
            pairCpuRatios.add(Stats.ratio(pmigCpu.get(i), dslCpu.get(i)));
            pairWarmRatios.add(Stats.ratio(pmigWarm.get(i), dslWarm.get(i)));
            pairRatios.add(Stats.ratio(pmigRps.get(i), dslRps.get(i)));
        }
        double cpuRatio = Stats.ratio(Stats.percentile(pmigCpu, 0.5), Stats.percentile(dslCpu, 0.5));
        double warmRatio = Stats.ratio(Stats.percentile(pmigWarm, 0.5), Stats.percentile(dslWarm, 0.5));
        double ratio = Stats.ratio(Stats.percentile(pmigRps, 0.5), Stats.percentile(dslRps, 0.5));
        boolean modelUsed = !pmig.isEmpty() && pmig.stream().allMatch(r -> r.scores() > 0 && r.modelScores() == r.scores());
        Run median = pmig.stream().sorted((a, b) -> Double.compare(a.recordsPerCpuSecond(), b.recordsPerCpuSecond()))
                .toList().get(pmig.size() / 2);
        System.out.printf(Locale.ROOT, "  median records/CPU-s: pmig %,.0f (%,.0f-%,.0f), DSL baseline %,.0f (%,.0f-%,.0f)%n",
                Stats.percentile(pmigCpu, 0.5), Stats.percentile(pmigCpu, 1e-9), Stats.percentile(pmigCpu, 1.0),
                Stats.percentile(dslCpu, 0.5), Stats.percentile(dslCpu, 1e-9), Stats.percentile(dslCpu, 1.0));
        System.out.printf(Locale.ROOT, "  cpu_ratio pmig/DSL %.2f (pairs %s; goal >= %.1f with the model in use: %s; model used: %s)%n",
                cpuRatio, rounded(pairCpuRatios), goal, cpuRatio >= goal && modelUsed ? "met" : "MISSED", modelUsed);
        System.out.printf(Locale.ROOT, "  warm cpu_ratio (the last two thirds of each run's records, the JIT mostly done) %.2f (pairs %s)%n",
                warmRatio, rounded(pairWarmRatios));
        System.out.printf(Locale.ROOT, "  records/s ratio %.2f (pairs %s; records/s depends on the machine's other load)%n",
                ratio, rounded(pairRatios));
        System.out.printf(Locale.ROOT, "  pmig wrote per input record (run %d): %.0f B in %.2f records:%n", median.repeat(),
                (double) median.producedBytes() / records, (double) median.producedRecords() / records);
        median.producedByTopic().forEach((topic, counts) -> System.out.printf(Locale.ROOT, "    %-60s %7.1f B  %5.2f records%n",
                topic, (double) counts[1] / records, (double) counts[0] / records));
        result.put("baseline", "kafka-streams-dsl-hopping-threshold");
        result.put("records", records);
        result.put("repeats", pmig.size());
        result.put("model_used", modelUsed);
        result.put("cpu_ratio", Stats.round(cpuRatio, 3));
        result.put("cpu_ratio_pairs", rounded(pairCpuRatios));
        result.put("cpu_ratio_warm", Stats.round(warmRatio, 3));
        result.put("cpu_ratio_warm_pairs", rounded(pairWarmRatios));
        result.put("scored_records_per_cpu_s", Stats.round(Stats.percentile(pmigCpu, 0.5), 0));
        result.put("bare_records_per_cpu_s", Stats.round(Stats.percentile(dslCpu, 0.5), 0));
        result.put("scored_records_per_cpu_s_runs", rounded0(pmigCpu));
        result.put("bare_records_per_cpu_s_runs", rounded0(dslCpu));
        result.put("ratio", Stats.round(ratio, 3));
        result.put("scored_rps", Stats.round(Stats.percentile(pmigRps, 0.5), 0));
        result.put("bare_rps", Stats.round(Stats.percentile(dslRps, 0.5), 0));
        result.put("scored_bytes_per_record", Stats.round((double) median.producedBytes() / records, 0));
        result.put("scored_records_out_per_record", Stats.round((double) median.producedRecords() / records, 2));
        Map<String, Object> byTopic = new LinkedHashMap<>();
        median.producedByTopic().forEach((topic, counts) -> byTopic.put(topic, Stats.round((double) counts[1] / records, 1)));
        result.put("scored_bytes_per_record_by_topic", byTopic);
        Run dslMedian = dsl.isEmpty() ? null : dsl.get(dsl.size() / 2);
        result.put("bare_bytes_per_record", dslMedian == null ? Double.NaN : Stats.round((double) dslMedian.producedBytes() / records, 0));
    }

    private static List<Double> rounded(List<Double> values) {
        return values.stream().map(v -> Stats.round(v, 2)).toList();
    }

    private static List<Double> rounded0(List<Double> values) {
        return values.stream().map(v -> Stats.round(v, 0)).toList();
    }

    private Map<TopicPartition, Long> endOffsets(Topic topic) {
        try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (int p = 0; p < topic.partitions(); p++) {
                partitions.add(new TopicPartition(topic.topicName(), p));
            }
            return consumer.endOffsets(partitions, Duration.ofSeconds(30));
        }
    }

    /** {scores, scores by the model} on pmig.scores after the given offsets: what the run just finished wrote. */
    private long[] scoresSince(Map<TopicPartition, Long> from) throws IOException {
        Map<TopicPartition, Long> to = endOffsets(Topic.SCORES);
        AvroSerde<NodeScore> serde = AvroSerde.of(NodeScore.class);
        long[] counts = new long[2];
        try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
            consumer.assign(from.keySet());
            from.forEach(consumer::seek);
            while (from.keySet().stream().anyMatch(p -> consumer.position(p) < to.get(p))) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    TopicPartition partition = new TopicPartition(record.topic(), record.partition());
                    if (record.offset() < to.get(partition) && record.value() != null) {
                        counts[0]++;
                        if (ModelScorer.NAME.equals(serde.decode(record.value()).getScorer().toString())) {
                            counts[1]++;
                        }
                    }
                }
            }
        }
        return counts;
    }

    private KafkaConsumer<byte[], byte[]> consumer() {
        Properties props = new Properties();
        props.putAll(client);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
        return new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }
}
