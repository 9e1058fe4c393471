package io.pmig.analytics.decisions;

import io.pmig.analytics.balancer.CellGrant;
import io.pmig.analytics.windows.NodeReport;

/**
 * One record of the decision topic, keyed by cell: a node window report from the window stage, an executor outcome
 * from pmig.events, or a grant of the global balancer. One topic for all keeps their relative order per cell.
 */
public record DecisionInput(NodeReport report, ExecutorOutcome outcome, CellGrant grant) {

    public DecisionInput(NodeReport report, ExecutorOutcome outcome) {
        this(report, outcome, null);
    }

    public static DecisionInput of(NodeReport report) {
        return new DecisionInput(report, null, null);
    }

    public static DecisionInput of(ExecutorOutcome outcome) {
        return new DecisionInput(null, outcome, null);
    }

    public static DecisionInput of(CellGrant grant) {
        return new DecisionInput(null, null, grant);
    }
}
