package io.pmig.analytics.training;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.decisions.OverloadStreak;
import io.pmig.analytics.scoring.OverloadScorer;
import io.pmig.analytics.training.OverloadDefinition.Episode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * How well a scorer's verdicts ({@code OverloadScore.overloaded}, i.e. at the threshold it is deployed with)
 * match the labels of held-out windows, how early it warns of each overload onset, and what its alarms are worth.
 *
 * <p><b>Lead time</b> of one onset o: o minus the end of the first window, among the node's held-out windows
 * ending in {@code [o - horizon, o]} while the node is not already overloaded, that the scorer flags; 0 when it
 * flags none of them (it only reacts once the overload has begun). {@code meanLeadS} averages over every
 * onset whose whole run-up lies in the held-out part and is not censored, missed ones counting 0; {@code lead}
 * gives the 10th, 50th and 90th percentiles over the same onsets, missed ones counting 0 too.
 *
 * <p><b>Alarms</b> are what a migration costs: an alarm is a rising edge of the verdict, a flagged window whose
 * node's previous window (one advance earlier) was not flagged. It is <b>true</b> when the node is overloaded within
 * the horizon after it (the window's label: an overload starts within H, or one under way goes on). Alarm recall is
 * the share of onsets warned before they happen.
 *
 * @param preOnset the same counts restricted to windows where the node is not yet overloaded, i.e. where a
 *                 positive label is a genuine prediction
 */
public record Evaluation(Counts all, Counts preOnset, int onsets, int onsetsWarned, double meanLeadS, Alarms alarms,
                         LeadTimes lead) {

    /**
     * @param raised    rising edges of the verdict
     * @param trueAlarms those followed by an overload within the horizon
     * @param nodeHours the time the evaluated windows cover, summed over nodes (windows x advance)
     */
    public record Alarms(int raised, int trueAlarms, double nodeHours, int onsets, int onsetsWarned) {

        public double precision() {
            return raised == 0 ? 0 : (double) trueAlarms / raised;
        }

        /** Share of onsets warned before they happen. */
        public double recall() {
            return onsets == 0 ? 0 : (double) onsetsWarned / onsets;
        }

        public double f1() {
            double p = precision();
            double r = recall();
            return p + r == 0 ? 0 : 2 * p * r / (p + r);
        }

        public int falseAlarms() {
            return raised - trueAlarms;
        }

        public double falsePerNodeHour() {
            return nodeHours == 0 ? 0 : falseAlarms() / nodeHours;
        }
    }

    /** Nearest-rank percentiles of the lead times over onsets, in seconds (missed onsets count 0). */
    public record LeadTimes(double p10S, double p50S, double p90S) {
    }
    /** A confusion matrix and the usual figures; precision is 0 when nothing was flagged. */
    public record Counts(long truePositives, long falsePositives, long falseNegatives, long trueNegatives) {

        public double precision() {
            long flagged = truePositives + falsePositives;
            return flagged == 0 ? 0 : (double) truePositives / flagged;
        }

        public double recall() {
            long positives = truePositives + falseNegatives;
            return positives == 0 ? 0 : (double) truePositives / positives;
        }

        public double f1() {
            double p = precision();
            double r = recall();
            return p + r == 0 ? 0 : 2 * p * r / (p + r);
        }

        public long total() {
            return truePositives + falsePositives + falseNegatives + trueNegatives;
        }
    }

    /**
     * Evaluates windows of {@code dataset} (a part of its windows, in time order) as the decision stage acts on them:
     * a node counts as flagged once its last {@value AnalyticsConfig#HYSTERESIS_WINDOWS} windows all were.
     */
    public static Evaluation of(List<LabelledWindow> windows, Dataset dataset, OverloadScorer scorer) {
        return of(windows, dataset, scorer, dataset.windowConfig().hysteresisWindows());
    }

    /** As {@link #of(List, Dataset, OverloadScorer)} with {@code consecutiveWindows} flagged windows in a row to act. */
    public static Evaluation of(List<LabelledWindow> windows, Dataset dataset, OverloadScorer scorer, int consecutiveWindows) {
        return of(windows, dataset.episodes(), dataset.overload(), dataset.windowConfig().windowAdvanceMs(),
                dataset.windowConfig().windowSizeMs(), dataset.censoring(), scorer, consecutiveWindows);
    }

    /** As {@link #of(List, Dataset, OverloadScorer)} for windows of the default window size and advance, none censored. */
    public static Evaluation of(List<LabelledWindow> windows, Map<String, List<Episode>> episodes,
                                OverloadDefinition overload, OverloadScorer scorer) {
        AnalyticsConfig defaults = AnalyticsConfig.defaults();
        return of(windows, episodes, overload, defaults.windowAdvanceMs(), defaults.windowSizeMs(), Censoring.NONE, scorer,
                defaults.hysteresisWindows());
    }

    static Evaluation of(List<LabelledWindow> windows, Map<String, List<Episode>> episodes, OverloadDefinition overload,
                         long advanceMs, long windowSizeMs, Censoring censoring, OverloadScorer scorer, int consecutiveWindows) {
        long[] all = new long[4];
        long[] pre = new long[4];
        Map<String, List<LabelledWindow>> flaggedByNode = new HashMap<>();
        Map<String, long[]> spanByNode = new HashMap<>();
        Map<String, Long> lastEndByNode = new HashMap<>();
        Map<String, Boolean> lastFlagByNode = new HashMap<>();
        Map<String, Integer> windowsByNode = new HashMap<>();
        Map<String, Integer> streakByNode = new HashMap<>();
        int raised = 0;
        int trueAlarms = 0;
        for (LabelledWindow window : windows) {
            Long previousEnd = lastEndByNode.put(window.nodeId(), window.endMs());
            boolean adjacent = previousEnd != null && previousEnd == window.endMs() - advanceMs;
            boolean verdict = scorer.score(window.features(), window.sharedHost()).overloaded(); // as the topology scores it
            // A gap (no samples, or censored windows) restarts the count: what the node did in it is unknown.
            int streak = OverloadStreak.next(adjacent ? streakByNode.getOrDefault(window.nodeId(), 0) : 0, verdict);
            streakByNode.put(window.nodeId(), streak);
            boolean flagged = OverloadStreak.acts(streak, consecutiveWindows);
            int cell = window.positive() ? (flagged ? 0 : 2) : (flagged ? 1 : 3);
            all[cell]++;
            if (!window.alreadyOverloaded()) {
                pre[cell]++;
                if (flagged) {
                    flaggedByNode.computeIfAbsent(window.nodeId(), n -> new ArrayList<>()).add(window);
                }
            }
            Boolean previousFlag = lastFlagByNode.put(window.nodeId(), flagged);
            // A rising edge needs the window just before: after a gap (no samples, or censored) the state is unknown.
            if (flagged && adjacent && !previousFlag) {
                raised++;
                if (window.positive()) {
                    trueAlarms++;
                }
            }
            windowsByNode.merge(window.nodeId(), 1, Integer::sum);
            spanByNode.merge(window.nodeId(), new long[] {window.endMs(), window.endMs()},
                    (a, b) -> new long[] {Math.min(a[0], b[0]), Math.max(a[1], b[1])});
        }

        int onsets = 0;
        int warned = 0;
        double leadSum = 0;
        List<Double> leads = new ArrayList<>();
        for (Map.Entry<String, long[]> span : spanByNode.entrySet()) {
            List<LabelledWindow> flagged = flaggedByNode.getOrDefault(span.getKey(), List.of());
            for (Episode episode : episodes.getOrDefault(span.getKey(), List.of())) {
                long onset = episode.onsetMs();
                if (onset - overload.horizonMs() < span.getValue()[0] || onset > span.getValue()[1]) {
                    continue; // its run-up is not wholly in the evaluated part
                }
                if (censoring.censors(span.getKey(), onset - overload.horizonMs() - windowSizeMs, onset)) {
                    continue; // a migration decided how its run-up went on
                }
                onsets++;
                long firstFlag = flagged.stream().mapToLong(LabelledWindow::endMs)
                        .filter(end -> end >= onset - overload.horizonMs() && end <= onset)
                        .min().orElse(onset);
                double lead = (onset - firstFlag) / 1000.0;
                if (firstFlag < onset) {
                    warned++;
                    leadSum += lead;
                }
                leads.add(lead);
            }
        }
        double nodeHours = windowsByNode.values().stream().mapToInt(Integer::intValue).sum() * advanceMs / 3_600_000.0;
        return new Evaluation(counts(all), counts(pre), onsets, warned, onsets == 0 ? 0 : leadSum / onsets,
                new Alarms(raised, trueAlarms, nodeHours, onsets, warned),
                new LeadTimes(percentile(leads, 0.10), percentile(leads, 0.50), percentile(leads, 0.90)));
    }

    /** Nearest rank; 0 for no values. */
    static double percentile(List<Double> values, double q) {
        if (values.isEmpty()) {
            return 0;
        }
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int rank = (int) Math.ceil(q * sorted.size());
        return sorted.get(Math.max(rank, 1) - 1);
    }

    private static Counts counts(long[] cells) {
        return new Counts(cells[0], cells[1], cells[2], cells[3]);
    }
}
