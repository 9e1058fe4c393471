package io.pmig.analytics.training;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.features.WindowFeatures;
import io.pmig.analytics.training.OverloadDefinition.Episode;
import io.pmig.analytics.windows.HoppingWindows;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.ProcessSample;
import io.pmig.schemas.SamplingMode;
import io.pmig.schemas.serde.SchemaCatalog;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Labelled node windows built from raw pmig.metrics samples with the topology's own windowing
 * ({@link HoppingWindows}, same {@link AnalyticsConfig}) and its one feature implementation
 * ({@link WindowFeatures#compute}), plus every node's overload episodes for lead-time evaluation.
 *
 * @param windows  every labellable window of every node, ordered by end time, then node
 * @param episodes each node's overload episodes in time order
 * @param censoring       the stretches a migration decided (see {@link Censoring}); none for a recorded trace
 * @param censoredWindows how many windows they removed
 * @param label           what a positive window means
 */
public record Dataset(List<LabelledWindow> windows, Map<String, List<Episode>> episodes, OverloadDefinition overload,
                      AnalyticsConfig windowConfig, long firstSampleMs, long lastSampleMs, int samples,
                      Censoring censoring, int censoredWindows, Label label) {

    public Dataset(List<LabelledWindow> windows, Map<String, List<Episode>> episodes, OverloadDefinition overload,
                   AnalyticsConfig windowConfig, long firstSampleMs, long lastSampleMs, int samples) {
        this(windows, episodes, overload, windowConfig, firstSampleMs, lastSampleMs, samples, Censoring.NONE, 0);
    }

    public Dataset(List<LabelledWindow> windows, Map<String, List<Episode>> episodes, OverloadDefinition overload,
                   AnalyticsConfig windowConfig, long firstSampleMs, long lastSampleMs, int samples, Censoring censoring,
                   int censoredWindows) {
        this(windows, episodes, overload, windowConfig, firstSampleMs, lastSampleMs, samples, censoring, censoredWindows,
                Label.OVERLOAD);
    }

    /** What a window's label says: see {@code pmig train --label} and streams-analytics/TRAINING.md. */
    public enum Label {
        /** The node is overloaded within the horizon ({@link OverloadDefinition#label}). */
        OVERLOAD,
        /** ... and one move of one of its workloads would prevent or end it ({@link PreventableOverload}). */
        PREVENTABLE
    }

    public static Dataset build(List<NodeMetrics> samples, AnalyticsConfig config, OverloadDefinition overload) {
        return build(samples, config, overload, Censoring.NONE);
    }

    public static Dataset build(List<NodeMetrics> samples, AnalyticsConfig config, OverloadDefinition overload,
                                Censoring censoring) {
        return build(samples, config, overload, censoring, Label.OVERLOAD);
    }

    /**
     * @param censoring windows it censors (run-ups a migration cut short) are left out; their number is kept
     * @param label     what a positive window means; episodes (onsets, lead times) are overloads either way
     */
    public static Dataset build(List<NodeMetrics> samples, AnalyticsConfig config, OverloadDefinition overload,
                                Censoring censoring, Label label) {
        return build(samples, config, overload, censoring, label, false);
    }

    /**
     * @param demandTrace the samples' process CPU is demand ({@code bench outcomes --write-trace}), not what the processes
     *                    got: features are computed on what an agent would have reported ({@link #asReported}), labels on
     *                    the demand
     */
    public static Dataset build(List<NodeMetrics> samples, AnalyticsConfig config, OverloadDefinition overload,
                                Censoring censoring, Label label, boolean demandTrace) {
        Map<String, List<NodeMetrics>> byNode = new TreeMap<>();
        for (NodeMetrics sample : samples) {
            byNode.computeIfAbsent(sample.getNodeId().toString(), node -> new ArrayList<>()).add(sample);
        }
        List<LabelledWindow> windows = new ArrayList<>();
        Map<String, List<Episode>> episodes = new TreeMap<>();
        long first = Long.MAX_VALUE;
        long last = Long.MIN_VALUE;
        int censored = 0;
        for (Map.Entry<String, List<NodeMetrics>> entry : byNode.entrySet()) {
            List<NodeMetrics> nodeSamples = entry.getValue();
            // Stable sort: a replay reads each node's samples in publish order already; this only guards merges.
            nodeSamples.sort(Comparator.comparingLong(NodeMetrics::getTimestampMs));
            long nodeLast = nodeSamples.get(nodeSamples.size() - 1).getTimestampMs();
            first = Math.min(first, nodeSamples.get(0).getTimestampMs());
            last = Math.max(last, nodeLast);
            List<Episode> nodeEpisodes = overload.episodes(nodeSamples);
            episodes.put(entry.getKey(), Collections.unmodifiableList(nodeEpisodes));
            boolean[] preventable = label == Label.PREVENTABLE ? PreventableOverload.labels(nodeSamples, overload, config) : null;
            Map<NodeMetrics, Integer> index = new IdentityHashMap<>();
            if (preventable != null) {
                for (int i = 0; i < nodeSamples.size(); i++) {
                    index.put(nodeSamples.get(i), i);
                }
            }
            for (HoppingWindows.Window window : HoppingWindows.of(nodeSamples, config)) {
                if (window.endMs() + overload.horizonMs() > nodeLast) {
                    break; // the horizon runs past what we know of this node: no label
                }
                if (censoring.censors(entry.getKey(), window.startMs(), window.endMs())) {
                    censored++;
                    continue;
                }
                NodeMetrics latest = window.samples().get(window.samples().size() - 1);
                boolean positive = preventable != null ? preventable[index.get(latest)] : overload.label(window.endMs(), nodeEpisodes);
                windows.add(new LabelledWindow(entry.getKey(), window.startMs(), window.endMs(),
                        WindowFeatures.compute(demandTrace ? asReported(window.samples()) : window.samples()), positive,
                        OverloadDefinition.overloadedAt(window.endMs(), nodeEpisodes),
                        latest.getMode() == SamplingMode.SIMULATED));
            }
        }
        windows.sort(Comparator.comparingLong(LabelledWindow::endMs).thenComparing(LabelledWindow::nodeId));
        return new Dataset(List.copyOf(windows), Collections.unmodifiableMap(episodes), overload, config,
                samples.isEmpty() ? 0 : first, samples.isEmpty() ? 0 : last, samples.size(), censoring, censored, label);
    }

    /**
     * The samples as an agent reports them when its node's processes demand more CPU than it has: each gets its share
     * of the capacity (what the outcome benchmark's cluster reports), so a process's CPU never adds up past 100 %.
     * Without this a model trained on a demand trace sees workload shares above 1 that it never sees when it runs.
     */
    static List<NodeMetrics> asReported(List<NodeMetrics> samples) {
        SchemaCatalog.store(); // the builder's copy checks Avro's trusted classes
        List<NodeMetrics> reported = new ArrayList<>(samples.size());
        for (NodeMetrics sample : samples) {
            double demandPercent = 0;
            for (ProcessSample process : sample.getProcesses()) {
                demandPercent += process.getCpuPercent();
            }
            double capacityPercent = 100.0 * WindowFeatures.cpus(sample);
            if (demandPercent <= capacityPercent) {
                reported.add(sample);
                continue;
            }
            double share = capacityPercent / demandPercent;
            List<ProcessSample> processes = new ArrayList<>(sample.getProcesses().size());
            for (ProcessSample process : sample.getProcesses()) {
                processes.add(ProcessSample.newBuilder(process)
                        .setCpuPercent(Math.round(process.getCpuPercent() * share * 10) / 10.0).build());
            }
            reported.add(NodeMetrics.newBuilder(sample).setProcesses(processes).build());
        }
        return reported;
    }

    public long positives() {
        return windows.stream().filter(LabelledWindow::positive).count();
    }

    public int onsets() {
        return episodes.values().stream().mapToInt(List::size).sum();
    }

    /**
     * A time-ordered split at {@code cutMs}, the point {@code 1 - heldOutFraction} of the way through the
     * windows' end times. Training windows' labels look at most up to the cut (end + horizon &lt;= cut);
     * held-out windows' samples all come after it (start &gt;= cut). Windows straddling the cut are in neither,
     * so no sample or label is shared between the two parts.
     */
    public Split split(double heldOutFraction) {
        return split(windows, heldOutFraction, overload.horizonMs());
    }

    /**
     * The same time-ordered split of any time-ordered list of windows, e.g. of a training part to carve a
     * validation part from its most recent end.
     */
    public static Split split(List<LabelledWindow> windows, double heldOutFraction, long horizonMs) {
        if (!(heldOutFraction > 0 && heldOutFraction < 1)) {
            throw new IllegalArgumentException("held-out fraction must be in (0, 1), got " + heldOutFraction);
        }
        if (windows.isEmpty()) {
            throw new IllegalStateException("no labelled windows: the data holds less than one window plus the horizon per node");
        }
        long from = windows.get(0).endMs();
        long to = windows.get(windows.size() - 1).endMs();
        long cut = from + (long) ((to - from) * (1 - heldOutFraction));
        List<LabelledWindow> train = new ArrayList<>();
        List<LabelledWindow> heldOut = new ArrayList<>();
        for (LabelledWindow window : windows) {
            if (window.endMs() + horizonMs <= cut) {
                train.add(window);
            } else if (window.startMs() >= cut) {
                heldOut.add(window);
            }
        }
        return new Split(List.copyOf(train), List.copyOf(heldOut), cut);
    }

    /** The two parts of a time-ordered split; {@code cutMs} separates them. */
    public record Split(List<LabelledWindow> train, List<LabelledWindow> heldOut, long cutMs) {
    }
}
