package io.pmig.tools.chaos;

import io.pmig.cli.Pmig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One pmig role ({@code broker}, {@code executor}) in its own JVM, so a fault can be a real {@code kill -9} and a
 * restart is a new process on the same work dir and ports. Each start logs to its own file under the log dir.
 */
final class ChildJvm {

    private final String name;
    private final String classPath;
    private final List<String> jvmOptions;
    private final List<String> args;
    private final Path logDir;
    private final String readyText;
    private Process process;
    private Path log;
    private int starts;

    /** {@code classPath}: the run's copy of this JVM's class path ({@link #pinClassPath}). */
    ChildJvm(String name, String classPath, List<String> jvmOptions, List<String> args, Path logDir, String readyText) {
        this.name = name;
        this.classPath = classPath;
        this.jvmOptions = jvmOptions;
        this.args = args;
        this.logDir = logDir;
        this.readyText = readyText;
    }

    String name() {
        return name;
    }

    /**
     * This JVM's class path with every jar a build writes (under a {@code target} directory) copied into {@code dir}:
     * the run's children, restarted again and again for minutes, must not load classes from a jar that a build
     * (bin/pmig rebuilds stale jars) rewrites meanwhile. Other jars (the Maven repository's) and directories (a test's
     * target/classes) stay as they are.
     */
    static String pinClassPath(Path dir) throws IOException {
        Files.createDirectories(dir);
        List<String> pinned = new ArrayList<>();
        int i = 0;
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            Path path = Path.of(entry);
            if (Files.isRegularFile(path) && path.toAbsolutePath().toString().contains("/target/")) {
                Path copy = dir.resolve((i++) + "-" + path.getFileName());
                Files.copy(path, copy);
                pinned.add(copy.toString());
            } else {
                pinned.add(entry);
            }
        }
        return String.join(java.io.File.pathSeparator, pinned);
    }

    /** Starts the JVM and waits until its stdout says it is ready (an executor prints that after its recovery). */
    synchronized void start(Duration timeout) throws IOException, InterruptedException {
        if (alive()) {
            throw new IllegalStateException(name + " is already running");
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", classPath, Pmig.class.getName()));
        cmd.addAll(args);
        log = logDir.resolve(name + "-" + (++starts) + ".log");
        process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!Files.readString(log, StandardCharsets.ISO_8859_1).contains(readyText)) {
            if (!process.isAlive()) {
                throw new IllegalStateException(name + " exited with " + process.exitValue() + " before it was ready; see " + log);
            }
            if (System.nanoTime() > deadline) {
                kill9();
                throw new IllegalStateException(name + " not ready within " + timeout.toSeconds() + " s; see " + log);
            }
            Thread.sleep(50);
        }
    }

    synchronized boolean alive() {
        return process != null && process.isAlive();
    }

    /** What became of the last start: "pid N" while it runs, else how it ended (for a one-line diagnosis). */
    synchronized String status() {
        if (process == null) {
            return "never started";
        }
        return process.isAlive() ? "pid " + process.pid() : "pid " + process.pid() + " exited with " + process.exitValue();
    }

    /** Sends a signal by name (STOP, CONT, ...) to the running JVM. */
    synchronized void signal(String name) throws IOException, InterruptedException {
        if (process != null && process.isAlive()) {
            new ProcessBuilder("kill", "-s", name, String.valueOf(process.pid())).inheritIO().start().waitFor();
        }
    }

    /** SIGKILL: no shutdown hook, no cleanup; child processes it started (criu, workloads) live on. */
    synchronized void kill9() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly(); // SIGKILL on Linux
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** SIGTERM without waiting: several roles shut down side by side, then {@link #stop} waits for each. */
    synchronized void terminate() {
        if (process != null && process.isAlive()) {
            process.destroy();
        }
    }

    /** SIGTERM, so the role shuts down cleanly; SIGKILL if it takes longer than the grace period. */
    synchronized void stop(Duration grace) throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                kill9();
            }
        }
    }

    synchronized Path log() {
        return log;
    }
}
