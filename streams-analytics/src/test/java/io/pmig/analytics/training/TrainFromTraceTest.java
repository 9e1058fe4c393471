package io.pmig.analytics.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.scoring.ModelScorer;
import io.pmig.schemas.ModelUpdate;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code pmig train --trace} on the recorded trace shipped with pmig, as a user runs it. */
class TrainFromTraceTest {

    @TempDir
    Path dir;

    static Path shippedTrace() throws Exception {
        return Path.of(TrainFromTraceTest.class.getResource(TraceFile.DEFAULT_RESOURCE).toURI());
    }

    static Run train(String... args) {
        TrainCommand command = new TrainCommand();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        command.stdout = new PrintStream(out, true, StandardCharsets.UTF_8);
        command.stderr = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        int exit = new CommandLine(command).execute(args);
        return new Run(exit, out.toString(StandardCharsets.UTF_8));
    }

    record Run(int exit, String stdout) {

        JsonNode json() throws Exception {
            String[] lines = stdout.strip().split("\n");
            return new ObjectMapper().readTree(lines[lines.length - 1]);
        }
    }

    @Test
    void trainsAModelTheScorerAcceptsAndThatRanksAnOverloadedWindowAboveAnIdleOne() throws Exception {
        Path model = dir.resolve("model.avro");
        Run run = train("--trace", shippedTrace().toString(), "--out", model.toString(), "--trees", "40", "--json");

        assertEquals(0, run.exit(), run.stdout());
        assertTrue(run.stdout().contains("threshold rule"), run.stdout());
        JsonNode json = run.json();
        assertTrue(run.stdout().contains("alarm precision"), run.stdout());
        for (String field : List.of("f1", "baseline_f1", "precision", "recall", "lead_time_s", "model_version",
                "alarm_precision", "alarm_recall", "false_alarms_per_node_hour", "lead_p10_s", "lead_p50_s", "lead_p90_s",
                "pre_onset_f1", "hot_now_alarm_precision", "hot_now_lead_p50_s", "tuned_rule_alarm_precision",
                "tuned_rule_lead_p50_s", "tuned_rule_pre_onset_f1", "tuned_rule")) {
            assertTrue(json.has(field), "JSON line lacks " + field + ": " + json);
        }
        assertTrue(json.get("f1").asDouble() >= 0 && json.get("f1").asDouble() <= 1);
        assertFalse(json.get("published").asBoolean(), "--trace must not publish unless asked");

        ModelUpdate update = ModelFile.read(model);
        assertEquals(json.get("model_version").asText(), update.getVersion().toString());
        assertEquals(json.get("f1").asDouble(), update.getMetrics().get("f1"), 1e-4);
        ModelScorer scorer = ModelScorer.load(update, 0.5);

        Dataset data = Dataset.build(TraceFile.read(shippedTrace()), AnalyticsConfig.defaults(), OverloadDefinition.defaults());
        LabelledWindow overloaded = data.windows().stream().filter(LabelledWindow::alreadyOverloaded)
                .max(Comparator.comparingDouble(w -> w.features().get("cpu_mean"))).orElseThrow();
        LabelledWindow idle = data.windows().stream().filter(w -> !w.positive())
                .min(Comparator.comparingDouble(w -> w.features().get("cpu_max") + w.features().get("mem_fraction_last")))
                .orElseThrow();
        assertTrue(scorer.score(overloaded.features()).score() > scorer.score(idle.features()).score(),
                "overloaded " + overloaded.features() + " vs idle " + idle.features());
    }

    @Test
    void theSameDataAndSeedGiveTheSameModel() {
        Dataset data = Dataset.build(TraceFile.readDefault(), AnalyticsConfig.defaults(), OverloadDefinition.defaults());
        OverloadModelTrainer.Options options = new OverloadModelTrainer.Options(20, 7, 0.3);
        ModelUpdate first = OverloadModelTrainer.train(data, AnalyticsConfig.defaults(), options).update();
        ModelUpdate second = OverloadModelTrainer.train(data, AnalyticsConfig.defaults(), options).update();
        // Not byte-equal (the forest records its fit time), but every prediction and figure is the same.
        assertEquals(first.getMetrics(), second.getMetrics());
        ModelScorer a = ModelScorer.load(first, 0.5);
        ModelScorer b = ModelScorer.load(second, 0.5);
        for (LabelledWindow window : data.windows()) {
            assertEquals(a.score(window.features()).score(), b.score(window.features()).score(), 0.0);
        }
    }

    @Test
    void theShippedDefaultModelLoadsAndCarriesItsEvaluation() {
        ModelUpdate update = DefaultModel.load();
        ModelScorer scorer = ModelScorer.load(update, AnalyticsConfig.defaults().modelScoreThreshold());
        assertEquals(update.getVersion().toString(), scorer.version());
        for (String metric : List.of("f1", "precision", "recall", "lead_time_s", "baseline_f1")) {
            assertTrue(update.getMetrics().containsKey(metric), "default model lacks metric " + metric);
        }
    }

    @Test
    void selectingByPrecisionNamesTheAlarmPolicyItChoseAndEvaluatesUnderIt() throws Exception {
        Run run = train("--trace", shippedTrace().toString(), "--trees", "20", "--select-by", "precision", "--json");

        assertEquals(0, run.exit(), run.stdout());
        JsonNode json = run.json();
        assertEquals("precision", json.get("select_by").asText());
        double threshold = json.get("score_threshold").asDouble();
        int consecutive = json.get("consecutive_windows").asInt();
        assertTrue(threshold >= 0.3 && threshold <= 0.8 && consecutive >= 1 && consecutive <= 4, json.toString());
        assertTrue(run.stdout().contains("alarm policy: " + new OverloadModelTrainer.Policy(threshold, consecutive)), run.stdout());
        assertTrue(json.get("tuned_rule_consecutive_windows").asInt() >= 1, json.toString());
    }

    @Test
    void aTraceThatIsNotAnAvroFileIsRefusedWithItsName() throws Exception {
        Path bogus = Files.writeString(dir.resolve("bogus.avro"), "not avro");
        TrainCommand command = new TrainCommand();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        command.stderr = new PrintStream(err, true, StandardCharsets.UTF_8);
        command.stdout = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        int exit = new CommandLine(command).execute("--trace", bogus.toString());
        assertEquals(1, exit);
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("bogus.avro"), err.toString(StandardCharsets.UTF_8));
    }
}
