package io.pmig.executor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.transfer.TransferCredentials;
import io.pmig.platform.config.ConfigException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

class ExecutorConfigTest {

    private static final Map<String, Object> REQUIRED = Map.of(ExecutorConfig.NODE, "n1", ExecutorConfig.LISTEN, "127.0.0.1:7070");

    @Test
    void defaultsAreTheDocumentedOnes() throws Exception {
        ExecutorConfig config = ExecutorConfig.builder(new Properties()).setAll(REQUIRED).criu(TestNodes.criu())
                .initBinary(Path.of("/opt/pmig/bin/pmig-init-test")).credentials(new TransferCredentials(TestNodes.SECRET))
                .build();
        assertEquals("n1", config.node());
        assertEquals(Path.of("/var/lib/pmig/nodes/n1"), config.workdir());
        assertEquals(new InetSocketAddress("127.0.0.1", 7070), config.listen());
        assertNull(config.advertise());
        assertEquals(2, config.maxConcurrentMigrations());
        assertEquals(0.0, config.capacityCpus());
        assertEquals(0, config.capacityMemBytes());
        assertEquals(Duration.ofSeconds(30), config.prepareTimeout());
        assertEquals(Duration.ofMinutes(10), config.sessionTimeout());
        assertFalse(config.killWorkloadsOnExit());
        assertNull(config.checkpointInterval(), "periodic checkpoints are off");
        assertEquals(1L << 30, config.criu().ghostLimitCeiling());
        assertEquals(Duration.ofSeconds(10), config.eventsMaxBlock());
        assertEquals(Duration.ofSeconds(15), config.eventsDeliveryTimeout());
        assertEquals(Duration.ofSeconds(30), config.eventsPublishWait());
        assertEquals(Duration.ofSeconds(45), config.commitTimeout());
        assertEquals(true, ExecutorConfig.parse(REQUIRED).get(ExecutorConfig.WORKLOAD_UNREACHABLE_ANSWERS),
                "clients of frozen workloads are answered where the node can");
        assertTrue(ExecutorConfig.describe().contains(ExecutorConfig.COMMIT_TIMEOUT_MS + " (default 45000): "),
                ExecutorConfig.describe());
        assertTrue(ExecutorConfig.describe().lines().allMatch(line -> line.startsWith("executor.")),
                "one line per key: " + ExecutorConfig.describe());
    }

    @Test
    void textAndTypedValuesAreParsed() {
        Map<String, Object> values = ExecutorConfig.parse(Map.of(ExecutorConfig.NODE, "n1",
                ExecutorConfig.LISTEN, new InetSocketAddress("127.0.0.1", 7070), ExecutorConfig.WORKDIR, "relative/dir",
                ExecutorConfig.CAPACITY_MEM_BYTES, "8G", ExecutorConfig.CAPACITY_CPUS, "2.5",
                ExecutorConfig.KILL_WORKLOADS_ON_EXIT, "TRUE", ExecutorConfig.CHECKPOINT_INTERVAL_MS, 30_000,
                ExecutorConfig.CHECKPOINT_PEER, "10.0.0.2:7070", ExecutorConfig.PREPARE_TIMEOUT_MS, "5_000"));
        assertEquals(new InetSocketAddress("127.0.0.1", 7070), values.get(ExecutorConfig.LISTEN));
        assertEquals(Path.of("relative/dir").toAbsolutePath(), values.get(ExecutorConfig.WORKDIR));
        assertEquals(8L << 30, values.get(ExecutorConfig.CAPACITY_MEM_BYTES));
        assertEquals(2.5, values.get(ExecutorConfig.CAPACITY_CPUS));
        assertEquals(true, values.get(ExecutorConfig.KILL_WORKLOADS_ON_EXIT));
        assertEquals(30_000L, values.get(ExecutorConfig.CHECKPOINT_INTERVAL_MS));
        assertEquals(5_000L, values.get(ExecutorConfig.PREPARE_TIMEOUT_MS));
        Map<String, Object> durations = ExecutorConfig.parse(with(ExecutorConfig.SESSION_TIMEOUT_MS, "15m",
                ExecutorConfig.COMMIT_TIMEOUT_MS, "50s", ExecutorConfig.EVENTS_MAX_BLOCK_MS, "500ms"));
        assertEquals(900_000L, durations.get(ExecutorConfig.SESSION_TIMEOUT_MS), "durations as every command takes them");
        assertEquals(50_000L, durations.get(ExecutorConfig.COMMIT_TIMEOUT_MS));
        assertEquals(500L, durations.get(ExecutorConfig.EVENTS_MAX_BLOCK_MS));
    }

