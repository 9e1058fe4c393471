package io.pmig.analytics.balancer;

import io.pmig.schemas.CellSummary;
import io.pmig.schemas.NodeRoom;
import io.pmig.schemas.RoomNeed;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.TreeMap;

/**
 * One round of the global balancer: a pure function from the cells' latest summaries to grants of cross-cell moves.
 * Like Cruise Control's analyzer it works on a model of the cluster, not on the cluster: here the model is only what
 * each cell summarised (its stuck hot nodes and its few nodes with the most room), so a round costs
 * O(cells x offers x log) whatever the number of nodes; Borg's lesson is the other half: every cell decides its own
 * moves (the cell's task, its own planner), and the balancer only trades room between cells.
 *
 * <p>Greedy, deterministic: stuck needs in order of cell and node id, each given the least loaded offered node (dominant
 * resource, counting what this round already put on it) of another cell that takes it within the destination limits,
 * at most {@code maxInPerNode} needs per node per round. Offers are kept in a heap by load, so a need costs O(log offers)
 * when the least loaded node fits; the scan for one that fits is bounded by {@value #SCAN_LIMIT}.
 */
public final class CellBalancer {

    /** Offers looked at per need at most: a need none of the least loaded fits waits for the next round, the cost stays bounded. */
    static final int SCAN_LIMIT = 256;

    private final double cpuLimit;
    private final double memLimit;
    private final int maxInPerNode;
    private final long grantTtlMs;

    public CellBalancer(double cpuLimit, double memLimit, int maxInPerNode, long grantTtlMs) {
        this.cpuLimit = cpuLimit;
        this.memLimit = memLimit;
        this.maxInPerNode = maxInPerNode;
        this.grantTtlMs = grantTtlMs;
    }

    /** An offered node and what this round has already put on it. */
    private static final class Offer {
        final String cell;
        final NodeRoom room;
        double cpuUsed;
        long memUsed;
        int taken;

        Offer(String cell, NodeRoom room) {
            this.cell = cell;
            this.room = room;
            this.cpuUsed = room.getCpuUsedCores();
            this.memUsed = room.getMemUsedBytes();
        }

        double loadAfter(double cpu, long mem) {
            return Math.max(fraction(cpuUsed + cpu, room.getCpuCapacity()), fraction(memUsed + mem, room.getMemCapacityBytes()));
        }

        double load() {
            return loadAfter(0, 0);
        }
    }

    /** Grants for this round; {@code summaries} are the latest per cell, already filtered for staleness. */
    public List<CellGrant> round(Iterable<CellSummary> summaries, long nowMs) {
        Map<String, CellSummary> byCell = new TreeMap<>();
        for (CellSummary summary : summaries) {
            byCell.put(summary.getCell().toString(), summary);
        }
        // least loaded first: a need takes the first offer that fits
        PriorityQueue<Offer> offers = new PriorityQueue<>(Comparator.comparingDouble(Offer::load)
                .thenComparing(offer -> offer.room.getNodeId().toString()));
        byCell.forEach((cell, summary) -> summary.getOffers().forEach(room -> offers.add(new Offer(cell, room))));
        Map<String, List<CellGrant.GrantedRoom>> granted = new LinkedHashMap<>();
        for (Map.Entry<String, CellSummary> entry : byCell.entrySet()) {
            String cell = entry.getKey();
            List<RoomNeed> needs = new ArrayList<>(entry.getValue().getStuck());
            needs.sort(Comparator.comparing(need -> need.getNodeId().toString()));
            for (RoomNeed need : needs) {
                Offer chosen = choose(offers, cell, need);
                if (chosen == null) {
                    continue;
                }
                offers.remove(chosen);
                chosen.cpuUsed += need.getCpuCores();
                chosen.memUsed += need.getMemBytes();
                chosen.taken++;
                if (chosen.taken < maxInPerNode) {
                    offers.add(chosen); // re-ranked with its new load
                }
                NodeRoom room = chosen.room;
                granted.computeIfAbsent(cell + "\u0000" + chosen.cell, pair -> new ArrayList<>())
                        .add(new CellGrant.GrantedRoom(room.getNodeId().toString(), room.getCpuCapacity(), room.getMemCapacityBytes(),
                                room.getCpuUsedCores(), room.getMemUsedBytes(), room.getWindowEndMs(), need.getNodeId().toString(),
                                need.getCpuCores(), need.getMemBytes()));
            }
        }
        List<CellGrant> grants = new ArrayList<>();
        granted.forEach((pair, rooms) -> {
            String from = pair.substring(0, pair.indexOf('\u0000'));
            String to = pair.substring(pair.indexOf('\u0000') + 1);
            grants.add(new CellGrant(grantId(from, to, nowMs), from, to, nowMs, nowMs + grantTtlMs, List.copyOf(rooms)));
        });
        return grants;
    }

    public static String grantId(String fromCell, String toCell, long nowMs) {
        return "grant-" + fromCell + "-to-" + toCell + "-at-" + nowMs;
    }

    /** The least loaded offer of another cell that takes the need within the limits; the scan is bounded. */
    private Offer choose(PriorityQueue<Offer> offers, String cell, RoomNeed need) {
        List<Offer> skipped = new ArrayList<>();
        Offer chosen = null;
        while (!offers.isEmpty() && skipped.size() < SCAN_LIMIT) {
            Offer offer = offers.poll();
            if (!offer.cell.equals(cell)
                    && fraction(offer.cpuUsed + need.getCpuCores(), offer.room.getCpuCapacity()) <= cpuLimit
                    && fraction(offer.memUsed + need.getMemBytes(), offer.room.getMemCapacityBytes()) <= memLimit) {
                chosen = offer;
                break;
            }
            skipped.add(offer);
        }
        offers.addAll(skipped);
        return chosen;
    }

    private static double fraction(double used, double capacity) {
        return capacity > 0 ? Math.max(0, used) / capacity : Double.POSITIVE_INFINITY;
    }
}
