package io.pmig.tools.bench.outcomes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.schemas.NodeMetrics;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClusterModelTest {

    private static final int SECONDS = 60;

    private static ClusterTrace.Workload constant(String id, String node, double cores, float rssMib) {
        float[] cpu = new float[SECONDS];
        float[] rss = new float[SECONDS];
        Arrays.fill(cpu, (float) cores);
        Arrays.fill(rss, rssMib);
        return new ClusterTrace.Workload(id, node, "test", true, cpu, rss);
    }

    /** n1 runs w and x, 2 cores each: 100 % of its 4 cores, overloaded from the start; n2 is empty. */
    private static ClusterModel cluster() {
        ClusterTrace trace = new ClusterTrace(1_000_000L, SECONDS,
                List.of(new ClusterTrace.Node("n1", 4, 16L << 30), new ClusterTrace.Node("n2", 4, 16L << 30)),
                List.of(constant("w", "n1", 2.0, 1000), constant("x", "n1", 2.0, 100)));
        return new ClusterModel(trace, 15, new DowntimeModel(AnalyticsConfig.defaults()));
    }

    private static NodeMetrics sampleOf(ClusterModel cluster, String node) {
        return cluster.samples().stream().filter(s -> s.getNodeId().toString().equals(node)).findFirst().orElseThrow();
    }

    @Test
    void aWorkloadsDemandMovesWithItAndItsOutageRunsNowhere() {
        ClusterModel cluster = cluster();
        for (int s = 0; s <= 5; s++) {
            cluster.advanceTo(s);
            assertEquals(100.0, sampleOf(cluster, "n1").getCpuPercent(), 1e-9);
        }
        assertTrue(cluster.oracleWouldMove("n1"), "overloaded now, and moving w or x ends it");
        ClusterModel.Move move = cluster.migrate("w", "n1", "n2");
        assertFalse(move.needless, "n1 is overloaded when the move is made");
        assertEquals(0.34 + 3.2 * 1000 / 1000, move.downtimeS, 1e-9, "340 ms + 3.2 ms per MiB");
        assertEquals(5 + 1 + 4, move.landAt, "frozen from the next second for ceil(3.54 s)");
        assertNull(cluster.migrate("w", "n1", "n2"), "a workload in flight is on no source");

        cluster.advanceTo(6);
        List<NodeMetrics> frozen = cluster.samples();
        NodeMetrics n1 = frozen.get(0);
        assertEquals(50.0, n1.getCpuPercent(), 1e-9, "w's CPU runs nowhere during its outage");
        assertEquals(1100L << 20, n1.getMemUsedBytes(), "its memory stays on the source until it lands");
        assertEquals(0.0, frozen.get(1).getCpuPercent(), 1e-9);
        for (int s = 7; s < move.landAt; s++) {
            assertTrue(cluster.advanceTo(s).isEmpty());
            cluster.samples();
        }
        assertEquals(List.of(move), cluster.advanceTo(move.landAt));
        NodeMetrics n2 = sampleOf(cluster, "n2");
        assertEquals(50.0, n2.getCpuPercent(), 1e-9, "w's 2 cores now count on n2");
        assertEquals("w", n2.getProcesses().get(0).getWorkloadId().toString());

        Outcome outcome = Outcome.of(cluster);
        assertEquals(1, outcome.migrations());
        assertEquals(6, outcome.overloadNodeS(), "n1 was overloaded in seconds 0-5 only");
        assertEquals(0, outcome.ineffectiveMigrations());
        assertEquals(3.54, outcome.outageS(), 1e-9);
    }

    @Test
    void aMoveOffACalmNodeIsNeedlessAndMovingBackWithinTenMinutesIsPingPong() {
        ClusterModel cluster = cluster();
        cluster.advanceTo(0);
        cluster.samples();
        ClusterModel.Move away = cluster.migrate("w", "n1", "n2");
        for (int s = 1; s <= away.landAt; s++) {
            cluster.advanceTo(s);
            cluster.samples();
        }
        // n1 now runs x alone (50 %): calm.
        assertFalse(cluster.oracleWouldMove("n1"));
        ClusterModel.Move back = cluster.migrate("w", "n2", "n1");
        assertTrue(back.needless, "n2 at 50 % would not have been overloaded");
        for (int s = away.landAt + 1; s <= back.landAt; s++) {
            cluster.advanceTo(s);
            cluster.samples();
        }
        Outcome outcome = Outcome.of(cluster);
        assertEquals(2, outcome.migrations());
        assertEquals(1, outcome.needlessMigrations());
        assertEquals(1, outcome.pingPong(), "w is back on n1 seconds after it left");
    }
}
