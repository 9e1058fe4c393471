package io.pmig.analytics.decisions;

/** When a workload was last moved and which node it left then, for its cooldown and ping-pong prevention. */
public record WorkloadHistory(long lastMoveMs, String leftNode) {
}
