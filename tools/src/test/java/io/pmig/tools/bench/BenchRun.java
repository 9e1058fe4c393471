package io.pmig.tools.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.cli.Pmig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** One {@code pmig bench …} run in this JVM: its exit status and what it printed (also echoed to the test's output). */
public record BenchRun(int status, String out) {

    public static BenchRun of(String... args) {
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int status;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            status = Pmig.run(args);
        } finally {
            System.setOut(stdout);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        return new BenchRun(status, out);
    }

    /** The last line, the benchmark's JSON. */
    public JsonNode json() throws IOException {
        List<String> lines = out.strip().lines().toList();
        return new ObjectMapper().readTree(lines.get(lines.size() - 1));
    }
}
