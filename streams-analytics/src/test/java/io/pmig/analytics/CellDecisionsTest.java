package io.pmig.analytics;

import static io.pmig.analytics.Samples.MIB;
import static io.pmig.analytics.Samples.sample;
import static io.pmig.analytics.Samples.workload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.decisions.Cells;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.CellSummary;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.serde.AvroSerde;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.TestOutputTopic;
import org.junit.jupiter.api.Test;

/**
 * Cells decide alone; the global balancer lends room across them. Two cells by hash: in cell A a hot node whose only
 * neighbour is busy (no room inside A), in cell B a hot node with an idle neighbour and a second idle node. B's hot node
 * moves inside B at once; A's waits for the balancer, which sees A's summary (stuck) and B's (offers), and grants A
 * room on B's other idle node; A's next plan moves there.
 */
class CellDecisionsTest {

    private static final Cells CELLS = new Cells(2);

    /** The first of prefix-0, prefix-1, ... that hashes into {@code cell}. */
    static String nodeIn(String cell, String prefix) {
        for (int i = 0; ; i++) {
            if (CELLS.cellOf(prefix + "-" + i).equals(cell)) {
                return prefix + "-" + i;
            }
        }
    }

    @Test
    void aHotNodeMovesInsideItsCellWhenItHasRoomAndToAnotherCellOnlyThroughTheBalancersGrant() {
        String hotA = nodeIn("cell-0", "hot-a");
        String busyA = nodeIn("cell-0", "busy-a");
        String hotB = nodeIn("cell-1", "hot-b");
        String idleB = nodeIn("cell-1", "idle-b");
        String spareB = nodeIn("cell-1", "spare-b");
        Map<String, String> config = Map.of(
                AnalyticsConfig.CELLS, "2",
                AnalyticsConfig.CELL_SUMMARY_INTERVAL_MS, "1000",
                AnalyticsConfig.BALANCER_INTERVAL_MS, "1000");
        try (TopologyHarness harness = new TopologyHarness(config)) {
            TestOutputTopic<String, CellSummary> summaries = harness.driver.createOutputTopic(Topic.CELLS.topicName(),
                    new StringDeserializer(), AvroSerde.of(CellSummary.class));
            harness.run(40, t -> new NodeMetrics[] {
                    sample(hotA, t, 95, 0.30, workload("w-a", 150, 256 * MIB, true)),
                    sample(busyA, t, 70, 0.30),
                    sample(hotB, t, 95, 0.30, workload("w-b", 150, 256 * MIB, true)),
                    // idle-b is the least loaded, so B's own move takes it; spare-b is what B can lend
                    sample(idleB, t, 5, 0.20),
                    sample(spareB, t, 10, 0.20),
            });
            Map<String, MigrationCommand> bySource = harness.commands().stream()
                    .collect(Collectors.toMap(command -> command.getSourceNode().toString(), command -> command));
            assertEquals(2, harness.commands().size(), "one move per hot node, no more: " + harness.commands());
            assertEquals(idleB, bySource.get(hotB).getDestinationNode().toString(), "B's hot node moves inside B");
            MigrationCommand across = bySource.get(hotA);
            // the balancer lends B's least loaded node; which one depends on whether B's summary already held its own move
            assertEquals("cell-1", CELLS.cellOf(across.getDestinationNode().toString()), "A has no room: the balancer lent B's");
            assertTrue(List.of(idleB, spareB).contains(across.getDestinationNode().toString()), across.toString());
            assertTrue(across.getReason().getText().contains("room the global balancer lent cell cell-0"),
                    across.getReason().getText());
            assertTrue(across.getIssuedAtMs() > bySource.get(hotB).getIssuedAtMs(), "the move across cells waits for a grant");

            List<KeyValue<String, CellSummary>> published = summaries.readKeyValuesToList();
            assertTrue(published.stream().anyMatch(record -> record.key.equals("cell-0")
                    && record.value.getStuck().stream().anyMatch(need -> need.getNodeId().toString().equals(hotA))),
                    "cell A said it is stuck: " + published);
            assertTrue(published.stream().allMatch(record -> record.key.equals(record.value.getCell().toString())
                    && record.value.getApplicationId().toString().equals("pmig-analytics")));
            CellSummary lastB = published.stream().filter(record -> record.key.equals("cell-1")).reduce((a, b) -> b).orElseThrow().value;
            assertFalse(lastB.getOffers().stream().anyMatch(room -> room.getNodeId().toString().equals(hotB)),
                    "a hot node offers no room");
        }
    }
}
