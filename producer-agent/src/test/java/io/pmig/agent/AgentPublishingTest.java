package io.pmig.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.agent.sampling.NodeSampler;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.SamplingMode;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class AgentPublishingTest {

    @Test
    void samplesArriveOnTheMetricsTopicKeyedByNodeInSequence() {
        String nodeId = "node-pub-" + System.nanoTime();
        AgentConfig config = new AgentConfig(nodeId, Duration.ofMillis(200), SamplingMode.HOST,
                NodeSampler.hostCapacity(), null, 100, SharedBroker.clientProperties());
        List<NodeMetrics> records;
        MetricsAgent agent = new MetricsAgent(config).start();
        try {
            records = MetricsTopicReader.readUntil(SharedBroker.clientProperties(), nodeId, r -> r.size() >= 3);
        } finally {
            agent.close();
        }

        assertTrue(records.size() >= 3, "records for " + nodeId + ": " + records.size());
        for (int i = 0; i < records.size(); i++) {
            NodeMetrics metrics = records.get(i);
            assertEquals(nodeId, metrics.getNodeId());
            assertEquals(i, metrics.getSequence());
            assertEquals(agent.agentStartMs(), metrics.getAgentStartMs());
            assertEquals(SamplingMode.HOST, metrics.getMode());
            assertTrue(metrics.getMemTotalBytes() > 0 && metrics.getProcessCount() > 0);
            assertEquals(NodeSampler.TOP_OTHER_PROCESSES, metrics.getProcesses().size());
        }
        assertTrue(records.get(1).getTimestampMs() >= records.get(0).getTimestampMs());
        assertEquals(0, agent.buffer().dropped());
    }
}
