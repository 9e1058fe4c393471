package io.pmig.platform.nodes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.schemas.ClaimState;
import io.pmig.schemas.ExecutorClaim;
import org.junit.jupiter.api.Test;

/** The claim rule: the log decides which of several executors holds a node id. */
class NodeRegistryTest {

    private static ExecutorClaim claim(String incarnation, String previous, ClaimState state) {
        return ExecutorClaim.newBuilder().setNode("a").setIncarnation(incarnation).setPreviousIncarnation(previous)
                .setState(state).setStartedAtMs(1).setHeartbeatMs(2).build();
    }

    private static String holderAfter(ExecutorClaim... log) {
        NodeRegistry registry = new NodeRegistry();
        for (ExecutorClaim c : log) {
            registry.accept("a", c);
        }
        return registry.holder("a").map(ExecutorClaim::getIncarnation).orElse(null);
    }

    @Test
    void theFirstClaimOfAFreeNodeHoldsItAndItsHeartbeatsKeepIt() {
        assertEquals("x", holderAfter(claim("x", null, ClaimState.ACTIVE), claim("x", null, ClaimState.ACTIVE)));
    }

    @Test
    void aClaimThatIgnoresTheActiveHolderIsVoid() {
        assertEquals("x", holderAfter(claim("x", null, ClaimState.ACTIVE), claim("y", null, ClaimState.ACTIVE)));
    }

    @Test
    void aClaimNamingTheHolderTakesOver() {
        assertEquals("y", holderAfter(claim("x", null, ClaimState.ACTIVE), claim("y", "x", ClaimState.ACTIVE)));
    }

    @Test
    void ofTwoClaimsRacingForOneHolderTheFirstInTheLogWins() {
        assertEquals("y", holderAfter(claim("x", null, ClaimState.ACTIVE), claim("y", "x", ClaimState.ACTIVE),
                claim("z", "x", ClaimState.ACTIVE), claim("y", "x", ClaimState.ACTIVE)));
    }

    @Test
    void aStoppedHolderLeavesTheNodeKnownAndFreeToClaim() {
        NodeRegistry registry = new NodeRegistry();
        registry.accept("a", claim("x", null, ClaimState.ACTIVE));
        registry.accept("a", claim("x", null, ClaimState.STOPPED));
        assertTrue(registry.known().contains("a"));
        registry.accept("a", claim("y", "x", ClaimState.ACTIVE));
        assertEquals("y", registry.holder("a").orElseThrow().getIncarnation());
        assertTrue(registry.unknownNode("zz").startsWith("unknown node zz (known: a)"), registry.unknownNode("zz"));
    }
}
