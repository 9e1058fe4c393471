package io.pmig.analytics.decisions;

import java.util.Map;
import java.util.TreeMap;

/**
 * When a workload was last moved and which node it left then, for its cooldown, and every node it left within the
 * return cooldown with when, for ping-pong prevention: A to B to C and back to A is ping-pong too.
 *
 * @param left nodes left and when; null in records written before it existed (then only {@code leftNode} counts)
 */
public record WorkloadHistory(long lastMoveMs, String leftNode, Map<String, Long> left) {

    public WorkloadHistory(long lastMoveMs, String leftNode) {
        this(lastMoveMs, leftNode, Map.of(leftNode, lastMoveMs));
    }

    /** Whether the workload left {@code node} less than {@code cooldownMs} before {@code nowMs}. */
    public boolean leftWithin(String node, long nowMs, long cooldownMs) {
        Long at = left == null ? null : left.get(node);
        if (at == null && node.equals(leftNode)) {
            at = lastMoveMs;
        }
        return at != null && nowMs - at < cooldownMs;
    }

    /** The history after a move off {@code source} at {@code nowMs}, forgetting departures older than {@code keepMs}. */
    public static WorkloadHistory moved(WorkloadHistory previous, String source, long nowMs, long keepMs) {
        Map<String, Long> left = new TreeMap<>();
        if (previous != null) {
            if (previous.left() != null) {
                left.putAll(previous.left());
            } else if (previous.leftNode() != null) {
                left.put(previous.leftNode(), previous.lastMoveMs());
            }
            left.values().removeIf(at -> nowMs - at >= keepMs);
        }
        left.put(source, nowMs);
        return new WorkloadHistory(nowMs, source, left);
    }
}
