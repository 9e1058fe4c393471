package io.pmig.agent.publish;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bounded FIFO between the sampler and the sender. Adding never blocks: when full, the oldest sample is
 * dropped and counted, so a long broker outage costs the oldest history, never the agent's memory or its
 * sampling rhythm. Unsent samples go back to the head in their original order.
 */
public final class SampleBuffer {

    private static final Logger log = LoggerFactory.getLogger(SampleBuffer.class);
    private static final int LOG_EVERY_DROPS = 60;

    private final int capacity;
    private final ArrayDeque<BufferedSample> samples;
    private long dropped;

    public SampleBuffer(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be at least 1, got " + capacity);
        }
        this.capacity = capacity;
        this.samples = new ArrayDeque<>(Math.min(capacity, 4096));
    }

    public synchronized void add(BufferedSample sample) {
        samples.addLast(sample);
        trimToCapacity();
        notifyAll();
    }

    /**
     * Removes and returns up to max samples from the head, waiting up to waitMillis for the first one;
     * an empty list means none arrived in time.
     */
    public synchronized List<BufferedSample> take(int max, long waitMillis) throws InterruptedException {
        long deadline = System.nanoTime() + waitMillis * 1_000_000;
        while (samples.isEmpty()) {
            long remainingMillis = (deadline - System.nanoTime()) / 1_000_000;
            if (remainingMillis <= 0) {
                return List.of();
            }
            wait(remainingMillis);
        }
        List<BufferedSample> taken = new ArrayList<>(Math.min(max, samples.size()));
        while (taken.size() < max && !samples.isEmpty()) {
            taken.add(samples.pollFirst());
        }
        return taken;
    }

    /** Puts samples that could not be delivered back at the head, oldest first, then enforces the bound. */
    public synchronized void returnToHead(List<BufferedSample> unsent) {
        for (int i = unsent.size() - 1; i >= 0; i--) {
            samples.addFirst(unsent.get(i));
        }
        trimToCapacity();
        notifyAll();
    }

    private void trimToCapacity() {
        while (samples.size() > capacity) {
            BufferedSample oldest = samples.pollFirst();
            dropped++;
            if (dropped == 1 || dropped % LOG_EVERY_DROPS == 0) {
                log.warn("sample buffer full ({} samples): dropped oldest sample #{}; {} dropped in total",
                        capacity, oldest.sequence(), dropped);
            }
        }
    }

    public synchronized int size() {
        return samples.size();
    }

    public synchronized boolean isEmpty() {
        return samples.isEmpty();
    }

    public int capacity() {
        return capacity;
    }

    /** Samples dropped because the buffer was full, since this buffer was created. */
    public synchronized long dropped() {
        return dropped;
    }

    /** Sequence numbers currently held, oldest first (for diagnostics and tests). */
    public synchronized List<Long> sequences() {
        return samples.stream().map(BufferedSample::sequence).toList();
    }
}
