package io.pmig.agent.publish;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.pmig.schemas.NodeMetrics;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * The agent's own series (README, Metrics): samples taken and published, how old a sample is when Kafka takes it
 * (the sampling lag: near the linger while the broker answers, the length of an outage after one), the buffer
 * between the sampler and the sender, and the node's CPU and memory from the latest sample (for dashboards; the
 * samples themselves go to pmig.metrics).
 */
public final class AgentMeters {

    private final Counter taken;
    private final Counter published;
    private final Counter failed;
    private final Timer lag;
    private volatile NodeMetrics latest;

    public AgentMeters(MeterRegistry registry, SampleBuffer buffer) {
        taken = Counter.builder("pmig.agent.samples.taken").description("Samples taken and put in the buffer")
                .register(registry);
        published = Counter.builder("pmig.agent.samples.published")
                .description("Samples acknowledged by Kafka on pmig.metrics").register(registry);
        failed = Counter.builder("pmig.agent.sampling.failures").description("Sampling attempts that failed")
                .register(registry);
        lag = Timer.builder("pmig.agent.sampling.lag")
                .description("Age of a sample when Kafka acknowledged it (sampled to published)")
                .serviceLevelObjectives(millis(10), millis(25), millis(50), millis(100), millis(250), millis(500),
                        millis(1_000), millis(2_500), millis(5_000), millis(10_000), millis(60_000))
                .register(registry);
        Gauge.builder("pmig.agent.buffer.depth", buffer, SampleBuffer::size)
                .description("Samples waiting in the buffer for Kafka").register(registry);
        Gauge.builder("pmig.agent.buffer.capacity", buffer, SampleBuffer::capacity)
                .description("Samples the buffer holds before it drops the oldest").register(registry);
        Gauge.builder("pmig.agent.node.cpu.percent", this, m -> m.latest(NodeMetrics::getCpuPercent))
                .description("The node's CPU use in its latest sample, 0-100 of its capacity").register(registry);
        Gauge.builder("pmig.agent.node.memory.used", this, m -> m.latest(s -> (double) s.getMemUsedBytes())).baseUnit("bytes")
                .description("The node's memory use in its latest sample").register(registry);
        Gauge.builder("pmig.agent.node.memory.total", this, m -> m.latest(s -> (double) s.getMemTotalBytes())).baseUnit("bytes")
                .description("The node's memory in its latest sample (its capacity in simulated mode)").register(registry);
        FunctionCounter.builder("pmig.agent.samples.dropped", buffer, SampleBuffer::dropped)
                .description("Samples dropped because the buffer was full (a long broker outage)").register(registry);
    }

    /** A sample was taken and buffered. */
    public void taken(NodeMetrics sample) {
        latest = sample;
        taken.increment();
    }

    private double latest(ToDoubleFunction<NodeMetrics> field) {
        NodeMetrics sample = latest;
        return sample == null ? Double.NaN : field.applyAsDouble(sample);
    }

    public void failed() {
        failed.increment();
    }

    /** A sample taken at {@code takenAtNanos} (System.nanoTime) was acknowledged now. */
    public void published(long takenAtNanos) {
        lag.record(System.nanoTime() - takenAtNanos, TimeUnit.NANOSECONDS);
        published.increment();
    }

    private static Duration millis(long ms) {
        return Duration.ofMillis(ms);
    }
}
