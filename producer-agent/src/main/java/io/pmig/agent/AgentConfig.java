package io.pmig.agent;

import io.pmig.schemas.NodeCapacity;
import io.pmig.schemas.SamplingMode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;

/**
 * A validated agent configuration; {@link AgentCommand} builds it from the command line.
 *
 * @param workdir the node executor's work dir, whose {@code workloads/} lists the managed workloads; may be
 *                null in host mode (no managed workloads, disk figures of the root filesystem)
 * @param bufferRecords how many samples wait for Kafka at most before the oldest are dropped
 * @param clientProperties Kafka client properties including {@code bootstrap.servers}
 * @param metricsHost where {@code /metrics} listens, with {@code metricsPort}
 * @param metricsPort port of {@code /metrics} (0 = any free one); null: no metrics endpoint
 */
public record AgentConfig(String nodeId, Duration interval, SamplingMode mode, NodeCapacity capacity, Path workdir,
                          int bufferRecords, Properties clientProperties, String metricsHost, Integer metricsPort) {

    /** Without a metrics endpoint (in-process clusters, tests). */
    public AgentConfig(String nodeId, Duration interval, SamplingMode mode, NodeCapacity capacity, Path workdir,
                       int bufferRecords, Properties clientProperties) {
        this(nodeId, interval, mode, capacity, workdir, bufferRecords, clientProperties, null, null);
    }

    /** This config serving {@code /metrics} at host:port. */
    public AgentConfig withMetrics(String host, int port) {
        return new AgentConfig(nodeId, interval, mode, capacity, workdir, bufferRecords, clientProperties, host, port);
    }
}
