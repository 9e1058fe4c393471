package io.pmig.schemas.features;

import io.pmig.schemas.NodeScore;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.IndexedRecord;

/**
 * The feature lists that name a {@link NodeScore}'s {@code featureValues} by position. A score on pmig.scores carries
 * its window's 22 features as 8-byte values plus the number of the layout that names them, instead of 22 names and
 * values (about 400 of the 600 bytes a score took). A released layout never changes: a feature added, dropped or
 * renamed is a new version here, and the old ones stay, so every score ever written can still be read by name.
 * Version {@value #BY_NAME} means none: the score carries its features by name in the {@code features} map, as every
 * score of schema version 1 did.
 */
public final class FeatureLayout {

    /** A score's featureLayout when its features are in the {@code features} map by name. */
    public static final int BY_NAME = 0;

    /** The window features of pmig 0.1 (streams-analytics' WindowFeatures.NAMES), in that order. */
    public static final FeatureLayout V1 = new FeatureLayout(1, List.of(
            "cpu_mean", "cpu_max", "cpu_p95", "cpu_last", "cpu_stddev", "cpu_slope",
            "mem_fraction_mean", "mem_fraction_last", "mem_slope", "swap_fraction_last",
            "load1_per_cpu_last", "load1_slope", "load5_per_cpu_last",
            "process_count_last", "process_count_delta",
            "top_process_cpu_share", "workload_cpu_share", "workload_count",
            "disk_bytes_per_s_mean", "net_bytes_per_s_mean",
            "sample_count", "sample_gap_max_s"));

    private static final List<FeatureLayout> RELEASED = List.of(V1);

    private final int version;
    private final List<String> names;
    private final Map<String, Integer> positions = new HashMap<>();

    private FeatureLayout(int version, List<String> names) {
        this.version = version;
        this.names = List.copyOf(names);
        for (int i = 0; i < this.names.size(); i++) {
            positions.put(this.names.get(i), i);
        }
    }

    /** The released layout with this version, or null (a newer writer's, or {@value #BY_NAME}). */
    public static FeatureLayout byVersion(int version) {
        for (FeatureLayout layout : RELEASED) {
            if (layout.version == version) {
                return layout;
            }
        }
        return null;
    }

    /** The released layout that lists exactly these names in this order, or null: such features go by name. */
    public static FeatureLayout listing(List<String> names) {
        for (FeatureLayout layout : RELEASED) {
            if (layout.names.equals(names)) {
                return layout;
            }
        }
        return null;
    }

    public int version() {
        return version;
    }

    public List<String> names() {
        return names;
    }

    /**
     * Sets a score's features by position when a released layout lists {@code names} in order, else by name.
     *
     * @param values one per name, in the same order
     */
    public static NodeScore.Builder setFeatures(NodeScore.Builder score, List<String> names, double[] values) {
        if (names.size() != values.length) {
            throw new IllegalArgumentException(names.size() + " feature names but " + values.length + " values");
        }
        FeatureLayout layout = listing(names);
        if (layout == null) {
            Map<String, Double> byName = new LinkedHashMap<>();
            for (int i = 0; i < values.length; i++) {
                byName.put(names.get(i), values[i]);
            }
            return score.setFeatureLayout(BY_NAME).setFeatureValues(List.of()).setFeatures(byName);
        }
        List<Double> byPosition = new ArrayList<>(values.length);
        for (double value : values) {
            byPosition.add(value);
        }
        return score.setFeatureLayout(layout.version).setFeatureValues(byPosition).setFeatures(Map.of());
    }

    /**
     * A score's features by name (in its layout's order), however it carries them.
     *
     * @throws IllegalArgumentException if its layout is unknown to this build or does not match its values
     */
    public static Map<String, Double> byName(NodeScore score) {
        if (score.getFeatureLayout() == BY_NAME) {
            return Collections.unmodifiableMap(score.getFeatures());
        }
        return named(score.getNodeId(), score.getFeatureLayout(), score.getFeatureValues());
    }

    /** One feature of a score, or null if it has none of that name. */
    public static Double feature(NodeScore score, String name) {
        if (score.getFeatureLayout() == BY_NAME) {
            return score.getFeatures().get(name);
        }
        FeatureLayout layout = byVersion(score.getFeatureLayout());
        Integer position = layout == null ? null : layout.positions.get(name);
        return position == null || position >= score.getFeatureValues().size() ? null : score.getFeatureValues().get(position);
    }

    /**
     * The features of a NodeScore decoded without its class (the console formatter's records: any schema version), by
     * name; null if the record carries none by position (another type, schema version 1, or layout {@value #BY_NAME}).
     *
     * @throws IllegalArgumentException if its layout is unknown to this build or does not match its values
     */
    public static Map<String, Double> byName(IndexedRecord record) {
        Schema schema = record.getSchema();
        Schema.Field layout = schema.getField("featureLayout");
        Schema.Field values = schema.getField("featureValues");
        if (!schema.getName().equals(NodeScore.getClassSchema().getName()) || layout == null || values == null
                || ((Number) record.get(layout.pos())).intValue() == BY_NAME) {
            return null;
        }
        List<Double> doubles = new ArrayList<>();
        for (Object value : (List<?>) record.get(values.pos())) {
            doubles.add(((Number) value).doubleValue());
        }
        Schema.Field node = schema.getField("nodeId");
        return named(node == null ? "?" : String.valueOf(record.get(node.pos())), ((Number) record.get(layout.pos())).intValue(),
                doubles);
    }

    private static Map<String, Double> named(CharSequence node, int version, List<Double> values) {
        FeatureLayout layout = byVersion(version);
        if (layout == null) {
            throw new IllegalArgumentException("score of " + node + " names its features by layout " + version
                    + ", which this pmig does not know (it knows " + RELEASED.stream().map(l -> l.version).toList()
                    + "): upgrade the reader");
        }
        if (values.size() != layout.names.size()) {
            throw new IllegalArgumentException("score of " + node + " has " + values.size() + " feature values, its layout "
                    + version + " names " + layout.names.size());
        }
        Map<String, Double> byName = new LinkedHashMap<>();
        for (int i = 0; i < values.size(); i++) {
            byName.put(layout.names.get(i), values.get(i));
        }
        return Collections.unmodifiableMap(byName);
    }
}
