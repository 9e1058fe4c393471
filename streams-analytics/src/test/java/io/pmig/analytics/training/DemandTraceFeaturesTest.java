package io.pmig.analytics.training;

import static io.pmig.analytics.Samples.MIB;
import static io.pmig.analytics.Samples.sample;
import static io.pmig.analytics.Samples.workload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.schemas.NodeMetrics;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code train --demand-trace}: a generated trace's process CPU is demand, which on an overloaded node adds up past the
 * node's capacity; an agent reports what the processes got. Features must be computed on the agent's view (what the
 * model sees live), labels on the demand.
 */
class DemandTraceFeaturesTest {

    private static final long T0 = 1_700_000_000_000L;

    /** A 4-core node whose two workloads demand 3 + 2 cores from second 20 on (125 %: reported 100 %). */
    private static List<NodeMetrics> node() {
        List<NodeMetrics> samples = new ArrayList<>();
        for (int s = 0; s < 60; s++) {
            double a = s >= 20 ? 3.0 : 1.0;
            double b = s >= 20 ? 2.0 : 1.0;
            samples.add(sample("n1", T0 + s * 1000L, Math.min(100, (a + b) / 4 * 100), 0.3,
                    workload("n1-a", a * 100, 64 * MIB, true), workload("n1-b", b * 100, 64 * MIB, true)));
        }
        return samples;
    }

    @Test
    void processesShareTheCapacityOnlyWhenTheyDemandMore() {
        List<NodeMetrics> samples = node();
        List<NodeMetrics> reported = Dataset.asReported(samples);
        assertSame(samples.get(0), reported.get(0), "a node within its capacity is reported as it is");
        NodeMetrics hot = reported.get(30);
        assertEquals(240.0, hot.getProcesses().get(0).getCpuPercent(), 1e-9, "3 of 5 demanded cores get 3/5 of 4 cores");
        assertEquals(160.0, hot.getProcesses().get(1).getCpuPercent(), 1e-9);
        assertEquals(300.0, samples.get(30).getProcesses().get(0).getCpuPercent(), 1e-9, "the input is left alone");
    }

    @Test
    void featuresSeeTheAgentsViewLabelsTheDemand() {
        AnalyticsConfig config = AnalyticsConfig.defaults();
        OverloadDefinition overload = OverloadDefinition.defaults();
        Dataset demand = Dataset.build(node(), config, overload, Censoring.NONE, Dataset.Label.OVERLOAD, false);
        Dataset reported = Dataset.build(node(), config, overload, Censoring.NONE, Dataset.Label.OVERLOAD, true);
        assertEquals(demand.windows().size(), reported.windows().size());
        double maxDemandShare = demand.windows().stream().mapToDouble(w -> w.features().get("workload_cpu_share")).max().orElseThrow();
        double maxReportedShare = reported.windows().stream().mapToDouble(w -> w.features().get("workload_cpu_share")).max().orElseThrow();
        assertEquals(1.25, maxDemandShare, 1e-9, "read as it is, the workloads hold 125 % of the node");
        assertEquals(1.0, maxReportedShare, 1e-9, "as an agent reports them, never more than the node");
        for (int i = 0; i < demand.windows().size(); i++) {
            assertEquals(demand.windows().get(i).positive(), reported.windows().get(i).positive(), "labels come from the demand either way");
        }
        assertTrue(reported.positives() > 0);
    }
}
