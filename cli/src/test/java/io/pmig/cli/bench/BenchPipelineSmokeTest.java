package io.pmig.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.cli.Pmig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Runs the real pipeline benchmark, tiny, against embedded brokers; checks what it reports, never how fast. */
class BenchPipelineSmokeTest {

    @Test
    void pipelineBenchEndsWithAJsonLineHoldingEveryFigure() throws Exception {
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int status;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            // Short windows so that a 20-s live run holds onsets and decisions; no tuned run to save a broker.
            status = Pmig.run("bench", "pipeline", "--records", "2000", "--nodes", "20", "--live-seconds", "22",
                    "--live-nodes", "4", "--no-tuned", "--config", "analytics.window.size.ms=2000",
                    "--config", "analytics.window.advance.ms=1000", "--json");
        } finally {
            System.setOut(stdout);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        assertEquals(0, status, out);
        List<String> lines = out.strip().lines().toList();
        JsonNode json = new ObjectMapper().readTree(lines.get(lines.size() - 1));
        for (String field : List.of("scored_rps", "bare_rps", "ratio", "decision_p50_ms", "decision_p99_ms")) {
            assertTrue(json.has(field), field + " missing from " + json);
        }
        assertTrue(json.get("decision_onsets").asInt() > 0, "the live run had no overload onset: " + json);
        assertTrue(json.get("decision_timed").asInt() > 0, "no onset led to a MIGRATE command: " + json);
        assertTrue(json.get("decision_p99_ms").isNumber(), json.toString());
    }
}
