package io.pmig.agent;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.pmig.agent.publish.AgentMeters;
import io.pmig.agent.publish.BufferedSample;
import io.pmig.agent.publish.MetricsPublisher;
import io.pmig.agent.publish.SampleBuffer;
import io.pmig.agent.sampling.NodeSampler;
import io.pmig.platform.metrics.MetricsServer;
import io.pmig.platform.metrics.RoleMetrics;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.serde.AvroSerde;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * One node's agent: a sampler thread that takes a {@link NodeMetrics} sample every interval and appends it,
 * encoded, to a bounded {@link SampleBuffer}, and a {@link MetricsPublisher} thread that drains the buffer to
 * Kafka. The sampler only ever touches the buffer, so a slow or absent broker cannot delay or stop sampling.
 */
public final class MetricsAgent implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(MetricsAgent.class);

    private final AgentConfig config;
    private final long agentStartMs = System.currentTimeMillis();
    private final AtomicLong nextSequence = new AtomicLong();
    private final AvroSerde<NodeMetrics> serde = Topic.METRICS.serde();
    private final SampleBuffer buffer;
    private final MetricsPublisher publisher;
    private final ScheduledExecutorService sampler;
    private final RoleMetrics exported;
    private final AgentMeters meters;
    private MetricsServer metricsServer;
    private NodeSampler nodeSampler;

    public MetricsAgent(AgentConfig config) {
        this.config = config;
        this.buffer = new SampleBuffer(config.bufferRecords());
        // an agent without an endpoint still counts (tests read them), without JVM binders per in-process node
        this.exported = config.metricsPort() == null ? null : RoleMetrics.of("agent", "node", config.nodeId());
        this.meters = new AgentMeters(exported == null ? new SimpleMeterRegistry() : exported.registry(), buffer);
        this.publisher = new MetricsPublisher(config.nodeId(), config.clientProperties(), buffer, meters, exported);
        this.sampler = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "pmig-agent-sampler");
            thread.setDaemon(true);
            return thread;
        });
    }

    public MetricsAgent start() {
        nodeSampler = new NodeSampler(config.nodeId(), config.mode(), config.capacity(), config.workdir());
        try {
            if (exported != null) {
                metricsServer = MetricsServer.start(exported, config.metricsHost(), config.metricsPort(), "--metrics-port");
            }
            publisher.start();
        } catch (RuntimeException e) {
            closeMetrics();
            throw e;
        }
        long intervalMs = config.interval().toMillis();
        sampler.scheduleAtFixedRate(this::sampleOnce, intervalMs, intervalMs, TimeUnit.MILLISECONDS);
        log.info("agent for node {} sampling every {} ms in {} mode (capacity {} cpus, {} bytes; work dir {}), "
                        + "publishing to {} at {}", config.nodeId(), intervalMs, config.mode(),
                config.capacity().getCpus(), config.capacity().getMemBytes(), config.workdir(),
                Topic.METRICS.topicName(), config.clientProperties().getProperty("bootstrap.servers"));
        return this;
    }

    private void sampleOnce() {
        MDC.put("node", config.nodeId());
        try {
            long sequence = nextSequence.get();
            NodeMetrics metrics = nodeSampler.sample(sequence, agentStartMs);
            buffer.add(new BufferedSample(sequence, serde.encode(metrics)));
            nextSequence.incrementAndGet();
            meters.taken(metrics);
        } catch (RuntimeException e) {
            meters.failed();
            // An uncaught exception would cancel every later run of a scheduled task.
            log.warn("sampling failed, trying again next interval: {}", e.toString(), e);
        }
    }

    public long agentStartMs() {
        return agentStartMs;
    }

    /** Samples taken so far; also the sequence number the next one gets. */
    public long samplesTaken() {
        return nextSequence.get();
    }

    public SampleBuffer buffer() {
        return buffer;
    }

    public long delivered() {
        return publisher.delivered();
    }

    /** Where {@code /metrics} listens, or null without an endpoint. */
    public InetSocketAddress metricsAddress() {
        return metricsServer == null ? null : metricsServer.address();
    }

    private void closeMetrics() {
        if (metricsServer != null) {
            metricsServer.close();
            metricsServer = null;
        }
        if (exported != null) {
            exported.close();
        }
    }

    /** Stops sampling, gives Kafka up to drainTimeout to take what is buffered, then stops sending. */
    public void close(Duration drainTimeout) {
        sampler.shutdown();
        try {
            sampler.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        publisher.close(drainTimeout);
        closeMetrics();
        log.info("agent for node {} stopped: {} samples taken, {} delivered, {} dropped by a full buffer",
                config.nodeId(), samplesTaken(), delivered(), buffer.dropped());
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(5));
    }
}
