package io.pmig.executor;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.network.LocalSegment;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The networking tests' clients: the python scripts of the test resources' {@code network/}, run in a
 * {@link LocalSegment}'s client namespace to their end or in the background, and the reply logs they write
 * ({@code "<value> <gap ms>"} lines). {@link #close} ends every background client.
 */
final class SegmentClients implements AutoCloseable {

    private static final Duration WAIT = Duration.ofSeconds(120);
    private final LocalSegment segment;
    private final Path dir;
    private final List<Process> started = new ArrayList<>();
    private final Map<Process, Path> outputs = new ConcurrentHashMap<>();

    /** Clients on {@code segment}; their scripts are copied to {@code dir}. */
    SegmentClients(LocalSegment segment, Path dir) {
        this.segment = segment;
        this.dir = dir;
    }

    /** A client script, copied out of the test resources. */
    String script(String name) throws IOException {
        Path file = dir.resolve(name);
        if (!Files.exists(file)) {
            try (InputStream in = SegmentClients.class.getResourceAsStream("/network/" + name)) {
                Files.copy(in, file);
            }
        }
        return file.toString();
    }

    /** Runs {@code python3 script args} in the client's namespace to its end. */
    Process run(String script, String... args) throws Exception {
        List<String> argv = new ArrayList<>(List.of("python3", script(script)));
        argv.addAll(List.of(args));
        Process p = new ProcessBuilder(segment.inClient(argv)).redirectErrorStream(true).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), script + " " + List.of(args) + " did not end");
        return p;
    }

    /** Starts {@code argv} in the client's namespace, its output to {@code output}. */
    Process background(List<String> argv, Path output) throws IOException {
        Process p = new ProcessBuilder(segment.inClient(argv)).redirectErrorStream(true).redirectOutput(output.toFile()).start();
        started.add(p);
        outputs.put(p, output);
        return p;
    }

    /** What a background client wrote to its output. */
    String said(Process client) {
        try {
            return Files.readString(outputs.get(client)).strip();
        } catch (IOException e) {
            return e.toString();
        }
    }

    /** Waits until {@code replies} holds {@code count} reply lines, failing at once if the client ended. */
    void awaitReplies(Process client, Path replies, int count) {
        await().atMost(WAIT).pollInterval(Duration.ofMillis(50)).until(() -> {
            assertTrue(client.isAlive(), () -> "the client ended (exit " + client.exitValue() + "): " + said(client));
            return replies(replies).size() >= count;
        });
    }

    /** The {@code "<value> <gap ms>"} lines of a reply log. */
    static List<String> replies(Path file) throws IOException {
        return Files.exists(file) ? Files.readAllLines(file).stream().filter(l -> l.matches("\\d+ \\d+")).toList() : List.of();
    }

    /** The longest gap of a reply log, ms. */
    static long longestGap(Path replies) throws IOException {
        return replies(replies).stream().mapToLong(l -> Long.parseLong(l.split(" ")[1])).max().orElse(0);
    }

    @Override
    public void close() {
        started.forEach(Process::destroyForcibly);
    }
}
