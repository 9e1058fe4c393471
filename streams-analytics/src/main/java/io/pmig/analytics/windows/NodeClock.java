package io.pmig.analytics.windows;

/**
 * Per-node window bookkeeping, kept in a state store so that fail-over resumes exactly where the last
 * committed transaction left off.
 *
 * @param nextWindowEndMs   end of the next window to close
 * @param maxSampleMs       newest sample time seen
 * @param lastArrivalWallMs wall-clock time that sample arrived, to tell silence and extrapolate time
 * @param down              whether the node is currently marked DOWN
 */
public record NodeClock(long nextWindowEndMs, long maxSampleMs, long lastArrivalWallMs, boolean down) {

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
}
