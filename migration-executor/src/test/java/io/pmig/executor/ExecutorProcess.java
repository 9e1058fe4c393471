package io.pmig.executor;

import static org.awaitility.Awaitility.await;

import io.pmig.executor.workload.InitBinary;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.platform.testing.SharedBroker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;

/**
 * An executor of a {@link TestNodes} cluster in its own JVM, started the way an operator starts {@code pmig executor},
 * so that a test can kill it with SIGKILL (or stop it with SIGSTOP) at any point of a migration: a real crash, with
 * whatever criu, Docker or the kernel keep running after it.
 */
final class ExecutorProcess implements AutoCloseable {

    private final String node;
    private final Process process;

    private ExecutorProcess(String node, Process process) {
        this.node = node;
        this.process = process;
    }

    /** Starts node {@code name} (again: same work dir) and returns once it takes commands. */
    static ExecutorProcess start(TestNodes nodes, String name, Map<String, String> systemProperties) throws Exception {
        String node = nodes.node(name);
        Path workdir = nodes.workdirFor(name);
        Path secret = nodes.root.resolve("secret");
        if (!Files.exists(secret)) {
            Files.write(secret, TestNodes.SECRET);
        }
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path")));
        systemProperties.forEach((key, value) -> command.add("-D" + key + "=" + value));
        command.addAll(List.of(Main.class.getName(), "--node", node,
                "--bootstrap-server", SharedBroker.bootstrapServers(), "--workdir", workdir.toString(),
                "--listen", "127.0.0.1:0", "--criu", TestNodes.criu().binary().toString(),
                "--secret-file", secret.toString(), "--init-path", InitBinary.DEFAULT_PATH.toString()));
        Path log = nodes.root.resolve(name + ".log");
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        ExecutorProcess started = new ExecutorProcess(node, process);
        await("executor " + node + " ready (log: " + log + ")").atMost(Duration.ofSeconds(90))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> !process.isAlive() || started.ready(log));
        if (!process.isAlive()) {
            throw new AssertionError("executor " + node + " exited with " + process.exitValue() + ":\n"
                    + Files.readString(log));
        }
        return started;
    }

    private boolean ready(Path log) throws IOException {
        return Files.readString(log).contains("executor " + node + " ready");
    }

    /** SIGKILL: the executor stops dead, its journals and everything it started are left as they are. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    /** SIGSTOP / SIGCONT: the executor stands still (its connections stay open) until continued. */
    void signal(String signal) {
        ProcessTable.signal(signal, List.of((int) process.pid()));
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            kill();
        }
    }

    /** {@code pmig executor} without the rest of the CLI. */
    public static final class Main {
        public static void main(String[] args) {
            System.exit(new CommandLine(new ExecutorCommand()).execute(args));
        }
    }
}
