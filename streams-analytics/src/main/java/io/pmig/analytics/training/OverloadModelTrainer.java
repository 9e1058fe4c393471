package io.pmig.analytics.training;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.scoring.ModelScorer;
import io.pmig.analytics.scoring.ThresholdScorer;
import io.pmig.analytics.scoring.TrendRuleScorer;
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
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
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
 *
 * <p>Model selection never sees the held-out part: the most recent {@code validationFraction} of the training
 * part (time-ordered, split like the held-out part) scores each candidate of {@link #CANDIDATES}, fitted on the
 * rest; the chosen settings are then refitted on the whole training part.
 */
public final class OverloadModelTrainer {

    /** Name of the label column; not a feature, so {@link ModelScorer} skips it when scoring. */
    public static final String LABEL = "overloaded_within_horizon";
    public static final double DEFAULT_VALIDATION_FRACTION = 0.25;
    /** The goal's lead time: selection prefers candidates that warn at least this early on validation. */
    static final double WANTED_LEAD_S = 5.0;
    /**
     * Settings tried on the validation part. The app scores at a fixed threshold (analytics.model.score.threshold),
     * so down-sampling quiet windows is how a model moves its own operating point towards earlier warnings; the
     * node size trades detail for smoothness. The first is the forest's previous fixed setting and the fallback.
     */
    static final List<Settings> CANDIDATES = List.of(
            new Settings(1, 5), new Settings(2, 5), new Settings(3, 5),
            new Settings(1, 20), new Settings(2, 20), new Settings(3, 20));
    /** Seconds a trend rule looks ahead along the CPU and memory slopes. */
    static final double[] RULE_LEADS_S = {0, 2, 5, 10, 15};
    private static final DateTimeFormatter VERSION_TIME = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

    /**
     * @param trees              trees in the forest
     * @param seed               seed of the trees' bootstrap samples: the same data and seed give the same model
     * @param heldOutFraction    the most recent fraction of the time range used only for evaluation
     * @param features           the features the model is trained on
     * @param validationFraction the most recent fraction of the training part used to choose the settings;
     *                           0 keeps the first candidate without validating
     */
    public record Options(int trees, long seed, double heldOutFraction, FeatureSet features, double validationFraction,
                          Criterion criterion) {

        /** Selecting by {@link Criterion#WINDOWS}, as the shipped model was; {@code pmig train} selects by alarms. */
        public Options(int trees, long seed, double heldOutFraction, FeatureSet features, double validationFraction) {
            this(trees, seed, heldOutFraction, features, validationFraction, Criterion.WINDOWS);
        }

        public Options(int trees, long seed, double heldOutFraction) {
            this(trees, seed, heldOutFraction, FeatureSet.NODE_LOCAL, DEFAULT_VALIDATION_FRACTION);
        }

        public static Options defaults() {
            return new Options(200, 20240601L, 0.3);
        }
    }

    /**
     * How validation ranks candidates, forest settings and trend rules alike: lead time first (whether it reaches
     * {@link #WANTED_LEAD_S}), then F1.
     */
    public enum Criterion {
        /** Mean lead time, then F1 over windows: how the shipped model was chosen. */
        WINDOWS,
        /** Lead-time p50, then alarm F1 (alarm precision with onsets warned): what the quality gate compares. */
        ALARMS;

        boolean early(Evaluation evaluation) {
            return (this == WINDOWS ? evaluation.meanLeadS() : evaluation.lead().p50S()) >= WANTED_LEAD_S;
        }

        double f1(Evaluation evaluation) {
            return this == WINDOWS ? evaluation.all().f1() : evaluation.alarms().f1();
        }

        String describe(boolean anyEarly) {
            String f1 = this == WINDOWS ? "validation F1" : "validation alarm F1";
            String lead = this == WINDOWS ? "a mean lead time" : "a lead-time p50";
            return anyEarly ? "best " + f1 + " with " + lead + " >= " + WANTED_LEAD_S + " s"
                    : "best " + f1 + " (no candidate reached " + lead + " of " + WANTED_LEAD_S + " s)";
        }
    }

    /**
     * Forest settings chosen by validation.
     *
     * @param quietDownsampling each tree's bootstrap sample draws 1 in this many of the quiet windows (Smile's class
     *                          weight, which down-samples a class: 1 = plain bootstrap)
     * @param nodeSize         fewest windows in a leaf
     */
    public record Settings(int quietDownsampling, int nodeSize) {

        @Override
        public String toString() {
            return "quiet 1/" + quietDownsampling + ", leaf " + nodeSize;
        }
    }

    /** Each candidate's figures on the validation part, and which one was kept (null: no validation). */
    public record Selection(List<Candidate> candidates, Settings chosen, String why, int fitWindows, int validationWindows) {
    }

    public record Candidate(Settings settings, Evaluation validation) {
    }

    /**
     * The trend rule kept by validation among {@link #ruleGrid}, and how it did there (validation null without validation).
     */
    public record RuleSelection(TrendRuleScorer chosen, Evaluation validation, int rulesTried, String why) {
    }

    /**
     * A trained model, how it and the rules did on the held-out part, and the data behind it.
     *
     * @param hotNow    the "hot now" rule (the node is overloaded already), held out
     * @param tunedRule the trend rule tuned on the validation part by the forest's criterion, held out
     * @param appRuleScorer the trend rule the app scores with by default ({@code analytics.trend.*})
     * @param appRule   that rule, held out
     */
    public record Result(ModelUpdate update, Evaluation model, Evaluation baseline, Evaluation cpuMemBaseline,
                         Evaluation hotNow, Evaluation tunedRule, RuleSelection ruleSelection,
                         Dataset dataset, Dataset.Split split, Selection selection, FeatureSet features, long trainMillis,
                         TrendRuleScorer appRuleScorer, Evaluation appRule) {
    }

    private OverloadModelTrainer() {
    }

    public static Result train(Dataset dataset, AnalyticsConfig analytics, Options options) {
        return train(dataset, analytics, options, message -> { });
    }

    /** @param progress told about each step (the CLI prints it to stderr) */
    public static Result train(Dataset dataset, AnalyticsConfig analytics, Options options, Consumer<String> progress) {
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
        Selection selection = select(dataset, split.train(), analytics, options, progress);
        progress.accept("fitting " + selection.chosen() + " on the whole training part (" + split.train().size() + " windows)");
        RandomForest forest = fit(split.train(), options, selection.chosen());
        long trainMillis = System.currentTimeMillis() - started;
        byte[] bytes = serialize(forest);
        long trainedAt = System.currentTimeMillis();
        String version = "rf-" + VERSION_TIME.format(Instant.ofEpochMilli(trainedAt)) + "-" + shortHash(bytes);

        OverloadDefinition overload = dataset.overload();
        ModelUpdate unscored = ModelUpdate.newBuilder()
                .setVersion(version)
                .setAlgorithm("random-forest")
                .setFeatures(List.copyOf(options.features().features()))
                .setTrainedFromMs(dataset.firstSampleMs())
                .setTrainedToMs(dataset.lastSampleMs())
                .setHorizonS(overload.horizonS())
                .setMetrics(Map.of())
                .setTrainedAtMs(trainedAt)
                .setModelBytes(ByteBuffer.wrap(bytes))
                .build();
        // Evaluate through the scorer the app uses, at the threshold the app uses: what is measured is what runs.
        ModelScorer scorer = ModelScorer.load(unscored, analytics.modelScoreThreshold());
        Evaluation model = Evaluation.of(split.heldOut(), dataset, scorer);
        Evaluation baseline = Evaluation.of(split.heldOut(), dataset, ThresholdScorer.from(analytics));
        // The rule without its load-average criterion too: on simulated nodes the load average is the shared host's,
        // so the app leaves it out there (the baseline above then equals this); on host-mode nodes it shows how the
        // rule does on CPU and memory alone.
        Evaluation cpuMem = Evaluation.of(split.heldOut(), dataset,
                new ThresholdScorer(analytics.thresholdCpuPercent(), analytics.thresholdMemFraction(), Double.POSITIVE_INFINITY));
        Evaluation hotNow = Evaluation.of(split.heldOut(), dataset, hotNow(overload));
        RuleSelection rule = tuneRule(dataset, split.train(), options);
        Evaluation tuned = Evaluation.of(split.heldOut(), dataset, rule.chosen());
        ModelUpdate update = ModelUpdate.newBuilder(unscored)
                .setMetrics(metrics(model, baseline, cpuMem, hotNow, tuned, rule, dataset, split, selection, options))
                .build();
        TrendRuleScorer appRuleScorer = TrendRuleScorer.from(analytics);
        Evaluation appRule = Evaluation.of(split.heldOut(), dataset, appRuleScorer);
        return new Result(update, model, baseline, cpuMem, hotNow, tuned, rule, dataset, split, selection, options.features(),
                trainMillis, appRuleScorer, appRule);
    }

    /**
     * Fits every candidate on the older part of the training windows and scores it, through the app's scorer and
     * threshold, on the most recent part. Kept: the best F1 among candidates whose mean lead time reaches
     * {@link #WANTED_LEAD_S} (or the best F1 when none does); ties go to the earlier candidate.
     */
    static Selection select(Dataset dataset, List<LabelledWindow> train, AnalyticsConfig analytics, Options options,
                            Consumer<String> progress) {
        Settings fallback = CANDIDATES.get(0);
        if (options.validationFraction() <= 0) {
            return new Selection(List.of(), fallback, "no validation asked", train.size(), 0);
        }
        Dataset.Split inner = Dataset.split(train, options.validationFraction(), dataset.overload().horizonMs());
        long fitPositives = inner.train().stream().filter(LabelledWindow::positive).count();
        long validationPositives = inner.heldOut().stream().filter(LabelledWindow::positive).count();
        if (fitPositives == 0 || fitPositives == inner.train().size() || validationPositives == 0) {
            return new Selection(List.of(), fallback, "the validation split has too few overloaded windows",
                    inner.train().size(), inner.heldOut().size());
        }
        List<Candidate> candidates = new ArrayList<>();
        for (Settings settings : CANDIDATES) {
            progress.accept("validating " + settings + ": fit on " + inner.train().size() + " windows, score "
                    + inner.heldOut().size());
            RandomForest forest = fit(inner.train(), options, settings);
            ModelUpdate probe = ModelUpdate.newBuilder()
                    .setVersion("validation").setAlgorithm("random-forest")
                    .setFeatures(List.copyOf(options.features().features()))
                    .setTrainedFromMs(0).setTrainedToMs(0).setHorizonS(dataset.overload().horizonS())
                    .setMetrics(Map.of()).setTrainedAtMs(0).setModelBytes(ByteBuffer.wrap(serialize(forest))).build();
            candidates.add(new Candidate(settings, Evaluation.of(inner.heldOut(), dataset,
                    ModelScorer.load(probe, analytics.modelScoreThreshold()))));
        }
        Criterion criterion = options.criterion();
        boolean anyEarly = candidates.stream().anyMatch(c -> criterion.early(c.validation()));
        Candidate best = null;
        for (Candidate candidate : candidates) {
            if (best == null || better(criterion, candidate.validation(), best.validation(), anyEarly)) {
                best = candidate;
            }
        }
        return new Selection(List.copyOf(candidates), best.settings(), criterion.describe(anyEarly),
                inner.train().size(), inner.heldOut().size());
    }

    /**
     * The one selection rule, for the forest's settings and for the trend rule alike: the best F1 (of the criterion)
     * among candidates whose lead time reaches {@link #WANTED_LEAD_S} (when any does), else the best F1. Ties keep the
     * earlier candidate.
     */
    static boolean better(Criterion criterion, Evaluation candidate, Evaluation best, boolean anyEarly) {
        if (anyEarly && !criterion.early(candidate)) {
            return false;
        }
        return criterion.f1(candidate) > criterion.f1(best) || (anyEarly && !criterion.early(best));
    }

    /** The rule "the node is overloaded now", at the label's own thresholds. */
    static TrendRuleScorer hotNow(OverloadDefinition overload) {
        return TrendRuleScorer.hotNow(overload.cpuPercent(), overload.memFraction());
    }

    /**
     * Tunes the trend rule on the same fit/validation split as the forest's settings, by the same criterion: each rule
     * of {@link #RULE_GRID} is scored on the validation part (a rule has nothing to fit). Without validation the
     * first rule of the grid, "hot now", is kept.
     */
    static RuleSelection tuneRule(Dataset dataset, List<LabelledWindow> train, Options options) {
        List<TrendRuleScorer> grid = ruleGrid(dataset.overload());
        if (options.validationFraction() <= 0) {
            return new RuleSelection(grid.get(0), null, 0, "no validation asked: hot now");
        }
        Dataset.Split inner = Dataset.split(train, options.validationFraction(), dataset.overload().horizonMs());
        if (inner.heldOut().stream().noneMatch(LabelledWindow::positive)) {
            return new RuleSelection(grid.get(0), null, 0, "the validation split has no overloaded windows: hot now");
        }
        List<Evaluation> scored = grid.stream().map(rule -> Evaluation.of(inner.heldOut(), dataset, rule)).toList();
        Criterion criterion = options.criterion();
        boolean anyEarly = scored.stream().anyMatch(criterion::early);
        int best = 0;
        for (int i = 1; i < scored.size(); i++) {
            if (better(criterion, scored.get(i), scored.get(best), anyEarly)) {
                best = i;
            }
        }
        return new RuleSelection(grid.get(best), scored.get(best), grid.size(), criterion.describe(anyEarly));
    }

    /**
     * Rules tried: "hot now" first, then CPU extrapolated 0-15 s ahead against 60-90 % and memory 0-15 s ahead
     * against 0.80-0.90 of capacity (the label's thresholds are the upper ends).
     */
    static List<TrendRuleScorer> ruleGrid(OverloadDefinition overload) {
        List<TrendRuleScorer> grid = new ArrayList<>();
        grid.add(hotNow(overload));
        for (double cpuLead : RULE_LEADS_S) {
            for (double cpu = 60; cpu <= overload.cpuPercent() + 1e-9; cpu += 5) {
                for (double memLead : RULE_LEADS_S) {
                    for (double mem : new double[] {overload.memFraction() - 0.1, overload.memFraction() - 0.05, overload.memFraction()}) {
                        grid.add(new TrendRuleScorer(cpuLead, cpu, memLead, Math.round(mem * 100) / 100.0));
                    }
                }
            }
        }
        return List.copyOf(grid);
    }

    static RandomForest fit(List<LabelledWindow> train, Options options, Settings settings) {
        FeatureSet features = options.features();
        double[][] rows = new double[train.size()][];
        int[] labels = new int[train.size()];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = features.row(train.get(i).features());
            labels[i] = train.get(i).positive() ? 1 : 0;
        }
        DataFrame data = DataFrame.of(rows, features.features().toArray(String[]::new))
                .merge(IntVector.of(LABEL, labels));
        // mtry 0 = sqrt(features); depth and node size bound each tree, not the count of windows.
        return RandomForest.fit(Formula.lhs(LABEL), data, options.trees(), 0, SplitRule.GINI, 20,
                Math.max(8, rows.length / 5), settings.nodeSize(), 1.0, new int[] {settings.quietDownsampling(), 1},
                LongStream.range(options.seed(), options.seed() + options.trees()));
    }

    static Map<String, Double> metrics(Evaluation model, Evaluation baseline, Evaluation cpuMem, Evaluation hotNow,
                                       Evaluation tuned, RuleSelection rule, Dataset dataset, Dataset.Split split,
                                       Selection selection, Options options) {
        Map<String, Double> metrics = new LinkedHashMap<>();
        alarmMetrics(metrics, "", model);
        alarmMetrics(metrics, "hot_now_", hotNow);
        alarmMetrics(metrics, "tuned_rule_", tuned);
        metrics.put("hot_now_f1", hotNow.all().f1());
        metrics.put("tuned_rule_f1", tuned.all().f1());
        metrics.put("tuned_rule_cpu_lead_s", rule.chosen().cpuLeadS());
        metrics.put("tuned_rule_cpu_percent", rule.chosen().cpuPercent());
        metrics.put("tuned_rule_mem_lead_s", rule.chosen().memLeadS());
        metrics.put("tuned_rule_mem_fraction", rule.chosen().memFraction());
        metrics.put("censored_windows", (double) dataset.censoredWindows());
        metrics.put("selected_by_alarms", options.criterion() == Criterion.ALARMS ? 1.0 : 0.0);
        metrics.put("censoring_migrations", (double) dataset.censoring().migrations());
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
        metrics.put("feature_count", (double) options.features().features().size());
        metrics.put("quiet_downsampling", (double) selection.chosen().quietDownsampling());
        metrics.put("node_size", (double) selection.chosen().nodeSize());
        selection.candidates().stream().filter(c -> c.settings().equals(selection.chosen())).findFirst().ifPresent(c -> {
            metrics.put("validation_f1", c.validation().all().f1());
            metrics.put("validation_lead_time_s", c.validation().meanLeadS());
            metrics.put("validation_onsets", (double) c.validation().onsets());
        });
        return metrics;
    }

    /** Alarm precision and recall, false alarms per node-hour, lead-time percentiles and pre-onset F1, under a prefix. */
    static void alarmMetrics(Map<String, Double> metrics, String prefix, Evaluation evaluation) {
        metrics.put(prefix + "alarm_precision", evaluation.alarms().precision());
        metrics.put(prefix + "alarm_recall", evaluation.alarms().recall());
        metrics.put(prefix + "alarms", (double) evaluation.alarms().raised());
        metrics.put(prefix + "false_alarms_per_node_hour", evaluation.alarms().falsePerNodeHour());
        metrics.put(prefix + "lead_p10_s", evaluation.lead().p10S());
        metrics.put(prefix + "lead_p50_s", evaluation.lead().p50S());
        metrics.put(prefix + "lead_p90_s", evaluation.lead().p90S());
        metrics.put(prefix + "pre_onset_f1", evaluation.preOnset().f1());
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
