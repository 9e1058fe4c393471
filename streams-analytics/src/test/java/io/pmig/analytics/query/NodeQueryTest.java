package io.pmig.analytics.query;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.NodeState;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NodeQueryTest {

    private static NodeScore score(String id, NodeState state, double score) {
        return NodeScore.newBuilder().setNodeId(id).setWindowStartMs(0).setWindowEndMs(10_000).setScore(score)
                .setOverloaded(state == NodeState.OVERLOADED).setState(state)
                .setFeatures(Map.of("cpu_last", 91.5, "mem_fraction_last", 0.4, "cpu_p95", 93.0)).setTimestampMs(10_000).build();
    }

    @Test
    void withoutParametersEveryNodeIsListedByIdCompactlyAThousandAtATime() {
        NodeQuery query = NodeQuery.parse(null);
        assertEquals(new NodeQuery(null, false, null, NodeQuery.DEFAULT_LIMIT, false), query);
        assertTrue(query.matches(score("a", NodeState.DOWN, 0)));
        JsonNode compact = NodeStatusServer.compact(score("a", NodeState.OVERLOADED, 0.9));
        assertEquals("{\"nodeId\":\"a\",\"state\":\"OVERLOADED\",\"score\":0.9,\"windowEndMs\":10000,\"cpu\":91.5,\"mem\":0.4}",
                compact.toString(), "no features beyond CPU and memory");
    }

    @Test
    void hotMeansOverloadedAndAfterPagesByNodeId() {
        NodeQuery hot = NodeQuery.parse("state=HOT&after=b&limit=2");
        assertFalse(hot.matches(score("c", NodeState.UP, 0.9)));
        assertFalse(hot.matches(score("b", NodeState.OVERLOADED, 0.9)), "after is exclusive");
        assertTrue(hot.matches(score("c", NodeState.OVERLOADED, 0.9)));
        assertEquals("scope=local&limit=2&sort=id&fields=compact&state=hot&after=b", hot.forPeer(), "a peer is asked the same");
    }

    @Test
    void theUnionOfThePartsIsCutToTheLimitInTheQuerysOrder() {
        List<JsonNode> nodes = List.of(NodeStatusServer.compact(score("c", NodeState.OVERLOADED, 0.7)),
                NodeStatusServer.compact(score("a", NodeState.OVERLOADED, 0.9)),
                NodeStatusServer.compact(score("b", NodeState.OVERLOADED, 0.9)));
        assertEquals(List.of("a", "b"), ids(NodeQuery.parse("limit=2").firstOf(nodes)));
        assertEquals(List.of("a", "b", "c"), ids(NodeQuery.parse("sort=score").firstOf(nodes)), "highest first, then id");
        assertEquals(List.of("a"), ids(NodeQuery.parse("sort=score&limit=1").firstOf(nodes)));
    }

    @Test
    void aBadParameterIsRefusedNamingIt() {
        assertEquals("limit: '0' is not a number from 1 to 10000",
                assertThrows(IllegalArgumentException.class, () -> NodeQuery.parse("limit=0")).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> NodeQuery.parse("state=warm")).getMessage().startsWith("state:"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> NodeQuery.parse("sort=cpu")).getMessage().startsWith("sort:"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> NodeQuery.parse("sort=score&after=a")).getMessage()
                .startsWith("after:"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> NodeQuery.parse("page=2")).getMessage()
                .contains("unknown parameter 'page'"));
    }

    private static List<String> ids(List<JsonNode> nodes) {
        return nodes.stream().map(n -> n.path("nodeId").asText()).toList();
    }
}
