package io.pmig.analytics.features;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The features of one node window, by name, in the fixed order of {@link WindowFeatures#NAMES}. Models are
 * trained and scored on these names, so a model stays valid as long as the names it lists still exist.
 */
public final class FeatureVector {

    private final double[] values;

    FeatureVector(double[] values) {
        if (values.length != WindowFeatures.NAMES.size()) {
            throw new IllegalArgumentException("expected " + WindowFeatures.NAMES.size() + " values, got " + values.length);
        }
        this.values = values;
    }

    /** Rebuilds a vector from features by name (a NodeScore's: {@code FeatureLayout.byName}); missing names are an error. */
    public static FeatureVector fromMap(Map<String, Double> byName) {
        double[] values = new double[WindowFeatures.NAMES.size()];
        for (int i = 0; i < values.length; i++) {
            Double value = byName.get(WindowFeatures.NAMES.get(i));
            if (value == null) {
                throw new IllegalArgumentException("feature " + WindowFeatures.NAMES.get(i) + " is missing");
            }
            values[i] = value;
        }
        return new FeatureVector(values);
    }

    public double get(String name) {
        int index = WindowFeatures.NAMES.indexOf(name);
        if (index < 0) {
            throw new IllegalArgumentException("no feature named " + name + " (known: " + WindowFeatures.NAMES + ")");
        }
        return values[index];
    }

    /** A copy of the values in {@link WindowFeatures#NAMES} order, as a model's input row. */
    public double[] toArray() {
        return values.clone();
    }

    public Map<String, Double> toMap() {
        Map<String, Double> map = new LinkedHashMap<>();
        for (int i = 0; i < values.length; i++) {
            map.put(WindowFeatures.NAMES.get(i), values[i]);
        }
        return Collections.unmodifiableMap(map);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof FeatureVector vector && Arrays.equals(values, vector.values);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        return toMap().toString();
    }
}
