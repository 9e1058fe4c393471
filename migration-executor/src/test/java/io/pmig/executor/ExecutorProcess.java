package io.pmig.executor;

import io.pmig.executor.workload.ProcessTable;
import io.pmig.schemas.serde.SchemaCatalog;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;

/**
 * {@code pmig executor} in a JVM of its own, started from the test classpath: a real process that a test can kill -9
 * (or hold with SIGSTOP) at the moment it chooses, leaving its journals, its criu processes, its containers and its
 * frozen workloads as a crash does. Start one with {@link TestNodes#startProcess}.
 */
final class ExecutorProcess implements AutoCloseable {

    private static final Duration READY_TIMEOUT = Duration.ofSeconds(90);

    private final Process process;
    private final Path log;

    private ExecutorProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /** The child's main: what {@code bin/pmig executor ARGS} runs. */
    public static void main(String[] args) {
        SchemaCatalog.trustPmigClasses();
        System.exit(new CommandLine(new ExecutorCommand()).execute(args));
    }

    /** Starts {@code pmig executor args} with its output in {@code log}; returns once it says it is ready. */
    static ExecutorProcess start(String node, Path log, Map<String, String> systemProperties, List<String> args)
            throws IOException, InterruptedException {
        return start(node, log, systemProperties, List.of(), args);
    }

    /** The same, run through {@code launcher} (a command that execs its arguments, e.g. {@code ip netns exec NS}). */
    static ExecutorProcess start(String node, Path log, Map<String, String> systemProperties, List<String> launcher,
                                 List<String> args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(launcher);
        command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData",
                "-cp", System.getProperty("java.class.path")));
        systemProperties.forEach((key, value) -> command.add("-D" + key + "=" + value));
        command.add(ExecutorProcess.class.getName());
        command.addAll(args);
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        ExecutorProcess started = new ExecutorProcess(process, log);
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (!started.output().contains("executor " + node + " ready")) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                started.kill9();
                throw new AssertionError("executor " + node + " did not start (exit " + (process.isAlive() ? "-" : process.exitValue())
                        + "):\n" + started.output());
            }
            Thread.sleep(100);
        }
        return started;
    }

    /** The executor's JVM's pid (the launcher, if any, exec'd it). */
    long pid() {
        return process.pid();
    }

    /** SIGKILL, and waits until the process is gone. */
    void kill9() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGSTOP / SIGCONT: the executor stands still (its connections stay open) until continued. */
    void signal(String signal) {
        ProcessTable.signal(signal, List.of((int) process.pid()));
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            kill9();
        }
    }

    /** What the executor has logged so far. */
    String output() throws IOException {
        return Files.exists(log) ? Files.readString(log, StandardCharsets.ISO_8859_1) : "";
    }
}
