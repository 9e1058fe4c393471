package io.pmig.analytics.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.Samples;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.ProcessSample;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code pmig train --publish} against a real broker: the model goes to pmig.models only when it beats the model in
 * use (or the threshold rule) and the tuned trend rule on the evaluation trace, by alarms; otherwise the command says
 * why in one line and exits non-zero, and {@code --force} publishes anyway.
 *
 * <p>The traces are made so that the outcome is known: every overload is announced 12 s ahead by a second workload
 * starting on the node while its CPU is still low - visible to a forest that sees {@code workload_count}, invisible to
 * any rule on CPU and memory, which can only react once the node is hot.
 */
class TrainQualityGateTest {

    private static final long T0 = 1_700_000_000_000L;
    /** A forest without workload_count: it sees only what the rules see. */
    private static final String CPU_ONLY = "cpu_mean,cpu_max,cpu_p95,cpu_last,cpu_stddev,cpu_slope";

    @TempDir
    static Path dir;
    static Path training;
    static Path evaluation;

    @BeforeAll
    static void writeTraces() {
        training = dir.resolve("training.avro");
        evaluation = dir.resolve("evaluation.avro");
        TraceFile.write(training, announcedOverloads(T0, 2400, 0));
        TraceFile.write(evaluation, announcedOverloads(T0 + 86_400_000L, 1200, 50));
    }

    /**
     * Three nodes in 100 s cycles: an announced overload (a second workload at 40 s, CPU 100 % from 52 to 66 s), a
     * near miss (CPU 60 % for 20 s) and a quiet cycle, in turn, each node shifted.
     */
    static List<NodeMetrics> announcedOverloads(long t0, int seconds, int shift) {
        List<NodeMetrics> samples = new ArrayList<>();
        ProcessSample resident = Samples.workload("w0", 5, 50 * Samples.MIB, true);
        ProcessSample announcer = Samples.workload("w1", 5, 50 * Samples.MIB, true);
        for (int node = 0; node < 3; node++) {
            for (int s = 0; s < seconds; s++) {
                int t = s + shift + node * 33;
                int phase = t % 100;
                int kind = (t / 100) % 3;
                double quiet = 5 + t % 7;
                boolean announced = kind == 0 && phase >= 40 && phase < 67;
                double cpu = kind == 0 ? (phase >= 52 && phase < 67 ? 100 : quiet)
                        : kind == 1 ? (phase >= 40 && phase < 60 ? 60 : quiet)
                        : quiet + 10 * ((t / 10) % 2);
                samples.add(announced
                        ? Samples.sample("n" + node, t0 + s * 1000L, cpu, 0.2, resident, announcer)
                        : Samples.sample("n" + node, t0 + s * 1000L, cpu, 0.2, resident));
            }
        }
        return samples;
    }

    record Run(int exit, String stdout, String stderr) {

        JsonNode json() throws Exception {
            String[] lines = stdout.strip().split("\n");
            return new ObjectMapper().readTree(lines[lines.length - 1]);
        }
    }

    static Run train(String... args) {
        TrainCommand command = new TrainCommand();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        command.stdout = new PrintStream(out, true, StandardCharsets.UTF_8);
        command.stderr = new PrintStream(err, true, StandardCharsets.UTF_8);
        int exit = new CommandLine(command).execute(args);
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static Run trainAndPublish(String key, String... extra) {
        List<String> args = new ArrayList<>(List.of("--trace", training.toString(), "--eval-trace", evaluation.toString(),
                "--bootstrap-server", SharedBroker.bootstrapServers(), "--model-key", key, "--publish", "--trees", "20", "--json"));
        args.addAll(List.of(extra));
        return train(args.toArray(String[]::new));
    }

    @Test
    void aModelThatWarnsBeforeTheRulesCanIsPublished() throws Exception {
        String key = "gate-pass-" + System.nanoTime();

        Run run = trainAndPublish(key);

        assertEquals(0, run.exit(), run.stdout() + run.stderr());
        JsonNode json = run.json();
        assertEquals("passed", json.get("gate").asText(), json.toString());
        assertTrue(json.get("published").asBoolean());
        // no analytics.scorer given: the app runs its default, the trend rule, and that is what the model must beat
        assertTrue(json.get("gate_in_use_name").asText().startsWith("the trend rule in use ("), json.toString());
        assertTrue(json.get("gate_alarm_f1").asDouble() > json.get("gate_in_use_alarm_f1").asDouble(), json.toString());
        assertTrue(json.get("gate_alarm_f1").asDouble() > json.get("gate_tuned_rule_alarm_f1").asDouble(), json.toString());
        assertEquals(json.get("model_version").asText(),
                ModelPublisher.current(SharedBroker.clientProperties(), key).orElseThrow().getVersion().toString());
    }

    @Test
    void aModelThatDoesNotBeatTheModelInUseIsRefusedWithOneLineAndForcePublishesIt() throws Exception {
        String key = "gate-refuse-" + System.nanoTime();
        Path good = dir.resolve("good.avro");
        Run first = train("--trace", training.toString(), "--trees", "20", "--out", good.toString());
        assertEquals(0, first.exit(), first.stdout() + first.stderr());
        ModelUpdate inUse = ModelFile.read(good);
        ModelPublisher.publish(SharedBroker.clientProperties(), key, inUse);

        // analytics.scorer=model: the published model is what the app scores with, so it is what must be beaten
        Run refused = trainAndPublish(key, "--features", CPU_ONLY, "--config", AnalyticsConfig.SCORER + "=model");

        assertEquals(TrainCommand.GATE_REFUSED, refused.exit(), refused.stdout() + refused.stderr());
        String last = refused.stderr().strip().lines().reduce((a, b) -> b).orElseThrow();
        assertTrue(last.startsWith("pmig train: not published: model "), last);
        assertTrue(last.contains("does not beat model in use " + inUse.getVersion()), last);
        assertTrue(refused.stderr().lines().noneMatch(line -> line.startsWith("\tat ")), "no stack trace: " + refused.stderr());
        JsonNode json = refused.json();
        assertEquals("refused", json.get("gate").asText());
        assertTrue(!json.get("published").asBoolean());
        assertEquals(inUse.getVersion().toString(),
                ModelPublisher.current(SharedBroker.clientProperties(), key).orElseThrow().getVersion().toString());

        Run forced = trainAndPublish(key, "--features", CPU_ONLY, "--config", AnalyticsConfig.SCORER + "=model", "--force");

        assertEquals(0, forced.exit(), forced.stdout() + forced.stderr());
        assertEquals("forced", forced.json().get("gate").asText());
        assertEquals(forced.json().get("model_version").asText(),
                ModelPublisher.current(SharedBroker.clientProperties(), key).orElseThrow().getVersion().toString());
    }
}
