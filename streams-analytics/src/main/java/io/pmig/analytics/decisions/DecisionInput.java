package io.pmig.analytics.decisions;

import io.pmig.analytics.windows.NodeReport;

/**
 * One record of the decision stage's single-partition input topic: either a node window report from the
 * window stage or an executor outcome from pmig.events. One topic for both keeps their relative order.
 */
public record DecisionInput(NodeReport report, ExecutorOutcome outcome) {

    public static DecisionInput of(NodeReport report) {
        return new DecisionInput(report, null);
    }

    public static DecisionInput of(ExecutorOutcome outcome) {
        return new DecisionInput(null, outcome);
    }
}
