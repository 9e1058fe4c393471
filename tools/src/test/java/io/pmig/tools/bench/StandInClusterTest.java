package io.pmig.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.ProcessSample;
import io.pmig.schemas.serde.SchemaCatalog;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The benchmark's stand-in cluster: after a move, the destination's samples carry the moved workload, as an agent's would. */
class StandInClusterTest {

    private static final long T = 1_000_000L;
    private final MetricsLoad load = new MetricsLoad(T);

    @BeforeAll
    static void trustPmigClasses() {
        SchemaCatalog.trustPmigClasses(); // the builders below fill enum defaults through Avro's trusted-class lookup
    }

    @Test
    void aMovedWorkloadShowsInItsDestinationsSamplesUntilItsJobEnds() {
        StandInCluster cluster = new StandInCluster();
        NodeMetrics spareBefore = load.sample("spare-00", T, 0, 10, false, new Random(1));
        assertSame(spareBefore, cluster.report(spareBefore), "nothing moved: the schedule's sample as it is");

        cluster.moved(migrate("live-00-w2", "live-00", "spare-00", 1.2, 64L << 20), T);

        NodeMetrics spare = load.sample("spare-00", T + 1_000, 1, 10, false, new Random(1));
        NodeMetrics reported = cluster.report(spare);
        ProcessSample guest = reported.getProcesses().stream().filter(p -> "live-00-w2".equals(String.valueOf(p.getWorkloadId())))
                .findFirst().orElseThrow();
        assertEquals(120.0, guest.getCpuPercent(), 1e-9, "1.2 cores, in percent of one core as agents report it");
        assertTrue(guest.getMigratable());
        assertEquals(spare.getCpuPercent() + 1.2 / MetricsLoad.CPUS * 100, reported.getCpuPercent(), 1e-9, "the node's CPU holds it");
        assertEquals(spare.getMemUsedBytes() + (64L << 20), reported.getMemUsedBytes());

        NodeMetrics later = cluster.report(load.sample("spare-00", T + StandInCluster.RECEIVED_JOB_MS, 15, 10, false, new Random(1)));
        assertTrue(later.getProcesses().stream().noneMatch(p -> "live-00-w2".equals(String.valueOf(p.getWorkloadId()))),
                "the job ended on its destination");
    }

    @Test
    void theSourcesSlotIsTakenByAReplacementUnderANewId() {
        StandInCluster cluster = new StandInCluster();
        cluster.moved(migrate("live-00-w2", "live-00", "spare-00", 1.0, 64L << 20), T);
        List<String> ids = ids(cluster.report(load.sample("live-00", T + 1_000, 1, 35, false, new Random(2))));
        assertTrue(ids.contains("live-00-w2.1"), ids.toString());
        assertFalse(ids.contains("live-00-w2"), "the moved workload is not on its source any more: " + ids);

        cluster.moved(migrate("live-00-w2.1", "live-00", "spare-01", 1.0, 64L << 20), T + 30_000);
        assertTrue(ids(cluster.report(load.sample("live-00", T + 31_000, 31, 35, false, new Random(2)))).contains("live-00-w2.2"));
        assertEquals(2, cluster.moves());
    }

    private static List<String> ids(NodeMetrics sample) {
        return sample.getProcesses().stream().filter(p -> p.getWorkloadId() != null).map(p -> p.getWorkloadId().toString()).toList();
    }

    private static MigrationCommand migrate(String workload, String source, String destination, double cores, long rss) {
        return MigrationCommand.newBuilder().setCommandId("c-" + workload).setKind(CommandKind.MIGRATE).setWorkloadId(workload)
                .setSourceNode(source).setDestinationNode(destination).setCpuRequest(cores).setMemRequestBytes(rss)
                .setIssuedAtMs(T).build();
    }
}
