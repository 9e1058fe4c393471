package io.pmig.analytics;

import io.pmig.analytics.features.WindowFeatures;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.NodeMetrics;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectOutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import smile.classification.RandomForest;
import smile.data.DataFrame;
import smile.data.formula.Formula;
import smile.data.vector.IntVector;

/**
 * Trains a small but real Smile RandomForest on windows built with the production feature code. Its
 * notion of overload is deliberately different from the threshold rule (p95 CPU of 50% rather than 85%),
 * so tests can tell which scorer produced a verdict.
 */
public final class TestModels {

    public static final double MODEL_CPU_CUT = 50.0;

    private TestModels() {
    }

    public static ModelUpdate trainedModel(String version) {
        Random random = new Random(42);
        int rows = 300;
        double[][] x = new double[rows][];
        int[] y = new int[rows];
        for (int row = 0; row < rows; row++) {
            double level = random.nextDouble() * 100;
            List<NodeMetrics> window = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                double cpu = Math.max(0, Math.min(100, level + random.nextGaussian() * 2));
                window.add(Samples.sample("train", i * 1000L, cpu, 0.3,
                        Samples.workload("w", cpu * 2, 100 * Samples.MIB, true)));
            }
            var features = WindowFeatures.compute(window);
            x[row] = features.toArray();
            y[row] = features.get("cpu_p95") >= MODEL_CPU_CUT ? 1 : 0;
        }
        DataFrame data = DataFrame.of(x, WindowFeatures.NAMES.toArray(String[]::new)).merge(IntVector.of("overloaded", y));
        Properties params = new Properties();
        params.setProperty("smile.random_forest.trees", "30");
        RandomForest forest = RandomForest.fit(Formula.lhs("overloaded"), data, params);
        return ModelUpdate.newBuilder()
                .setVersion(version)
                .setFeatures(new ArrayList<>(WindowFeatures.NAMES))
                .setTrainedFromMs(0)
                .setTrainedToMs(rows * 1000L)
                .setHorizonS(30)
                .setMetrics(Map.of("f1", 1.0))
                .setTrainedAtMs(System.currentTimeMillis())
                .setModelBytes(ByteBuffer.wrap(serialize(forest)))
                .build();
    }

    static byte[] serialize(Object model) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(model);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }
}
