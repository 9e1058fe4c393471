package io.pmig.analytics.ingest;

import io.pmig.schemas.NodeMetrics;

/**
 * What a well-formed NodeMetrics must also satisfy before it drives a node's windows. Sample time is stream time
 * here, so one record stamped in the far future (a corrupt or tampered timestamp; the fuzz tests found
 * Long.MAX_VALUE) would make the window loop close every window up to it - endless, since the window end
 * overflows. Agents' clocks are synchronised; a sample more than {@value #MAX_FUTURE_MS} ms ahead of this
 * instance's clock is refused to pmig.dlq instead. Old samples stay valid: replays and training read history.
 */
public final class PlausibleSample {

    public static final long MAX_FUTURE_MS = 60 * 60 * 1000L;

    private PlausibleSample() {
    }

    /** Why this sample cannot be real, or null if it can; {@code wallClockMs} is this instance's clock. */
    public static String problem(NodeMetrics sample, long wallClockMs) {
        long timestamp = sample.getTimestampMs();
        if (timestamp < 0) {
            return "NodeMetrics of " + sample.getNodeId() + " has a negative timestampMs " + timestamp;
        }
        if (timestamp > wallClockMs + MAX_FUTURE_MS) {
            return "NodeMetrics of " + sample.getNodeId() + " is stamped " + timestamp + ", more than "
                    + MAX_FUTURE_MS + " ms ahead of this instance's clock (" + wallClockMs + ")";
        }
        return null;
    }
}
