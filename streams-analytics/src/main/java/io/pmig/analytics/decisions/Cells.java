package io.pmig.analytics.decisions;

import io.pmig.platform.topics.Topic;
import io.pmig.analytics.AnalyticsConfig;
import java.util.Map;

/**
 * Which cell a node belongs to: the label configured for it ({@value AnalyticsConfig#CELL_LABELS}: a rack, a zone), else a hash of its node id into {@code buckets} cells
 * ({@code analytics.cells}). A cell is the unit that has its own budget of migrations in flight, and the nodes a
 * workload may move between. The hash is the producer's key partitioner (murmur2), so a topic keyed by cell id and
 * one keyed by node id can be lined up later; it depends on the node id and the bucket count only, so every
 * instance and every replay agrees.
 */
public final class Cells {

    private final int buckets;
    private final Map<String, String> labels;

    public Cells(int buckets, Map<String, String> labels) {
        if (buckets < 1) {
            throw new IllegalArgumentException("at least one cell: " + buckets);
        }
        this.buckets = buckets;
        this.labels = Map.copyOf(labels);
    }

    /** The cells {@value AnalyticsConfig#CELLS} and {@value AnalyticsConfig#CELL_LABELS} configure. */
    public static Cells of(AnalyticsConfig config) {
        return new Cells(config.cells(), config.cellLabels());
    }

    /** Whether every node is in one cell: then there is nobody to trade room with. */
    public boolean single() {
        return buckets == 1 && labels.isEmpty();
    }

    /** Cells by hash only. */
    public Cells(int buckets) {
        this(buckets, Map.of());
    }

    public String cellOf(String nodeId) {
        String label = labels.get(nodeId);
        if (label != null) {
            return label;
        }
        return buckets == 1 ? "cell-0" : "cell-" + Topic.partitionOf(nodeId, buckets);
    }

    public boolean sameCell(String a, String b) {
        return cellOf(a).equals(cellOf(b));
    }
}
