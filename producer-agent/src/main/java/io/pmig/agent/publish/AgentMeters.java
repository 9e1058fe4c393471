package io.pmig.agent.publish;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The agent's own series (README, Metrics): samples taken and published, how old a sample is when Kafka takes it
 * (the sampling lag: near the linger while the broker answers, the length of an outage after one), and the buffer
 * between the sampler and the sender.
 */
public final class AgentMeters {

    private final Counter taken;
    private final Counter published;
    private final Counter failed;
    private final Timer lag;

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
        FunctionCounter.builder("pmig.agent.samples.dropped", buffer, SampleBuffer::dropped)
                .description("Samples dropped because the buffer was full (a long broker outage)").register(registry);
    }

    public void taken() {
        taken.increment();
    }

    public void failed() {
        failed.increment();
    }

    /** A sample taken at {@code takenAtNanos} (System.nanoTime) was acknowledged now. */
    public void published(long takenAtNanos) {
        published.increment();
        lag.record(System.nanoTime() - takenAtNanos, TimeUnit.NANOSECONDS);
    }

    private static Duration millis(long ms) {
        return Duration.ofMillis(ms);
    }
}
