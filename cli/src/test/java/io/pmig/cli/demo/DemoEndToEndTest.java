package io.pmig.cli.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.cli.Pmig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The demo as a newcomer runs it, headless: its own process, real broker, real CRIU. The shipped model must
 * trigger the migration, the witness must keep counting with nothing missing, and nothing may be left running.
 */
class DemoEndToEndTest {

    @Test
    void theModelMovesTheWitnessAndNothingIsLost(@TempDir Path tmp) throws Exception {
        Path stdout = tmp.resolve("demo.out");
        Process demo = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), Pmig.class.getName(),
                "demo", "--duration-s", "240", "--exit-after-migration", "--no-dashboard", "--json")
                .redirectOutput(stdout.toFile())
                .redirectError(tmp.resolve("demo.err").toFile())
                .start();
        boolean finished = demo.waitFor(6, TimeUnit.MINUTES);
        if (!finished) {
            demo.destroy();
            demo.waitFor(60, TimeUnit.SECONDS);
        }
        List<String> lines = Files.readAllLines(stdout);
        String transcript = String.join("\n", lines) + "\n--- stderr tail ---\n" + tail(tmp.resolve("demo.err"));
        assertTrue(finished, "demo finished in time:\n" + transcript);
        JsonNode summary = new ObjectMapper().readTree(lines.get(lines.size() - 1));

        assertTrue(summary.get("triggered_by_model").asBoolean(), transcript);
        assertTrue(summary.get("migrations_completed").asLong() >= 1, transcript);
        assertEquals(0, summary.get("workloads_lost").asLong(), transcript);
        assertTrue(summary.get("witness_continuous").asBoolean(), transcript);
        assertFalse(summary.get("downtime_ms").isEmpty(), transcript);
        assertTrue(summary.get("witness_max_gap_ms").asLong() > 0, transcript);
        assertEquals(0, demo.exitValue(), transcript);
        assertTrue(transcript.contains("prediction") && transcript.contains("MIGRATE witness"), "the story is told:\n" + transcript);

        // Everything it started has stopped: no workload init of the demo is left.
        ProcessHandle.allProcesses().filter(p -> p.info().commandLine().orElse("").contains("pmig-demo-"))
                .findAny().ifPresent(p -> {
                    throw new AssertionError("left running: " + p.info().commandLine().orElse("?"));
                });
    }

    private static String tail(Path file) throws java.io.IOException {
        List<String> lines = Files.readAllLines(file);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }
}
