package io.pmig.tools.bench.outcomes;

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

/** Runs the real outcome benchmark on a small generated trace; checks what it reports, not the figures' size. */
class OutcomesBenchTest {

    private static final List<String> STRATEGIES = List.of("none", "threshold", "tuned_rule", "model", "oracle", "default");
    private static final List<String> FIELDS = List.of("overload_node_s", "migrations", "needless_migrations",
            "ineffective_migrations", "ping_pong", "outage_s");

    @Test
    void everyStrategyIsReplayedOnTheSameTraceAndTheLastLineIsOneJsonObject() throws Exception {
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int status;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            status = Pmig.run("bench", "outcomes", "--nodes", "6", "--duration-s", "900", "--seed", "1", "--json");
        } finally {
            System.setOut(stdout);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        assertEquals(0, status, out);
        List<String> lines = out.strip().lines().toList();
        JsonNode result = new ObjectMapper().readTree(lines.get(lines.size() - 1));
        JsonNode strategies = result.get("strategies");
        assertEquals("trend-rule", result.get("default_scorer").asText(), "the app's default scorer is what 'default' ran");
        assertEquals(STRATEGIES, iterable(strategies), "strategies in order");
        for (String strategy : STRATEGIES) {
            for (String field : FIELDS) {
                assertTrue(strategies.get(strategy).get(field).isNumber(), strategy + "." + field + " in " + strategies);
            }
        }
        JsonNode none = strategies.get("none");
        JsonNode oracle = strategies.get("oracle");
        assertEquals(0, none.get("migrations").asInt());
        assertEquals(0.0, none.get("outage_s").asDouble());
        assertTrue(none.get("overload_node_s").asLong() > 0, "the trace must hold overloads for the comparison to mean anything");
        assertTrue(oracle.get("overload_node_s").asLong() <= none.get("overload_node_s").asLong(), strategies.toString());
        assertTrue(oracle.get("migrations").asInt() > 0, strategies.toString());
        assertEquals(0, oracle.get("needless_migrations").asInt(), "the oracle moves only off nodes that would overload");
        assertTrue(lines.stream().anyMatch(line -> line.startsWith("none ")), "the human-readable table comes first");
    }

    private static List<String> iterable(JsonNode object) {
        List<String> names = new java.util.ArrayList<>();
        object.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
