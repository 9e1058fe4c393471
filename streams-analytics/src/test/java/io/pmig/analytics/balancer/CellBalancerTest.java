package io.pmig.analytics.balancer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.schemas.CellSummary;
import io.pmig.schemas.NodeRoom;
import io.pmig.schemas.RoomNeed;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The balancer's round as a pure function of the cells' summaries. */
class CellBalancerTest {

    private static final long GIB = 1L << 30;
    private final CellBalancer balancer = new CellBalancer(0.75, 0.85, 2, 15_000);

    private static CellSummary cell(String cell, List<RoomNeed> stuck, List<NodeRoom> offers) {
        return CellSummary.newBuilder().setCell(cell).setApplicationId("app").setPublishedAtMs(0).setWindowEndMs(0)
                .setNodesUp(10).setNodesOverloaded(stuck.size()).setMigrationsInFlight(0).setBudget(2)
                .setStuck(stuck).setOffers(offers).build();
    }

    private static NodeRoom room(String node, double cpuUsedCores) {
        return new NodeRoom(node, 4.0, 8 * GIB, cpuUsedCores, 2 * GIB, 0L);
    }

    private static RoomNeed need(String node, double cpuCores) {
        return new RoomNeed(node, cpuCores, 512L << 20);
    }

    @Test
    void aStuckNodeGetsTheLeastLoadedRoomOfAnotherCellThatFitsItAndNeverItsOwnCells() {
        List<CellGrant> grants = balancer.round(List.of(
                cell("a", List.of(need("a-hot", 1.5)), List.of(room("a-idle", 0.1))),
                cell("b", List.of(), List.of(room("b-busy", 2.0), room("b-quiet", 0.8))),
                cell("c", List.of(), List.of(room("c-full", 1.6)))), 1_000);
        assertEquals(1, grants.size(), grants.toString());
        CellGrant grant = grants.get(0);
        assertEquals("a", grant.fromCell());
        assertEquals("b", grant.toCell());
        assertEquals(1, grant.quota());
        assertEquals("b-quiet", grant.rooms().get(0).nodeId(), "a's own idle node is not lent to a; c-full would exceed 0.75");
        assertEquals("a-hot", grant.rooms().get(0).forNode());
        assertEquals(16_000, grant.expiresAtMs());
        assertEquals(CellBalancer.grantId("a", "b", 1_000), grant.grantId());
    }

    @Test
    void roomIsCountedWithinARoundSoTwoNeedsNeverShareWhatFitsOnlyOne() {
        // b-one has room for one 1.5-core move (0.4 + 1.5 + 1.5 > 3 cores), so the second need goes to c
        List<CellGrant> grants = balancer.round(List.of(
                cell("a", List.of(need("a-hot1", 1.5), need("a-hot2", 1.5)), List.of()),
                cell("b", List.of(), List.of(room("b-one", 0.4))),
                cell("c", List.of(), List.of(room("c-one", 0.6)))), 0);
        assertEquals(2, grants.size(), grants.toString());
        assertEquals(List.of("b-one"), grants.stream().filter(g -> g.toCell().equals("b")).findFirst().orElseThrow()
                .rooms().stream().map(CellGrant.GrantedRoom::nodeId).toList());
        assertEquals(List.of("c-one"), grants.stream().filter(g -> g.toCell().equals("c")).findFirst().orElseThrow()
                .rooms().stream().map(CellGrant.GrantedRoom::nodeId).toList());
    }

    @Test
    void noRoomAnywhereGrantsNothingAndTheRoundIsDeterministic() {
        List<CellSummary> summaries = List.of(
                cell("a", List.of(need("a-hot", 3.5)), List.of()),
                cell("b", List.of(), List.of(room("b-x", 0.5), room("b-y", 0.5))));
        assertTrue(balancer.round(summaries, 0).isEmpty(), "3.5 cores fit no 4-core node under 0.75");
        List<CellSummary> fits = List.of(
                cell("a", List.of(need("a-hot", 1.0), need("a-hot2", 1.0)), List.of()),
                cell("b", List.of(), List.of(room("b-x", 0.5), room("b-y", 0.5))));
        assertEquals(balancer.round(fits, 0), balancer.round(fits, 0));
    }
}
