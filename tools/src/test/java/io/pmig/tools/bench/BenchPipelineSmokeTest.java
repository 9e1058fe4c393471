package io.pmig.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Runs the real pipeline benchmark, tiny, against embedded brokers; checks what it reports, never how fast. */
class BenchPipelineSmokeTest {

    @Test
    void pipelineBenchEndsWithAJsonLineHoldingEveryFigure() throws Exception {
        // Short windows so that a 20-s live run holds onsets and decisions; no tuned run to save a broker; one repeat.
        BenchRun run = BenchRun.of("bench", "pipeline", "--records", "2000", "--repeats", "1", "--nodes", "20", "--live-seconds", "22",
                "--live-nodes", "4", "--no-tuned", "--config", "analytics.window.size.ms=2000",
                "--config", "analytics.window.advance.ms=1000", "--json");
        assertEquals(0, run.status(), run.out());
        JsonNode json = run.json();
        for (String field : List.of("cpu_ratio", "cpu_ratio_warm", "scored_records_per_cpu_s", "bare_records_per_cpu_s",
                "scored_rps", "bare_rps", "ratio", "scored_bytes_per_record", "decision_p50_ms", "decision_p99_ms")) {
            assertTrue(json.has(field), field + " missing from " + json);
        }
        // Both apps ran as processes of their own, and the scored one scored every window with the shipped model.
        assertTrue(json.get("model_used").asBoolean(), json.toString());
        assertTrue(json.get("scored_bytes_per_record").asDouble() > 0, json.toString());
        assertTrue(json.get("decision_onsets").asInt() > 0, "the live run had no overload onset: " + json);
        assertTrue(json.get("decision_timed").asInt() > 0, "no onset led to a MIGRATE command: " + json);
        assertTrue(json.get("decision_p99_ms").isNumber(), json.toString());
    }
}
