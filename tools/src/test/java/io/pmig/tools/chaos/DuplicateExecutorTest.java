package io.pmig.tools.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.cli.demo.CriuLocator;
import io.pmig.executor.criu.Criu;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.platform.nodes.NodeRegistry;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.schemas.ExecutorClaim;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Two real executor processes with one node id on one broker (issue 14, item 3): the second is refused and names
 * the first; after the first is killed with kill -9, the second takes the node over at once.
 */
class DuplicateExecutorTest {

    private static final List<String> JVM = List.of("-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:-UsePerfData");

    @Test
    void aSecondExecutorIsRefusedNamingTheFirstAndTakesOverOnceTheFirstIsKilled() throws Exception {
        Path root = Files.createTempDirectory("pmig-duplicate-executor");
        String node = "dup-" + UUID.randomUUID().toString().substring(0, 6);
        Criu criu = CriuLocator.locate();
        Path secret = root.resolve("secret");
        Files.createFile(secret, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(secret, "duplicate-executor-test-secret-0123456789\n");
        int firstPort = freePort();
        int secondPort = freePort();
        ChildJvm first = executor(root, node, "first", firstPort, secret, criu);
        ChildJvm second = executor(root, node, "second", secondPort, secret, criu);
        try {
            first.start(Duration.ofSeconds(90));
            ExecutorClaim running = NodeRegistry.read(SharedBroker.clientProperties(), Duration.ofSeconds(10))
                    .holder(node).orElseThrow();

            assertThrows(IllegalStateException.class, () -> second.start(Duration.ofSeconds(90)), "the duplicate exits");
            String refusal = Files.readString(second.log(), StandardCharsets.UTF_8);
            assertTrue(refusal.contains("node " + node + " already has a running executor"), refusal);
            assertTrue(refusal.contains("pid " + running.getPid()), refusal);
            assertTrue(refusal.contains("transfer 127.0.0.1:" + firstPort), refusal);
            assertTrue(refusal.contains("host " + running.getHost()) && refusal.contains("started "), refusal);

            first.kill9();
            second.start(Duration.ofSeconds(90)); // no session or heartbeat to wait out

            String takeover = Files.readString(second.log(), StandardCharsets.UTF_8);
            assertTrue(takeover.contains("taken over from the executor that no longer runs"), takeover);
            ExecutorClaim now = NodeRegistry.read(SharedBroker.clientProperties(), Duration.ofSeconds(10))
                    .holder(node).orElseThrow();
            assertEquals("127.0.0.1:" + secondPort, now.getTransferEndpoint());
            assertEquals(running.getIncarnation(), now.getPreviousIncarnation());
        } finally {
            first.kill9();
            second.stop(Duration.ofSeconds(20));
            NodeWorkloads.deleteTree(root);
        }
    }

    private static ChildJvm executor(Path root, String node, String name, int port, Path secret, Criu criu)
            throws Exception {
        Path workdir = Files.createDirectories(root.resolve(name));
        Path logs = Files.createDirectories(root.resolve("logs"));
        return new ChildJvm(name, System.getProperty("java.class.path"), JVM, List.of("executor", "--node", node,
                "--bootstrap-server", SharedBroker.bootstrapServers(), "--workdir", workdir.toString(),
                "--listen", "127.0.0.1:" + port, "--secret-file", secret.toString(), "--criu", criu.binary().toString(),
                "--init-path", root.resolve("bin").resolve("pmig-init").toString()), logs, "executor " + node + " ready");
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
