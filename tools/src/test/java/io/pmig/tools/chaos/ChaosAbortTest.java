package io.pmig.tools.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.cli.Pmig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code pmig chaos} when the cluster it runs breaks for good, not by an injected fault: its broker gone (the run
 * aborts), or a node that can no longer migrate (the run fails).
 */
class ChaosAbortTest {

    /**
     * One run of two trials with a probe migration after each, and two breakages in it (one cluster start for both):
     * <ol>
     * <li>executor n2 is stopped (SIGSTOP) as soon as trial 1 is counted, so the fault-free probe n1 -> n2 after it
     * cannot complete, nor the one the other way it then tries: the probe must fail, both executors be restarted and
     * the trial carry the problem - before, a run counted only lost and duplicated workloads, and a node cut off from
     * its peers made every later refused migration look like a pass;</li>
     * <li>then the run's broker is killed -9 for good, as if it had died, so trial 2 cannot even launch its witness: the
     * run must end with one line on stderr naming the broker, exit 3, and still print the figures of the trial it
     * finished (with the failed probe), the JSON line marked incomplete.</li>
     * </ol>
     */
    @Test
    void aNodeThatCannotMigrateFailsItsProbeAndABrokerGoneEndsTheRunInOneLine() throws Exception {
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        StringWriter stderr = new StringWriter();
        PrintStream console = System.out;
        System.setOut(new PrintStream(new Tee(stdout, console), true, StandardCharsets.UTF_8));
        try {
            CommandLine cmd = Pmig.commandLine();
            cmd.setErr(new PrintWriter(stderr, true));
            CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> cmd.execute("chaos", "--trials", "2",
                    "--modes", "PLAIN", "--faults", "duplicate_command", "--seed", "5", "--probe-every", "1", "--json"));

            Awaitility.await("trial 1 finished").atMost(Duration.ofMinutes(10)).pollInterval(Duration.ofMillis(50))
                    .until(() -> text(stdout).contains("trial  1/2") || exit.isDone());
            assertFalse(exit.isDone(), "the run ended before its first probe:\n" + text(stdout) + stderr);
            List<ProcessHandle> n2 = ProcessHandle.current().descendants().filter(p -> {
                List<String> argv = commandLine(p);
                int node = argv.indexOf("--node");
                return argv.contains("executor") && node >= 0 && node + 1 < argv.size() && argv.get(node + 1).equals("n2");
            }).toList();
            assertEquals(1, n2.size(), "executor n2's JVM");
            new ProcessBuilder("kill", "-STOP", String.valueOf(n2.get(0).pid())).start().waitFor();

            Awaitility.await("the probe after trial 1 failed").atMost(Duration.ofMinutes(10))
                    .pollInterval(Duration.ofMillis(100))
                    .until(() -> text(stdout).contains("PROBE FAILED after trial 1") || exit.isDone());
            assertFalse(exit.isDone(), "the run ended before its second trial:\n" + text(stdout) + stderr);
            assertFalse(n2.get(0).isAlive(), "the stopped executor was restarted (killed, then started anew)");
            List<ProcessHandle> brokers = ProcessHandle.current().descendants()
                    .filter(p -> commandLine(p).contains("broker")).toList();
            assertEquals(1, brokers.size(), "the run's broker JVM");
            brokers.get(0).destroyForcibly(); // our own child: SIGKILL, as a crash would

            int status = exit.get(10, TimeUnit.MINUTES);
            String out = text(stdout);
            String err = stderr.toString();
            assertTrue(out.contains("PROBE FAILED after trial 1: a fault-free PLAIN migration n1 -> n2 did not complete"), out);
            assertTrue(out.contains("again: a fault-free PLAIN migration n2 -> n1 did not complete")
                    || out.contains("again: a probe LAUNCH on n2 got no answer"), "tried once more, the other way: " + out);
            assertEquals(3, status, out + err);
            assertEquals(1, err.strip().lines().count(), "one line on stderr, no stack trace:\n" + err);
            assertTrue(err.startsWith("pmig chaos: run aborted in trial 2 of 2 (the 1 finished are counted above): "), err);
            assertTrue(err.contains("broker") && err.contains("--verbose"), err);
            JsonNode json = new ObjectMapper().readTree(out.strip().lines().reduce((a, b) -> b).orElseThrow());
            assertEquals(1, json.get("trials").asInt(), out);
            assertEquals(0, json.get("lost").asInt(), out);
            assertEquals(1, json.get("probes").get("run").asInt(), out);
            assertEquals(1, json.get("probes").get("failed").asInt(), out);
            assertEquals(1, json.get("probes").get("failed_after_trials").get(0).asInt(), out);
            assertEquals(1, json.get("other_problems").asInt(), "trial 1 carries its failed probe: " + out);
            assertEquals(2, json.get("planned_trials").asInt(), out);
            assertFalse(json.get("complete").asBoolean(), out);
            assertEquals(2, json.get("aborted_in_trial").asInt(), out);
            assertTrue(json.get("abort_reason").asText().contains("broker"), out);
            assertTrue(out.contains("INCOMPLETE: 1 of 2 trials finished"), out);
            String reason = json.get("abort_reason").asText();
            String kept = reason.substring(reason.lastIndexOf(" kept in ") + " kept in ".length());
            assertTrue(java.nio.file.Files.isDirectory(java.nio.file.Path.of(kept, "logs")), "the logs are kept: " + reason);
            io.pmig.executor.workload.NodeWorkloads.deleteTree(java.nio.file.Path.of(kept));
        } finally {
            System.setOut(console);
        }
    }

    /** The process's argv from /proc (ProcessHandle.Info leaves out long command lines). */
    private static List<String> commandLine(ProcessHandle p) {
        try {
            return List.of(java.nio.file.Files.readString(java.nio.file.Path.of("/proc", String.valueOf(p.pid()), "cmdline"))
                    .split("\0"));
        } catch (java.io.IOException gone) {
            return List.of();
        }
    }

    private static String text(ByteArrayOutputStream out) {
        synchronized (out) {
            return out.toString(StandardCharsets.UTF_8);
        }
    }

    /** What the command prints, kept for the assertions and shown in the test log as it comes. */
    private static final class Tee extends java.io.OutputStream {
        private final ByteArrayOutputStream copy;
        private final PrintStream console;

        Tee(ByteArrayOutputStream copy, PrintStream console) {
            this.copy = copy;
            this.console = console;
        }

        @Override
        public void write(int b) {
            synchronized (copy) {
                copy.write(b);
            }
            console.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            synchronized (copy) {
                copy.write(b, off, len);
            }
            console.write(b, off, len);
        }
    }
}
