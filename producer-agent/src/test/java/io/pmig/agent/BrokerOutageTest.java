package io.pmig.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.agent.sampling.NodeSampler;
import io.pmig.broker.EmbeddedBroker;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.SamplingMode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BrokerOutageTest {

    private static final Duration OUTAGE = Duration.ofSeconds(10);

    @TempDir
    Path brokerData;

    @Test
    void samplesTakenDuringAnOutageArriveAfterwardsInOrderWithNoneLost() throws Exception {
        EmbeddedBroker broker = EmbeddedBroker.start(0, brokerData);
        int port = broker.port();
        Properties client = KafkaClientOptions.of(broker.bootstrapServers()).clientProperties();
        String nodeId = "node-outage";
        AgentConfig config = new AgentConfig(nodeId, Duration.ofMillis(100), SamplingMode.HOST,
                NodeSampler.hostCapacity(), null, 1_000, client);
        MetricsAgent agent = new MetricsAgent(config).start();
        try {
            List<NodeMetrics> beforeOutage = MetricsTopicReader.readUntil(client, nodeId, r -> r.size() >= 5);
            assertTrue(beforeOutage.size() >= 5, "delivered before the outage: " + beforeOutage.size());

            broker.close();
            long takenWhenStopped = agent.samplesTaken();
            Thread.sleep(OUTAGE.toMillis());
            assertTrue(agent.samplesTaken() > takenWhenStopped, "sampling continued while the broker was down");
            assertTrue(agent.buffer().size() > 0, "samples wait in the buffer");

            broker = EmbeddedBroker.start(port, brokerData);
            long mustArrive = agent.samplesTaken() + 5;
            List<NodeMetrics> all = MetricsTopicReader.readUntil(client, nodeId,
                    r -> !r.isEmpty() && r.get(r.size() - 1).getSequence() >= mustArrive);

            for (int i = 0; i < all.size(); i++) {
                assertEquals(i, all.get(i).getSequence(), "record " + i + " of " + all.size() + " out of place");
                assertEquals(agent.agentStartMs(), all.get(i).getAgentStartMs());
            }
            assertTrue(all.get(all.size() - 1).getSequence() >= mustArrive, "last " + all.get(all.size() - 1).getSequence());
            assertEquals(0, agent.buffer().dropped());
        } finally {
            agent.close(Duration.ofSeconds(2));
            broker.close();
        }
    }
}
