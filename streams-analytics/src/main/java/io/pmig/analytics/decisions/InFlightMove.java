package io.pmig.analytics.decisions;

import io.pmig.analytics.balancer.CellGrant;

/**
 * A MIGRATE command issued and not yet reflected in its destination's reports. Its CPU and memory are reserved
 * on the destination so that two moves decided in a row do not both count on the same free room: while it is
 * in flight (no final event yet, {@code completedAtMs} null), and after COMPLETED until the destination reports
 * a window that starts at or after the completion, i.e. whose 10 s CPU mean holds the moved load in full.
 * Only moves still in flight count against the cluster cap.
 *
 * @param completedAtMs when COMPLETED was reported, or null while the move is in flight (JSON written before this
 *                      field existed reads as null)
 */
public record InFlightMove(String commandId, String workloadId, String sourceNode, String destinationNode,
                           long issuedAtMs, double cpuCores, long memBytes, Long completedAtMs) {

    public InFlightMove(String commandId, String workloadId, String sourceNode, String destinationNode, long issuedAtMs,
                        double cpuCores, long memBytes) {
        this(commandId, workloadId, sourceNode, destinationNode, issuedAtMs, cpuCores, memBytes, null);
    }

    /**
     * Room this cell lent another cell by a balancer grant: reserved on the node (not in flight, so under no cap) until
     * {@code holdUntilMs}, when a report of a window starting then releases it like a completed move's. Its source is
     * the borrowing cell.
     */
    public static InFlightMove lent(CellGrant grant, CellGrant.GrantedRoom room, long holdUntilMs) {
        return new InFlightMove("lent-" + grant.grantId() + "-" + room.nodeId(), "", grant.fromCell(), room.nodeId(), grant.issuedAtMs(),
                room.cpuCores(), room.memBytes(), holdUntilMs);
    }

    public boolean lent() {
        return commandId.startsWith("lent-");
    }

    public boolean inFlight() {
        return completedAtMs == null;
    }

    public InFlightMove completed(long atMs) {
        return new InFlightMove(commandId, workloadId, sourceNode, destinationNode, issuedAtMs, cpuCores, memBytes, atMs);
    }

    /** Whether a report of the destination for the window starting at {@code windowStartMs} holds the moved load. */
    public boolean reportedBy(String node, long windowStartMs) {
        return completedAtMs != null && destinationNode.equals(node) && windowStartMs >= completedAtMs;
    }
}
