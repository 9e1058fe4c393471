package io.pmig.systemtest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * README's "A cluster by hand", run verbatim: the shell block between its {@code by-hand} markers, with its work
 * directory, broker port and analytics port pointed at this test's own (the block's variables, whose defaults a reader
 * keeps). The processes it starts in the background are stopped when the script ends, whatever happened.
 */
class ClusterByHandIT {

    @Test
    void theReadmesClusterByHandRunsAsWritten() throws Exception {
        Assumptions.assumeTrue(isRoot() || "1".equals(System.getenv("PMIG_REQUIRE_DOCKER")),
                "the executors of the cluster by hand need root (criu)");
        Path root = Path.of(System.getProperty("pmig.root", "..")).toAbsolutePath().normalize();
        String readme = Files.readString(root.resolve("README.md"));
        int begin = readme.indexOf("<!-- by-hand:begin -->");
        int end = readme.indexOf("<!-- by-hand:end -->");
        assertTrue(begin > 0 && end > begin, "README has no by-hand block");
        String block = readme.substring(begin, end).replaceAll("(?m)^<!--.*-->$|^```.*$", "").strip();

        Path dir = Files.createTempDirectory("pmig-by-hand-it");
        Path state = dir.resolve("state");
        Path script = dir.resolve("by-hand.sh");
        Files.writeString(script, "set -euo pipefail\n"
                + "trap 'cp $PMIG_DIR/node-2/workloads/counter/stdout.log $PMIG_DIR/counter.log 2> /dev/null || true;"
                + " bin/pmig kill counter --bootstrap-server $BROKER > /dev/null 2>&1 || true; kill $(jobs -p) 2> /dev/null;"
                + " wait' EXIT\n" + block + "\n");
        Path output = dir.resolve("output.log");
        ProcessBuilder pb = new ProcessBuilder("setsid", "bash", script.toString()).directory(root.toFile())
                .redirectErrorStream(true).redirectOutput(output.toFile());
        pb.environment().put("PMIG_DIR", state.toString());
        pb.environment().put("BROKER", "127.0.0.1:" + freePort());
        pb.environment().put("ANALYTICS_PORT", String.valueOf(freePort()));
        Process run = pb.start();
        boolean ended = run.waitFor(10, TimeUnit.MINUTES);
        if (!ended) {
            new ProcessBuilder("kill", "-TERM", "--", "-" + run.pid()).start().waitFor();
            run.waitFor(60, TimeUnit.SECONDS);
        }
        String said = Files.readString(output, StandardCharsets.UTF_8);
        System.out.println(said);
        assertTrue(ended, "the README's block did not finish within 10 minutes: " + tail(said));
        assertEquals(0, run.exitValue(), "the README's block failed: " + tail(said));
        assertTrue(said.contains("COMPLETED"), "pmig migrate printed no COMPLETED: " + tail(said));
        assertTrue(said.lines().anyMatch(l -> l.startsWith("counter") && l.contains("node-2")),
                "pmig ps does not show the counter on node-2: " + tail(said));
        List<String> counted = Files.readAllLines(state.resolve("counter.log")); // saved before the workload is killed
        for (int i = 1; i < counted.size(); i++) {
            assertEquals(Long.parseLong(counted.get(i - 1).strip()) + 1, Long.parseLong(counted.get(i).strip()),
                    "the counter restarted or skipped after the move, line " + i);
        }
    }

    private static String tail(String text) {
        List<String> lines = text.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static boolean isRoot() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Uid:")) {
                return line.split("\\s+")[2].equals("0");
            }
        }
        return false;
    }
}
