package io.pmig.analytics.training;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.features.WindowFeatures;
import io.pmig.analytics.scoring.ModelScorer;
import io.pmig.analytics.scoring.ThresholdScorer;
import io.pmig.schemas.ModelUpdate;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectOutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.LongStream;
import smile.base.cart.SplitRule;
import smile.classification.RandomForest;
import smile.data.DataFrame;
import smile.data.formula.Formula;
import smile.data.vector.IntVector;

/**
 * Trains the overload model: a Smile random forest on the training part of a time-ordered split, evaluated on
 * the held-out part against the threshold rule the analytics app falls back to, both at the thresholds they
 * are deployed with. The model shipped is the one evaluated (trained on the training part only), so the
 * figures in its {@link ModelUpdate} describe exactly that model.
 */
public final class OverloadModelTrainer {

    /** Name of the label column; not a feature, so {@link ModelScorer} skips it when scoring. */
    public static final String LABEL = "overloaded_within_horizon";
    private static final DateTimeFormatter VERSION_TIME = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

    /**
     * @param trees           trees in the forest
     * @param seed            seed of the trees' bootstrap samples: the same data and seed give the same model
     * @param heldOutFraction the most recent fraction of the time range used only for evaluation
     */
    public record Options(int trees, long seed, double heldOutFraction) {

        public static Options defaults() {
            return new Options(200, 20240601L, 0.3);
        }
    }

    /** A trained model, how it and the threshold rule did on the held-out part, and the data behind it. */
    public record Result(ModelUpdate update, Evaluation model, Evaluation baseline, Evaluation cpuMemBaseline,
                         Dataset dataset, Dataset.Split split, long trainMillis) {
    }

    private OverloadModelTrainer() {
    }

    public static Result train(Dataset dataset, AnalyticsConfig analytics, Options options) {
        Dataset.Split split = dataset.split(options.heldOutFraction());
        long trainPositives = split.train().stream().filter(LabelledWindow::positive).count();
        if (trainPositives == 0 || trainPositives == split.train().size()) {
            throw new IllegalStateException("the training part (" + split.train().size() + " windows before "
                    + Instant.ofEpochMilli(split.cutMs()) + ") has " + (trainPositives == 0 ? "no" : "only")
                    + " overloaded windows: record longer, with overloads spread over the whole time range");
        }
        if (split.heldOut().isEmpty()) {
            throw new IllegalStateException("the held-out part is empty: the time range is too short for a split");
        }
        long started = System.currentTimeMillis();
        RandomForest forest = fit(split.train(), options);
        long trainMillis = System.currentTimeMillis() - started;
        byte[] bytes = serialize(forest);
        long trainedAt = System.currentTimeMillis();
        String version = "rf-" + VERSION_TIME.format(Instant.ofEpochMilli(trainedAt)) + "-" + shortHash(bytes);

        OverloadDefinition overload = dataset.overload();
        ModelUpdate unscored = ModelUpdate.newBuilder()
                .setVersion(version)
                .setAlgorithm("random-forest")
                .setFeatures(List.copyOf(WindowFeatures.NAMES))
                .setTrainedFromMs(dataset.firstSampleMs())
                .setTrainedToMs(dataset.lastSampleMs())
                .setHorizonS(overload.horizonS())
                .setMetrics(Map.of())
                .setTrainedAtMs(trainedAt)
                .setModelBytes(ByteBuffer.wrap(bytes))
                .build();
        // Evaluate through the scorer the app uses, at the threshold the app uses: what is measured is what runs.
        ModelScorer scorer = ModelScorer.load(unscored, analytics.modelScoreThreshold());
        Evaluation model = Evaluation.of(split.heldOut(), dataset.episodes(), overload, scorer);
        Evaluation baseline = Evaluation.of(split.heldOut(), dataset.episodes(), overload, ThresholdScorer.from(analytics));
        // The rule without its load-average criterion too: on simulated nodes the load average is the shared
        // host's, so the full rule can fire on a quiet node; this shows how the rule does on the node's own figures.
        Evaluation cpuMem = Evaluation.of(split.heldOut(), dataset.episodes(), overload,
                new ThresholdScorer(analytics.thresholdCpuPercent(), analytics.thresholdMemFraction(), Double.POSITIVE_INFINITY));
        ModelUpdate update = ModelUpdate.newBuilder(unscored)
                .setMetrics(metrics(model, baseline, cpuMem, dataset, split, options))
                .build();
        return new Result(update, model, baseline, cpuMem, dataset, split, trainMillis);
    }

    static RandomForest fit(List<LabelledWindow> train, Options options) {
        double[][] rows = new double[train.size()][];
        int[] labels = new int[train.size()];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = train.get(i).features().toArray();
            labels[i] = train.get(i).positive() ? 1 : 0;
        }
        DataFrame data = DataFrame.of(rows, WindowFeatures.NAMES.toArray(String[]::new))
                .merge(IntVector.of(LABEL, labels));
        // mtry 0 = sqrt(features); depth and node size bound each tree, not the count of windows.
        return RandomForest.fit(Formula.lhs(LABEL), data, options.trees(), 0, SplitRule.GINI, 20,
                Math.max(8, rows.length / 5), 5, 1.0, null, LongStream.range(options.seed(), options.seed() + options.trees()));
    }

    static Map<String, Double> metrics(Evaluation model, Evaluation baseline, Evaluation cpuMem, Dataset dataset,
                                       Dataset.Split split, Options options) {
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("f1", model.all().f1());
        metrics.put("precision", model.all().precision());
        metrics.put("recall", model.all().recall());
        metrics.put("lead_time_s", model.meanLeadS());
        metrics.put("onsets_warned", (double) model.onsetsWarned());
        metrics.put("pre_onset_f1", model.preOnset().f1());
        metrics.put("baseline_f1", baseline.all().f1());
        metrics.put("baseline_precision", baseline.all().precision());
        metrics.put("baseline_recall", baseline.all().recall());
        metrics.put("baseline_lead_time_s", baseline.meanLeadS());
        metrics.put("baseline_onsets_warned", (double) baseline.onsetsWarned());
        metrics.put("baseline_pre_onset_f1", baseline.preOnset().f1());
        metrics.put("baseline_cpu_mem_f1", cpuMem.all().f1());
        metrics.put("baseline_cpu_mem_lead_time_s", cpuMem.meanLeadS());
        metrics.put("heldout_onsets", (double) model.onsets());
        metrics.put("heldout_windows", (double) split.heldOut().size());
        metrics.put("heldout_positives", (double) split.heldOut().stream().filter(LabelledWindow::positive).count());
        metrics.put("train_windows", (double) split.train().size());
        metrics.put("train_positives", (double) split.train().stream().filter(LabelledWindow::positive).count());
        metrics.put("split_at_ms", (double) split.cutMs());
        metrics.put("horizon_s", (double) dataset.overload().horizonS());
        metrics.put("overload_cpu_percent", dataset.overload().cpuPercent());
        metrics.put("overload_mem_fraction", dataset.overload().memFraction());
        metrics.put("overload_sustain_s", dataset.overload().sustainS());
        metrics.put("trees", (double) options.trees());
        return metrics;
    }

    static byte[] serialize(RandomForest forest) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(forest);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serialize the model: " + e.getMessage(), e);
        }
        return bytes.toByteArray();
    }

    private static String shortHash(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes), 0, 4);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
