package io.pmig.agent;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.agent.sampling.NodeSampler;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.testing.Scrape;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.schemas.SamplingMode;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class AgentMetricsTest {

    private static AgentConfig config(String nodeId) {
        return new AgentConfig(nodeId, Duration.ofMillis(100), SamplingMode.HOST, NodeSampler.hostCapacity(), null, 100,
                SharedBroker.clientProperties());
    }

    @Test
    void metricsEndpointShowsSamplesPublishedTheirLagTheBufferAndTheProducer() {
        String nodeId = "node-metrics-" + System.nanoTime();
        try (MetricsAgent agent = new MetricsAgent(config(nodeId).withMetrics("127.0.0.1", 0)).start()) {
            String url = "http://127.0.0.1:" + agent.metricsAddress().getPort() + "/metrics";
            await().atMost(Duration.ofSeconds(30)).until(() -> agent.delivered() >= 3);
            Scrape scrape = Scrape.of(url);

            assertTrue(scrape.contentType().startsWith("text/plain"), scrape.contentType());
            double published = scrape.value("pmig_agent_samples_published_total", "node", nodeId, "role", "agent");
            assertTrue(published >= 3, "published " + published);
            assertTrue(scrape.value("pmig_agent_samples_taken_total", "node", nodeId) >= published);
            // every acknowledged sample has its lag recorded (the agent goes on publishing while the series are read,
            // one apart at most), each below a minute on a live broker
            double lagCount = scrape.value("pmig_agent_sampling_lag_seconds_count", "node", nodeId);
            assertTrue(lagCount >= 3 && Math.abs(lagCount - published) <= 1,
                    "lag observations " + lagCount + " for " + published + " published");
            assertEquals(lagCount, scrape.value("pmig_agent_sampling_lag_seconds_bucket", "node", nodeId, "le", "60.0"));
            assertTrue(scrape.value("pmig_agent_sampling_lag_seconds_sum", "node", nodeId) > 0);
            assertEquals(100, scrape.value("pmig_agent_buffer_capacity", "node", nodeId));
            assertTrue(scrape.value("pmig_agent_buffer_depth", "node", nodeId) >= 0);
            assertEquals(0, scrape.value("pmig_agent_samples_dropped_total", "node", nodeId));
            double cpu = scrape.value("pmig_agent_node_cpu_percent", "node", nodeId);
            assertTrue(cpu >= 0 && cpu <= 100, "cpu " + cpu);
            double used = scrape.value("pmig_agent_node_memory_used_bytes", "node", nodeId);
            assertTrue(used > 0 && used <= scrape.value("pmig_agent_node_memory_total_bytes", "node", nodeId), "memory " + used);
            // the producer's own client metrics and the JVM's
            assertTrue(scrape.value("kafka_producer_record_send_total", "node", nodeId) >= 3,
                    "kafka_producer_record_send_total: " + scrape.find("kafka_producer_record_send_total"));
            assertTrue(scrape.value("jvm_memory_used_bytes", "node", nodeId) > 0);
        }
    }

    @Test
    void aMetricsPortInUseIsAConfigErrorNamingTheOptionAndTheAddress() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            MetricsAgent agent = new MetricsAgent(config("node-port-" + System.nanoTime())
                    .withMetrics("127.0.0.1", taken.getLocalPort()));
            ConfigException e = assertThrows(ConfigException.class, agent::start);
            assertEquals("--metrics-port", e.key());
            assertTrue(e.getMessage().contains("127.0.0.1:" + taken.getLocalPort()), e.getMessage());
            assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        }
    }
}
