package io.pmig.analytics.balancer;

import java.util.List;

/**
 * The global balancer's answer to a cell that cannot relieve its hot nodes inside itself: {@code fromCell} may send
 * up to {@code rooms.size()} moves to {@code toCell}, one to each of these nodes, until {@code expiresAtMs}. It reaches
 * both cells' decision tasks: the borrowing cell plans the moves with its own planner, the lending cell keeps the
 * room reserved so its own moves do not take it meanwhile.
 */
public record CellGrant(String grantId, String fromCell, String toCell, long issuedAtMs, long expiresAtMs,
                        List<GrantedRoom> rooms) {

    public int quota() {
        return rooms.size();
    }

    /**
     * One destination lent for one move, with the node's figures as its cell last summarised them.
     *
     * @param cpuUsedCores use plus the lending cell's reservations, when summarised
     * @param cpuCores, memBytes the size of the move the room was granted for (the borrower's stuck workload)
     */
    public record GrantedRoom(String nodeId, double cpuCapacity, long memCapacityBytes, double cpuUsedCores, long memUsedBytes,
                              long windowEndMs, String forNode, double cpuCores, long memBytes) {
    }
}
