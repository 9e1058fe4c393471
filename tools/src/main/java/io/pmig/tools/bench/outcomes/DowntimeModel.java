package io.pmig.tools.bench.outcomes;

import io.pmig.analytics.AnalyticsConfig;

/**
 * A migration's outage for a workload of a given size: the planner's own cost model
 * ({@link AnalyticsConfig#estimatedDowntimeMs}: 340 ms + 3.2 ms per MiB of RSS by default, fitted to the downtimes
 * measured with {@code pmig bench migrate} and the demo, BENCHMARKS.md), so the benchmark charges what the
 * planner expects to pay.
 */
record DowntimeModel(AnalyticsConfig config) {

    double seconds(long rssBytes) {
        return config.estimatedDowntimeMs(rssBytes) / 1000.0;
    }
}
