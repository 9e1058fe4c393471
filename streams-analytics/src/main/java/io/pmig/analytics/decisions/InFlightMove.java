package io.pmig.analytics.decisions;

/**
 * A MIGRATE command issued and not yet finished on pmig.events. Its CPU and memory are reserved on the
 * destination until then, so two moves decided in a row do not both count on the same free room.
 */
public record InFlightMove(String commandId, String workloadId, String sourceNode, String destinationNode,
                           long issuedAtMs, double cpuCores, long memBytes) {
}
