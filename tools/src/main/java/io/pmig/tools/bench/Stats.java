package io.pmig.tools.bench;

import java.util.Arrays;
import java.util.Collection;

/** The arithmetic every benchmark reports with: nearest-rank percentiles, rates and ratios. */
public final class Stats {

    private Stats() {
    }

    /**
     * Nearest-rank percentile: the smallest value with at least fraction q of the values at or below it
     * (so p99 of 50 values is the largest one). NaN for no values.
     */
    public static double percentile(Collection<? extends Number> values, double q) {
        if (q <= 0 || q > 1) {
            throw new IllegalArgumentException("q must be in (0, 1], was " + q);
        }
        if (values.isEmpty()) {
            return Double.NaN;
        }
        double[] sorted = values.stream().mapToDouble(Number::doubleValue).toArray();
        Arrays.sort(sorted);
        int rank = (int) Math.ceil(q * sorted.length);
        return sorted[Math.max(rank, 1) - 1];
    }

    public static double mean(Collection<? extends Number> values) {
        return values.stream().mapToDouble(Number::doubleValue).average().orElse(Double.NaN);
    }

    /** Events per second; NaN when no time elapsed (a rate from a zero interval is not a rate). */
    public static double perSecond(long events, long elapsedNanos) {
        return elapsedNanos <= 0 ? Double.NaN : events * 1e9 / elapsedNanos;
    }

    /** measured / baseline; NaN unless both are positive finite numbers. */
    public static double ratio(double measured, double baseline) {
        if (!(measured > 0) || !(baseline > 0) || Double.isInfinite(measured) || Double.isInfinite(baseline)) {
            return Double.NaN;
        }
        return measured / baseline;
    }

    /** Rounds for reports; NaN and infinities stay as they are (JSON writes them as null). */
    public static double round(double value, int decimals) {
        if (Double.isNaN(value) || Double.isInfinite(value)) {
            return value;
        }
        double scale = Math.pow(10, decimals);
        return Math.round(value * scale) / scale;
    }
}
