package io.pmig.tools.bench.outcomes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.schemas.NodeMetrics;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClusterTraceTest {

    @Test
    void theShippedTraceIsTheGeneratorsOutputForItsDocumentedArguments() {
        List<NodeMetrics> shipped = OutcomesBench.readResource(OutcomesBench.SHIPPED_TRACE);
        List<NodeMetrics> generated = ClusterTraceGenerator.generate(OutcomesBench.DEFAULT_NODES, OutcomesBench.DEFAULT_SECONDS,
                OutcomesBench.DEFAULT_SEED).toSamples();
        assertEquals(generated.size(), shipped.size());
        assertEquals(24 * 3600, shipped.size(), "24 nodes, one sample a second for an hour");
        for (int i = 0; i < shipped.size(); i++) {
            assertEquals(generated.get(i), shipped.get(i), "sample " + i);
        }
    }

    @Test
    void aTraceReadBackFromItsSamplesHasTheSameDemandPerWorkload() {
        ClusterTrace trace = ClusterTraceGenerator.generate(4, 300, 9);
        ClusterTrace back = ClusterTrace.of(trace.toSamples());
        assertEquals(trace.nodes(), back.nodes());
        assertEquals(trace.workloads().size(), back.workloads().size());
        for (int w = 0; w < trace.workloads().size(); w++) {
            ClusterTrace.Workload original = trace.workloads().get(w);
            ClusterTrace.Workload read = back.workloads().get(w);
            assertEquals(original.id(), read.id());
            assertEquals(original.homeNode(), read.homeNode());
            assertEquals(original.migratable(), read.migratable());
            assertArrayEquals(original.cpuCores(), read.cpuCores(), 1e-6f);
            assertArrayEquals(original.rssMib(), read.rssMib());
        }
        assertTrue(trace.workloads().stream().anyMatch(w -> !w.migratable()), "each node has a pinned system process");
    }
}
