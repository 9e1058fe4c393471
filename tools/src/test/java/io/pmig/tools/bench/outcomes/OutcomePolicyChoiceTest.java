package io.pmig.tools.bench.outcomes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.analytics.training.ModelFile;
import io.pmig.schemas.AlarmPolicy;
import io.pmig.schemas.ModelUpdate;
import io.pmig.tools.bench.BenchRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench outcomes --choose-policy}: the model is replayed under every alarm policy of the grid, the kept one is
 * the least overload within the tuned rule's migrations, and the model file written carries it - so replaying that
 * file with no settings gives exactly the kept row.
 */
class OutcomePolicyChoiceTest {

    private static final String[] TRACE = {"--nodes", "6", "--duration-s", "600", "--seed", "3"};

    @Test
    void theKeptPolicyIsTheLeastOverloadWithinTheBudgetAndTheWrittenModelRunsUnderIt(@TempDir Path dir) throws Exception {
        Path chosen = dir.resolve("chosen.avro");
        JsonNode choice = lastJson(join(TRACE, "--choose-policy", chosen.toString(), "--json"));
        JsonNode policies = choice.get("policies");
        assertEquals(PolicyChoice.THRESHOLDS.length * PolicyChoice.CONSECUTIVE_WINDOWS.length, policies.size());
        int budget = choice.get("budget_migrations").asInt();
        assertEquals(choice.get("tuned_rule").get("migrations").asInt(), budget);
        JsonNode kept = null;
        for (JsonNode row : policies) {
            if (row.get("score_threshold").asDouble() == choice.get("chosen").get("score_threshold").asDouble()
                    && row.get("consecutive_windows").asInt() == choice.get("chosen").get("consecutive_windows").asInt()) {
                kept = row;
            }
        }
        assertNotNull(kept, choice.toString());
        boolean anyWithin = false;
        for (JsonNode row : policies) {
            anyWithin |= row.get("migrations").asInt() <= budget;
        }
        for (JsonNode row : policies) {
            if (anyWithin && row.get("migrations").asInt() <= budget) {
                assertTrue(kept.get("overload_node_s").asLong() <= row.get("overload_node_s").asLong(), "least overload within budget: " + choice);
            } else if (!anyWithin) {
                assertTrue(kept.get("migrations").asInt() <= row.get("migrations").asInt(), "fewest migrations: " + choice);
            }
        }

        ModelUpdate written = ModelFile.read(chosen);
        AlarmPolicy policy = written.getAlarmPolicy();
        assertNotNull(policy);
        assertEquals(kept.get("score_threshold").asDouble(), policy.getScoreThreshold());
        assertEquals(kept.get("consecutive_windows").asInt(), policy.getConsecutiveWindows());
        assertTrue(policy.getChosenBy().toString().contains("--choose-policy"), policy.getChosenBy().toString());

        // The app runs a model under the policy it carries: the plain benchmark with that file reproduces the kept row.
        JsonNode replayed = lastJson(join(TRACE, "--model", chosen.toString(), "--json")).get("strategies").get("model");
        for (String field : List.of("overload_node_s", "migrations", "needless_migrations", "ping_pong")) {
            assertEquals(kept.get(field).asLong(), replayed.get(field).asLong(), field + ": " + kept + " vs " + replayed);
        }
    }

    @Test
    void noReplayOnlyWritesTheTrace(@TempDir Path dir) throws Exception {
        Path trace = dir.resolve("t.avro");
        String out = run(join(TRACE, "--write-trace", trace.toString(), "--no-replay")).out();
        assertTrue(Files.size(trace) > 0);
        assertTrue(!out.contains("replayed in"), out);
        assertEquals(ClusterTraceGenerator.generate(6, 600, 3).toSamples(),
                io.pmig.analytics.training.TraceFile.read(trace), "the generated trace, as pmig train --trace reads it");
    }

    private static String[] join(String[] first, String... rest) {
        String[] all = new String[first.length + rest.length + 2];
        all[0] = "bench";
        all[1] = "outcomes";
        System.arraycopy(first, 0, all, 2, first.length);
        System.arraycopy(rest, 0, all, 2 + first.length, rest.length);
        return all;
    }

    private static JsonNode lastJson(String[] args) throws Exception {
        return run(args).json();
    }

    private static BenchRun run(String[] args) {
        BenchRun run = BenchRun.of(args);
        assertEquals(0, run.status(), run.out());
        return run;
    }
}
