package io.pmig.analytics.windows;

import io.pmig.analytics.JsonSerde;
import java.nio.ByteBuffer;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;

/**
 * Per-node window bookkeeping, kept in a state store so that fail-over resumes exactly where the last
 * committed transaction left off.
 *
 * <p>Only what cannot be recovered otherwise is stored, in 18 bytes ({@link #SERDE}), and only when it changes
 * ({@link OpenWindows#setClock}): the next window end and the DOWN mark. A sample's arrival alone writes nothing:
 * the newest sample time is recovered from the retained samples (the store holds every sample at or after the oldest
 * open window's start, the newest among them), and the arrival wall time only matters within one processor's life
 * (after a start silence counts from the start anyway).
 *
 * @param nextWindowEndMs   end of the next window to close
 * @param maxSampleMs       newest sample time seen
 * @param lastArrivalWallMs wall-clock time that sample arrived, to tell silence and extrapolate time; not stored
 * @param down              whether the node is currently marked DOWN
 */
public record NodeClock(long nextWindowEndMs, long maxSampleMs, long lastArrivalWallMs, boolean down) {

    private static final byte FORMAT = 2;
    private static final byte JSON_START = '{';

    /** Format byte, next window end, newest sample time, DOWN; JSON written by earlier versions is still read. */
    public static final Serde<NodeClock> SERDE = serde();

    /**
     * The node's time now. Samples drive it while they arrive; when they stop, it keeps running with the
     * wall clock so that a silent node's windows still close.
     */
    public long eventTimeAt(long wallNowMs, long notBeforeWallMs) {
        long silentFor = wallNowMs - Math.max(lastArrivalWallMs, notBeforeWallMs);
        return maxSampleMs + Math.max(0, silentFor);
    }

    public NodeClock arrived(long sampleMs, long wallNowMs) {
        return new NodeClock(nextWindowEndMs, Math.max(maxSampleMs, sampleMs), wallNowMs, false);
    }

    public NodeClock withNextWindowEnd(long endMs) {
        return new NodeClock(endMs, maxSampleMs, lastArrivalWallMs, down);
    }

    public NodeClock markedDown() {
        return new NodeClock(nextWindowEndMs, maxSampleMs, lastArrivalWallMs, true);
    }

    /** As restored: the newest sample time is at least the newest retained sample's; no arrival in this processor's life. */
    NodeClock restored(Long newestRetainedSampleMs) {
        long max = newestRetainedSampleMs == null ? maxSampleMs : Math.max(maxSampleMs, newestRetainedSampleMs);
        return new NodeClock(nextWindowEndMs, max, 0, down);
    }

    private static Serde<NodeClock> serde() {
        JsonSerde<NodeClock> legacy = JsonSerde.of(NodeClock.class);
        return Serdes.serdeFrom(
                (topic, clock) -> clock == null ? null : ByteBuffer.allocate(18).put(FORMAT).putLong(clock.nextWindowEndMs)
                        .putLong(clock.maxSampleMs).put((byte) (clock.down ? 1 : 0)).array(),
                (topic, bytes) -> {
                    if (bytes == null) {
                        return null;
                    }
                    if (bytes.length > 0 && bytes[0] == JSON_START) {
                        return legacy.deserialize(topic, bytes);
                    }
                    if (bytes.length != 18 || bytes[0] != FORMAT) {
                        throw new SerializationException("not a node clock: " + bytes.length + " bytes, format " + (bytes.length > 0 ? bytes[0] : -1));
                    }
                    ByteBuffer in = ByteBuffer.wrap(bytes, 1, 17);
                    return new NodeClock(in.getLong(), in.getLong(), 0, in.get() == 1);
                });
    }
}
