package io.pmig.executor;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.criu.Criu;
import io.pmig.executor.workload.InitBinary;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.executor.workload.ProcessTable;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tree a {@code --leave-stopped} dump left is let run again by {@link Criu#resumeDumped} (a rollback, the end of a
 * periodic checkpoint) with its connections working: criu leaves them in repair mode, where every send fails with
 * EINVAL and the server drops its client. A real redis-server and a client on one connection, over loopback.
 */
class ResumeDumpedTest {

    @TempDir
    Path dir;

    @Test
    void aClientKeepsItsConnectionWhenTheDumpedServerRunsAgain() throws Exception {
        Path init = InitBinary.install(InitBinary.DEFAULT_PATH);
        Criu criu = TestNodes.criu().withInitBinary(init);
        NodeWorkloads workloads = new NodeWorkloads(dir.resolve("node"), init);
        int port = TestNodes.freePort();
        int pid = workloads.launch("redis", List.of("/usr/bin/redis-server", "--port", String.valueOf(port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"));
        Path script = dir.resolve("redis_client.py");
        try (InputStream in = getClass().getResourceAsStream("/network/redis_client.py")) {
            Files.copy(in, script);
        }
        Process client = null;
        try {
            await().atMost(Duration.ofSeconds(30)).until(() -> new ProcessBuilder("python3", script.toString(), "check",
                    "127.0.0.1", String.valueOf(port), "0").start().waitFor() == 0);
            Path replies = dir.resolve("replies.log");
            client = new ProcessBuilder("python3", script.toString(), "incr", "127.0.0.1", String.valueOf(port),
                    replies.toString()).redirectErrorStream(true).redirectOutput(dir.resolve("client.out").toFile()).start();
            awaitReplies(client, replies, 20);

            Path images = dir.resolve("images");
            criu.checkpoint(pid, images);
            assertTrue(criu.resumeDumped(images, pid, ProcessTable.namespaceMembers(pid)));

            awaitReplies(client, replies, Files.readAllLines(replies).size() + 50);
        } finally {
            if (client != null) {
                client.destroyForcibly();
            }
            ProcessTable.killNamespace(pid);
        }
    }

    private void awaitReplies(Process client, Path replies, int count) {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).until(() -> {
            assertTrue(client.isAlive(), () -> "the client lost its connection: " + read(dir.resolve("client.out")));
            return Files.exists(replies) && Files.readAllLines(replies).size() >= count;
        });
    }

    private static String read(Path file) {
        try {
            return Files.readString(file).strip();
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }
}
