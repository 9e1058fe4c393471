package io.pmig.analytics;

import io.pmig.schemas.serde.SchemaCatalog;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * {@code pmig analytics} in a JVM of its own, started from the test classpath: an instance a test can kill -9 at the
 * moment it chooses - no commit, no leaving the group, its open transaction left for the broker to abort - as a crash
 * or an OOM kill does.
 */
final class AnalyticsProcess implements AutoCloseable {

    private static final Duration READY_TIMEOUT = Duration.ofSeconds(90);
    private static final Pattern SERVING = Pattern.compile("analytics \\S+ serving (http://\\S+)/nodes");

    private final Process process;
    private final Path log;
    private final String httpAddress;

    private AnalyticsProcess(Process process, Path log, String httpAddress) {
        this.process = process;
        this.log = log;
        this.httpAddress = httpAddress;
    }

    /** The child's main: what {@code bin/pmig analytics ARGS} runs. */
    public static void main(String[] args) {
        SchemaCatalog.trustPmigClasses();
        System.exit(new CommandLine(new AnalyticsCommand()).execute(args));
    }

    /** Starts {@code pmig analytics args} with its output in {@code log}; returns once it serves queries. */
    static AnalyticsProcess start(Path log, List<String> args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx384m", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData", "-cp", System.getProperty("java.class.path"),
                AnalyticsProcess.class.getName()));
        command.addAll(args);
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (true) {
            String output = Files.exists(log) ? Files.readString(log, StandardCharsets.ISO_8859_1) : "";
            Matcher serving = SERVING.matcher(output);
            if (serving.find()) {
                return new AnalyticsProcess(process, log, serving.group(1));
            }
            if (!process.isAlive() || System.nanoTime() > deadline) {
                process.destroyForcibly();
                throw new AssertionError("analytics did not start (exit " + (process.isAlive() ? "-" : process.exitValue())
                        + "):\n" + output);
            }
            Thread.sleep(100);
        }
    }

    /** Base URL of the instance's query endpoint; its application.server, as the others see it. */
    String httpAddress() {
        return httpAddress;
    }

    /** SIGKILL, and waits until the process is gone. */
    void kill9() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    Path log() {
        return log;
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            kill9();
        }
    }
}
