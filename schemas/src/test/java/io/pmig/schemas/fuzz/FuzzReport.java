package io.pmig.schemas.fuzz;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/** What one fuzz campaign did: inputs by kind, how many the decoder accepted or refused, and every failure. */
public record FuzzReport(String target, long seed, long inputs, long accepted, long refused,
                         Map<Mutator.Kind, Long> byKind, long worstAllocatedBytes, String worstAllocatedInput,
                         long slowestNanos, Duration elapsed, long failureCount, List<String> failures) {

    public boolean clean() {
        return failureCount == 0;
    }

    /** The first failures, for an assertion message. */
    public String failureSummary() {
        return failureCount + " failure(s) in " + target + " (seed " + seed + "):\n" + String.join("\n", failures);
    }

    /** One grep-able line: {@code FUZZ target=... inputs=... ...}. */
    public String line() {
        return String.format("FUZZ target=%s seed=%d inputs=%d accepted=%d refused=%d failures=%d worst_alloc_kib=%d"
                        + " (%s) slowest_ms=%.1f seconds=%.1f kinds=%s",
                target, seed, inputs, accepted, refused, failureCount, worstAllocatedBytes / 1024, worstAllocatedInput,
                slowestNanos / 1e6, elapsed.toMillis() / 1000.0, byKind);
    }
}