    @Test
    void anUnknownKeyIsRefusedByName() {
        ConfigException e = assertKeyRejected("executor.prepare.timout.ms", with("executor.prepare.timout.ms", "1000"));
        assertTrue(e.getMessage().contains("unknown executor setting"), e.getMessage());
        assertTrue(e.getMessage().contains(ExecutorConfig.PREPARE_TIMEOUT_MS), "lists the known keys: " + e.getMessage());
    }

    @Test
    void aBadValueIsRefusedNamingTheKeyAndWhatItExpects() {
        assertKeyRejected(ExecutorConfig.LISTEN, Map.of(ExecutorConfig.NODE, "n1", ExecutorConfig.LISTEN, "localhost"),
                "HOST:PORT");
        assertKeyRejected(ExecutorConfig.NODE, Map.of(ExecutorConfig.NODE, "n 1", ExecutorConfig.LISTEN, "127.0.0.1:0"),
                "letters, digits");
        assertKeyRejected(ExecutorConfig.NODE, Map.of(ExecutorConfig.LISTEN, "127.0.0.1:0"), "must be set");
        assertKeyRejected(ExecutorConfig.MAX_CONCURRENT_MIGRATIONS, with(ExecutorConfig.MAX_CONCURRENT_MIGRATIONS, "0"),
                "minimum 1");
        assertKeyRejected(ExecutorConfig.PREPARE_TIMEOUT_MS, with(ExecutorConfig.PREPARE_TIMEOUT_MS, "30x"),
                "not a duration");
        assertKeyRejected(ExecutorConfig.LISTEN, Map.of(ExecutorConfig.NODE, "n1", ExecutorConfig.LISTEN, "host:70000"),
                "port 0 to 65535");
        assertKeyRejected(ExecutorConfig.CAPACITY_MEM_BYTES, with(ExecutorConfig.CAPACITY_MEM_BYTES, "4GB"),
                "K, M, G or T");
        assertKeyRejected(ExecutorConfig.KILL_WORKLOADS_ON_EXIT, with(ExecutorConfig.KILL_WORKLOADS_ON_EXIT, "yes"),
                "true or false");
        assertKeyRejected(ExecutorConfig.CHECKPOINT_PEER, with(ExecutorConfig.CHECKPOINT_INTERVAL_MS, "1000"),
                ExecutorConfig.CHECKPOINT_INTERVAL_MS);
        assertKeyRejected(ExecutorConfig.WORKLOAD_UNREACHABLE_ANSWERS,
                with(ExecutorConfig.WORKLOAD_UNREACHABLE_ANSWERS, "off"), "true or false");
    }

    @Test
    void timeoutsOutOfTheCommitProtocolsOrderAreRefusedNamingTheKeys() {
        ConfigException publish = assertKeyRejected(ExecutorConfig.EVENTS_PUBLISH_WAIT_MS,
                with(ExecutorConfig.EVENTS_DELIVERY_TIMEOUT_MS, "20000"), ExecutorConfig.EVENTS_MAX_BLOCK_MS);
        assertTrue(publish.getMessage().contains(ExecutorConfig.EVENTS_DELIVERY_TIMEOUT_MS), publish.getMessage());
        assertKeyRejected(ExecutorConfig.COMMIT_TIMEOUT_MS, with(ExecutorConfig.COMMIT_TIMEOUT_MS, "30000"),
                ExecutorConfig.EVENTS_PUBLISH_WAIT_MS);
        assertKeyRejected(ExecutorConfig.SESSION_TIMEOUT_MS, with(ExecutorConfig.SESSION_TIMEOUT_MS, "89999"),
                ExecutorConfig.COMMIT_TIMEOUT_MS);
        // all of them shorter, in order: fine
        ExecutorConfig.parse(with(ExecutorConfig.EVENTS_MAX_BLOCK_MS, "1000", ExecutorConfig.EVENTS_DELIVERY_TIMEOUT_MS, "5000",
                ExecutorConfig.EVENTS_PUBLISH_WAIT_MS, "7000", ExecutorConfig.COMMIT_TIMEOUT_MS, "8000",
                ExecutorConfig.SESSION_TIMEOUT_MS, "16000"));
    }

    private static Map<String, Object> with(String... keysAndValues) {
        Map<String, Object> overrides = new HashMap<>(REQUIRED);
        for (int i = 0; i < keysAndValues.length; i += 2) {
            overrides.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return overrides;
    }

    private static ConfigException assertKeyRejected(String key, Map<String, ?> overrides, String... mentions) {
        ConfigException error = assertThrows(ConfigException.class, () -> ExecutorConfig.parse(overrides));
        assertEquals(key, error.key(), error.getMessage());
        assertTrue(error.getMessage().startsWith(key + ":"), error.getMessage());
        assertFalse(error.getMessage().contains("\n"), "one line: " + error.getMessage());
        for (String mention : mentions) {
            assertTrue(error.getMessage().contains(mention), error.getMessage());
        }
        return error;
    }
}
