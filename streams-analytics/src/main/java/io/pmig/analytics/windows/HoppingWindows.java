package io.pmig.analytics.windows;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.schemas.NodeMetrics;
import java.util.ArrayList;
import java.util.List;

/**
 * The windows {@link NodeWindowProcessor} closes for one node, computed offline from that node's whole
 * sample history (model training replays pmig.metrics through this). Same rules, same config keys:
 * windows are {@code [end - size, end)}, start at multiples of the advance, the first one starts at or
 * after the node's first sample, and after a gap (a window with no sample) the next window is the first
 * full one after the gap. Unlike the live processor nothing is late here, and the last window is the last
 * one that ends at or before the node's last sample (the live processor would close later ones on the wall
 * clock, half empty). {@code TrainingDatasetMatchesTopologyTest} checks the two agree.
 */
public final class HoppingWindows {

    /** One window of one node: its bounds and its samples in time order. */
    public record Window(long startMs, long endMs, List<NodeMetrics> samples) {
    }

    private HoppingWindows() {
    }

    /** @param samples one node's samples in time order (ties and duplicates are kept as given) */
    public static List<Window> of(List<NodeMetrics> samples, AnalyticsConfig config) {
        List<Window> windows = new ArrayList<>();
        if (samples.isEmpty()) {
            return windows;
        }
        long size = config.windowSizeMs();
        long advance = config.windowAdvanceMs();
        long last = samples.get(samples.size() - 1).getTimestampMs();
        long end = firstFullWindowEnd(samples.get(0).getTimestampMs(), config);
        int from = 0; // first sample at or after the current window's start
        while (end <= last) {
            long start = end - size;
            while (from < samples.size() && samples.get(from).getTimestampMs() < start) {
                from++;
            }
            int to = from;
            while (to < samples.size() && samples.get(to).getTimestampMs() < end) {
                to++;
            }
            if (to == from) {
                // A gap: the live processor resumes with the first full window after it.
                long next = samples.get(to).getTimestampMs(); // exists: end <= last
                end = Math.max(end + advance, firstFullWindowEnd(next, config));
                continue;
            }
            windows.add(new Window(start, end, List.copyOf(samples.subList(from, to))));
            end += advance;
        }
        return windows;
    }

    /** End of the first window that starts at or after time t (windows start at multiples of the advance). */
    public static long firstFullWindowEnd(long t, AnalyticsConfig config) {
        long advance = config.windowAdvanceMs();
        return Math.floorDiv(t + advance - 1, advance) * advance + config.windowSizeMs();
    }
}
