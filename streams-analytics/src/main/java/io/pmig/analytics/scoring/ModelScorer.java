package io.pmig.analytics.scoring;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.features.FeatureVector;
import io.pmig.analytics.features.WindowFeatures;
import io.pmig.schemas.AlarmPolicy;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.Trigger;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.nio.ByteBuffer;
import java.util.List;
import smile.classification.DataFrameClassifier;
import smile.data.Tuple;
import smile.data.type.StructType;

/**
 * Scores windows with a Smile classifier (a RandomForest in practice) Java-serialized in
 * {@link ModelUpdate#getModelBytes()}. The score is the predicted probability of class 1 ("overloaded
 * within the horizon"). Columns are matched by name, so the model's column order need not follow
 * {@link WindowFeatures#NAMES}; a model asking for a feature pmig does not compute is rejected at load time.
 *
 * <p>A model may carry the alarm policy chosen with it ({@code ModelUpdate.alarmPolicy}: score threshold, windows in a
 * row); {@link #load(ModelUpdate, AnalyticsConfig)} applies it for each of the two keys the operator did not set.
 */
public final class ModelScorer implements OverloadScorer {

    public static final String NAME = "model";

    /** Only Smile's and the JDK's classes may be instantiated from model bytes. */
    private static final ObjectInputFilter ONLY_SMILE = ObjectInputFilter.Config.createFilter(
            "maxdepth=200;smile.**;java.**;!*");

    private final DataFrameClassifier model;
    private final String version;
    private final double threshold;
    /** Flagged windows in a row before acting that the model carries and the operator did not override; 0: not carried. */
    private final int consecutiveWindows;
    private final StructType schema;
    private final int[] featureIndexByColumn;
    /** Posterior index of label 1; -1 if the model never saw an overloaded window. */
    private final int overloadedIndex;
    /** The same forest as flat arrays, when it can be (same posteriors, about 60 % of the cost); null: Smile predicts. */
    private final CompiledForest compiled;

    private ModelScorer(DataFrameClassifier model, String version, double threshold, int consecutiveWindows, boolean compile) {
        this.model = model;
        this.version = version;
        this.threshold = threshold;
        this.consecutiveWindows = consecutiveWindows;
        this.schema = model.schema();
        String response = model.formula().response() == null ? null : model.formula().response().toString();
        String[] columns = schema.names();
        this.featureIndexByColumn = new int[columns.length];
        for (int i = 0; i < columns.length; i++) {
            int index = WindowFeatures.NAMES.indexOf(columns[i]);
            if (index < 0 && !columns[i].equals(response)) {
                throw new IllegalArgumentException("model " + version + " needs feature '" + columns[i]
                        + "', which pmig does not compute (known: " + WindowFeatures.NAMES + ")");
            }
            featureIndexByColumn[i] = index; // -1: the response column, unused when predicting
        }
        this.overloadedIndex = java.util.stream.IntStream.range(0, model.classes().length)
                .filter(i -> model.classes()[i] == 1).findFirst().orElse(-1);
        this.compiled = compile ? CompiledForest.of(model, schema, featureIndexByColumn).orElse(null) : null;
    }

    /** Loads the model in an update; throws IllegalArgumentException saying why the update is unusable. */
    public static ModelScorer load(ModelUpdate update, double threshold) {
        return load(update, threshold, 0, true);
    }

    /**
     * Loads the model as the app runs it: under the alarm policy the model carries, except for the keys the operator set
     * ({@value AnalyticsConfig#MODEL_SCORE_THRESHOLD}, {@value AnalyticsConfig#HYSTERESIS_WINDOWS}); without a carried
     * policy, under the configured ones.
     */
    public static ModelScorer load(ModelUpdate update, AnalyticsConfig config) {
        AlarmPolicy carried = update.getAlarmPolicy();
        if (carried == null) {
            return load(update, config.modelScoreThreshold());
        }
        if (!(carried.getScoreThreshold() > 0 && carried.getScoreThreshold() <= 1) || carried.getConsecutiveWindows() < 1) {
            throw new IllegalArgumentException("model " + update.getVersion() + " carries an unusable alarm policy (score threshold "
                    + carried.getScoreThreshold() + ", " + carried.getConsecutiveWindows() + " windows in a row)");
        }
        double threshold = config.isGiven(AnalyticsConfig.MODEL_SCORE_THRESHOLD) ? config.modelScoreThreshold()
                : carried.getScoreThreshold();
        int consecutive = config.isGiven(AnalyticsConfig.HYSTERESIS_WINDOWS) ? config.hysteresisWindows()
                : carried.getConsecutiveWindows();
        return load(update, threshold, consecutive, true);
    }

    /** @param compile false keeps Smile's own predict, to compare the compiled form with */
    static ModelScorer load(ModelUpdate update, double threshold, boolean compile) {
        return load(update, threshold, 0, compile);
    }

    private static ModelScorer load(ModelUpdate update, double threshold, int consecutiveWindows, boolean compile) {
        List<String> unknown = update.getFeatures().stream().map(Object::toString)
                .filter(name -> !WindowFeatures.NAMES.contains(name)).toList();
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("model " + update.getVersion() + " lists features pmig does not compute: " + unknown);
        }
        Object model = deserialize(update.getModelBytes(), update.getVersion().toString());
        if (!(model instanceof DataFrameClassifier classifier)) {
            throw new IllegalArgumentException("model " + update.getVersion() + " is a " + model.getClass().getName()
                    + ", not a Smile DataFrameClassifier such as RandomForest");
        }
        if (!classifier.soft()) {
            throw new IllegalArgumentException("model " + update.getVersion() + " cannot give probabilities");
        }
        return new ModelScorer(classifier, update.getVersion().toString(), threshold, consecutiveWindows, compile);
    }

    public String version() {
        return version;
    }

    /** The score a window must reach to be flagged. */
    public double threshold() {
        return threshold;
    }

    /** Flagged windows in a row before acting, from the model's alarm policy; 0 when the configured count applies. */
    public int consecutiveWindows() {
        return consecutiveWindows;
    }

    /** Whether windows are scored by the compiled form of the forest rather than by Smile's own predict. */
    public boolean compiled() {
        return compiled != null;
    }

    @Override
    public OverloadScore score(FeatureVector features) {
        double[] all = features.toArray();
        double[] posteriori = new double[Math.max(2, model.numClasses())];
        if (compiled != null) {
            compiled.predict(all, posteriori);
        } else {
            double[] row = new double[featureIndexByColumn.length];
            for (int i = 0; i < row.length; i++) {
                row[i] = featureIndexByColumn[i] < 0 ? 0 : all[featureIndexByColumn[i]];
            }
            model.predict(Tuple.of(row, schema), posteriori);
        }
        double score = overloadedIndex < 0 ? 0.0 : posteriori[overloadedIndex];
        return new OverloadScore(score, score >= threshold, NAME, version, Trigger.MODEL);
    }

    private static Object deserialize(ByteBuffer bytes, String version) {
        ByteBuffer buffer = bytes.duplicate();
        byte[] data = new byte[buffer.remaining()];
        buffer.get(data);
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(data))) {
            in.setObjectInputFilter(ONLY_SMILE);
            return in.readObject();
        } catch (IOException | ClassNotFoundException | RuntimeException e) {
            throw new IllegalArgumentException("model " + version + " cannot be deserialized: " + e, e);
        }
    }
}
