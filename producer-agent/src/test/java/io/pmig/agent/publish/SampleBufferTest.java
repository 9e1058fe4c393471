package io.pmig.agent.publish;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class SampleBufferTest {

    private static BufferedSample sample(long sequence) {
        return new BufferedSample(sequence, new byte[] {(byte) sequence});
    }

    @Test
    void overflowDropsTheOldestAndCountsThem() {
        SampleBuffer buffer = new SampleBuffer(3);
        for (long seq = 0; seq < 5; seq++) {
            buffer.add(sample(seq));
        }
        assertEquals(List.of(2L, 3L, 4L), buffer.sequences());
        assertEquals(2, buffer.dropped());
        assertEquals(3, buffer.size());
    }

    @Test
    void takeReturnsTheHeadInOrderUpToTheLimit() throws InterruptedException {
        SampleBuffer buffer = new SampleBuffer(10);
        for (long seq = 0; seq < 5; seq++) {
            buffer.add(sample(seq));
        }
        assertEquals(List.of(0L, 1L, 2L), buffer.take(3, 0).stream().map(BufferedSample::sequence).toList());
        assertEquals(List.of(3L, 4L), buffer.sequences());
    }

    @Test
    void takeFromAnEmptyBufferReturnsNothingOnceTheWaitIsOver() throws InterruptedException {
        assertTrue(new SampleBuffer(1).take(5, 10).isEmpty());
    }

    @Test
    void unsentSamplesGoBackToTheHeadInTheirOriginalOrder() throws InterruptedException {
        SampleBuffer buffer = new SampleBuffer(10);
        for (long seq = 0; seq < 4; seq++) {
            buffer.add(sample(seq));
        }
        List<BufferedSample> chunk = buffer.take(3, 0);
        buffer.add(sample(4));
        buffer.returnToHead(chunk.subList(1, 3));
        assertEquals(List.of(1L, 2L, 3L, 4L), buffer.sequences());
        assertEquals(0, buffer.dropped());
    }

    @Test
    void returningToAFullBufferDropsTheOldestReturned() throws InterruptedException {
        SampleBuffer buffer = new SampleBuffer(3);
        for (long seq = 0; seq < 3; seq++) {
            buffer.add(sample(seq));
        }
        List<BufferedSample> chunk = buffer.take(2, 0);
        buffer.add(sample(3));
        buffer.add(sample(4));
        buffer.returnToHead(chunk);
        assertEquals(List.of(2L, 3L, 4L), buffer.sequences());
        assertEquals(2, buffer.dropped());
    }
}
