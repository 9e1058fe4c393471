package io.pmig.agent.publish;

/**
 * One sample waiting for Kafka: its sequence number, its Avro-encoded NodeMetrics (compact while it waits) and when it
 * was taken ({@link System#nanoTime}), for the sampling lag.
 */
public record BufferedSample(long sequence, byte[] value, long takenAtNanos) {

    /** A sample taken now. */
    public BufferedSample(long sequence, byte[] value) {
        this(sequence, value, System.nanoTime());
    }
}
