package io.pmig.analytics.training;

import io.pmig.analytics.scoring.OverloadScorer;
import io.pmig.analytics.training.OverloadDefinition.Episode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * How well a scorer's verdicts ({@code OverloadScore.overloaded}, i.e. at the threshold it is deployed with)
 * match the labels of held-out windows, plus how early it warns of each overload onset.
 *
 * <p><b>Lead time</b> of one onset o: o minus the end of the first window, among the node's held-out windows
 * ending in {@code [o - horizon, o]} while the node is not already overloaded, that the scorer flags; 0 when it
 * flags none of them (it only reacts once the overload has begun). {@code meanLeadS} averages over every
 * onset whose whole run-up lies in the held-out part, missed ones counting 0.
 *
 * @param preOnset the same counts restricted to windows where the node is not yet overloaded, i.e. where a
 *                 positive label is a genuine prediction
 */
public record Evaluation(Counts all, Counts preOnset, int onsets, int onsetsWarned, double meanLeadS) {

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

    public static Evaluation of(List<LabelledWindow> heldOut, Map<String, List<Episode>> episodes,
                                OverloadDefinition overload, OverloadScorer scorer) {
        long[] all = new long[4];
        long[] pre = new long[4];
        Map<String, List<LabelledWindow>> flaggedByNode = new HashMap<>();
        Map<String, long[]> spanByNode = new HashMap<>();
        for (LabelledWindow window : heldOut) {
            boolean flagged = scorer.score(window.features(), window.sharedHost()).overloaded(); // as the topology scores it
            int cell = window.positive() ? (flagged ? 0 : 2) : (flagged ? 1 : 3);
            all[cell]++;
            if (!window.alreadyOverloaded()) {
                pre[cell]++;
                if (flagged) {
                    flaggedByNode.computeIfAbsent(window.nodeId(), n -> new ArrayList<>()).add(window);
                }
            }
            spanByNode.merge(window.nodeId(), new long[] {window.endMs(), window.endMs()},
                    (a, b) -> new long[] {Math.min(a[0], b[0]), Math.max(a[1], b[1])});
        }

        int onsets = 0;
        int warned = 0;
        double leadSum = 0;
        for (Map.Entry<String, long[]> span : spanByNode.entrySet()) {
            List<LabelledWindow> flagged = flaggedByNode.getOrDefault(span.getKey(), List.of());
            for (Episode episode : episodes.getOrDefault(span.getKey(), List.of())) {
                long onset = episode.onsetMs();
                if (onset - overload.horizonMs() < span.getValue()[0] || onset > span.getValue()[1]) {
                    continue; // its run-up is not wholly in the held-out part
                }
                onsets++;
                long firstFlag = flagged.stream().mapToLong(LabelledWindow::endMs)
                        .filter(end -> end >= onset - overload.horizonMs() && end <= onset)
                        .min().orElse(onset);
                if (firstFlag < onset) {
                    warned++;
                    leadSum += (onset - firstFlag) / 1000.0;
                }
            }
        }
        return new Evaluation(counts(all), counts(pre), onsets, warned, onsets == 0 ? 0 : leadSum / onsets);
    }

    private static Counts counts(long[] cells) {
        return new Counts(cells[0], cells[1], cells[2], cells[3]);
    }
}
