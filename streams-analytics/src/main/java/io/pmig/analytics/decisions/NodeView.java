package io.pmig.analytics.decisions;

import io.pmig.analytics.windows.NodeReport;

/**
 * The decision stage's memory of one node: its latest report, how many consecutive windows it has been
 * overloaded, and when it last took part in a migration (-1: never).
 */
public record NodeView(NodeReport report, int overloadStreak, long lastMigrationMs) {

    public String nodeId() {
        return report.nodeId();
    }

    public NodeView next(NodeReport latest) {
        return new NodeView(latest, OverloadStreak.next(overloadStreak, latest.overloaded()), lastMigrationMs);
    }

    public NodeView migrated(long atMs) {
        return new NodeView(report, 0, atMs);
    }

    public NodeView involvedIn(long atMs) {
        return new NodeView(report, overloadStreak, atMs);
    }
}
