package io.pmig.agent.publish;

/** One sample waiting for Kafka: its sequence number and its Avro-encoded NodeMetrics (compact while it waits). */
public record BufferedSample(long sequence, byte[] value) {
}
