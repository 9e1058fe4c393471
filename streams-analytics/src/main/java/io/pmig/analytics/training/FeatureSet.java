package io.pmig.analytics.training;

import io.pmig.analytics.features.FeatureVector;
import io.pmig.analytics.features.WindowFeatures;
import io.pmig.platform.config.ConfigException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The features a model is trained on: a subset of {@link WindowFeatures#NAMES}, kept in that order. The model
 * lists them in its {@code ModelUpdate.features} and {@code ModelScorer} picks its columns by name, so a model
 * over a subset scores the full vectors the topology computes.
 *
 * <p>{@link #NODE_LOCAL} (the default) keeps what a node knows of itself in both sampling modes. In simulated
 * mode (several nodes on one host, the mode of the recorded trace and of the demo) the load averages, swap,
 * process counts, disk and network rates and the busiest "other" processes are the host's, identical on every
 * simulated node at the same instant: a model trained on them learns that a node overloads when another node
 * on the same host does, which holds on no real cluster.
 *
 * @param name     "node-local", "all", or "custom"
 * @param features feature names in {@link WindowFeatures#NAMES} order
 */
public record FeatureSet(String name, List<String> features) {

    /** The node's own CPU (its workloads against its capacity), memory, workloads, and its agent's sampling. */
    public static final FeatureSet NODE_LOCAL = new FeatureSet("node-local", List.of(
            "cpu_mean", "cpu_max", "cpu_p95", "cpu_last", "cpu_stddev", "cpu_slope",
            "mem_fraction_mean", "mem_fraction_last", "mem_slope",
            "workload_cpu_share", "workload_count",
            "sample_count", "sample_gap_max_s"));

    /** Every feature pmig computes; right for agents in host mode, one node per host. */
    public static final FeatureSet ALL = new FeatureSet("all", WindowFeatures.NAMES);

    public FeatureSet {
        features = List.copyOf(features);
        if (features.isEmpty()) {
            throw new ConfigException("--features", "names no feature");
        }
    }

    /** "node-local", "all", or comma-separated names from {@link WindowFeatures#NAMES}. */
    public static FeatureSet parse(String text) {
        String value = text.strip();
        if (value.equals(NODE_LOCAL.name())) {
            return NODE_LOCAL;
        }
        if (value.equals(ALL.name())) {
            return ALL;
        }
        List<String> asked = Arrays.stream(value.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
        List<String> unknown = asked.stream().filter(n -> !WindowFeatures.NAMES.contains(n)).toList();
        if (!unknown.isEmpty()) {
            throw new ConfigException("--features", "unknown feature(s) " + unknown + "; use node-local, all, or names from "
                    + WindowFeatures.NAMES);
        }
        List<String> ordered = new ArrayList<>();
        for (String known : WindowFeatures.NAMES) {
            if (asked.contains(known)) {
                ordered.add(known);
            }
        }
        return new FeatureSet("custom", ordered);
    }

    /** This set's values of one window, in {@link #features} order. */
    public double[] row(FeatureVector vector) {
        double[] row = new double[features.size()];
        for (int i = 0; i < row.length; i++) {
            row[i] = vector.get(features.get(i));
        }
        return row;
    }

    @Override
    public String toString() {
        return name + " (" + features.size() + "): " + String.join(", ", features);
    }
}
