package io.pmig.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

/**
 * Runs the real migration benchmark with a TCP client, tiny (16 MiB, PLAIN): the workload moves with its own address
 * and the client's figures are reported next to the executor's; what a client must see is checked, never how fast.
 */
class BenchMigrateClientSmokeTest {

    @Test
    void aTcpClientKeepsItsConnectionAndIsNeverRefusedOrReset() throws Exception {
        BenchRun run = BenchRun.of("bench", "migrate", "--sizes-mib", "16", "--modes", "PLAIN", "--client", "tcp", "--json");
        assertEquals(0, run.status(), run.out());
        JsonNode entry = run.json().get(0);
        assertEquals("COMPLETED", entry.get("status").asText(), entry.toString());
        assertTrue(entry.get("client_gap_ms").asLong() > 0, "the client saw no pause at all: " + entry);
        assertTrue(entry.get("client_probes").asInt() > 0, "no new connection was tried during the run: " + entry);
        assertEquals(0, entry.get("client_resets").asInt(), entry.toString());
        assertEquals(0, entry.get("client_refused").asInt(), entry.toString());
    }
}
