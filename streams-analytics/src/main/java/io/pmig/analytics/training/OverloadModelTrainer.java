package io.pmig.analytics.training;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.features.FeatureVector;
import io.pmig.analytics.scoring.ModelScorer;
import io.pmig.analytics.scoring.OverloadScore;
import io.pmig.analytics.scoring.OverloadScorer;
import io.pmig.analytics.scoring.ThresholdScorer;
import io.pmig.analytics.scoring.TrendRuleScorer;
import io.pmig.schemas.AlarmPolicy;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.Trigger;
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
import java.util.IdentityHashMap;
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
    /** The goal's alarm precision: {@link Criterion#PRECISION} keeps only candidates that reach it on validation. */
    static final double WANTED_ALARM_PRECISION = 0.8;
    /** Model score thresholds ({@value AnalyticsConfig#MODEL_SCORE_THRESHOLD}) tried by {@link Criterion#PRECISION}. */
    static final double[] POLICY_THRESHOLDS = {0.3, 0.4, 0.5, 0.6, 0.7, 0.8};
    /** Consecutive flagged windows before acting ({@value AnalyticsConfig#HYSTERESIS_WINDOWS}) tried by {@link Criterion#PRECISION}. */
    static final int[] POLICY_CONSECUTIVE_WINDOWS = {1, 2, 3, 4};
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
        ALARMS,
        /**
         * The goal itself: alarm precision >= {@link #WANTED_ALARM_PRECISION} and lead-time p50 >= {@link #WANTED_LEAD_S},
         * then alarm F1; the alarm policy (score threshold, consecutive windows) is chosen with the settings. When no
         * candidate meets the goal, ranked as {@link #ALARMS}.
         */
        PRECISION;

        boolean early(Evaluation evaluation) {
            return switch (this) {
                case WINDOWS -> evaluation.meanLeadS() >= WANTED_LEAD_S;
                case ALARMS -> evaluation.lead().p50S() >= WANTED_LEAD_S;
                case PRECISION -> evaluation.lead().p50S() >= WANTED_LEAD_S
                        && evaluation.alarms().precision() >= WANTED_ALARM_PRECISION;
            };
        }

        double f1(Evaluation evaluation) {
            return this == WINDOWS ? evaluation.all().f1() : evaluation.alarms().f1();
        }

        String describe(boolean anyEarly) {
            if (this == PRECISION) { // without any candidate meeting the goal, ranked (and described) as ALARMS: see why()
                return "best validation alarm F1 with alarm precision >= " + WANTED_ALARM_PRECISION + " and a lead-time p50 >= "
                        + WANTED_LEAD_S + " s";
            }
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

    /**
     * How a scorer's verdicts become alarms, as the app applies them: the model's score threshold
     * ({@value AnalyticsConfig#MODEL_SCORE_THRESHOLD}; unused by rules) and the consecutive flagged windows before the
     * decision stage acts ({@value AnalyticsConfig#HYSTERESIS_WINDOWS}).
     */
    public record Policy(double scoreThreshold, int consecutiveWindows) {

        static Policy of(AnalyticsConfig config) {
            return new Policy(config.modelScoreThreshold(), config.hysteresisWindows());
        }

        @Override
        public String toString() {
            return AnalyticsConfig.MODEL_SCORE_THRESHOLD + "=" + scoreThreshold + " " + AnalyticsConfig.HYSTERESIS_WINDOWS + "="
                    + consecutiveWindows;
        }
    }

    /**
     * Each candidate's figures on the validation part, and which settings and alarm policy were kept (without
     * validation: the first settings and the configured policy).
     */
    public record Selection(List<Candidate> candidates, Settings chosen, Policy policy, String why, int fitWindows,
                            int validationWindows) {
    }

    public record Candidate(Settings settings, Policy policy, Evaluation validation) {
    }

    /**
     * The trend rule kept by validation among {@link #ruleGrid}, the consecutive windows it is acted on after, and how it
     * did there (validation null without validation).
     */
    public record RuleSelection(TrendRuleScorer chosen, int consecutiveWindows, Evaluation validation, int rulesTried, String why) {
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
        Policy policy = selection.policy();
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
                .setAlarmPolicy(carriedPolicy(options, selection))
                .build();
        // Evaluate through the scorer the app uses, at the threshold the app uses: what is measured is what runs.
        ModelScorer scorer = ModelScorer.load(unscored, policy.scoreThreshold());
        Evaluation model = Evaluation.of(split.heldOut(), dataset, scorer, policy.consecutiveWindows());
        Evaluation baseline = Evaluation.of(split.heldOut(), dataset, ThresholdScorer.from(analytics));
        // The rule without its load-average criterion too: on simulated nodes the load average is the shared host's,
        // so the app leaves it out there (the baseline above then equals this); on host-mode nodes it shows how the
        // rule does on CPU and memory alone.
        Evaluation cpuMem = Evaluation.of(split.heldOut(), dataset,
                new ThresholdScorer(analytics.thresholdCpuPercent(), analytics.thresholdMemFraction(), Double.POSITIVE_INFINITY));
        Evaluation hotNow = Evaluation.of(split.heldOut(), dataset, hotNow(overload));
        RuleSelection rule = tuneRule(dataset, split.train(), options);
        Evaluation tuned = Evaluation.of(split.heldOut(), dataset, rule.chosen(), rule.consecutiveWindows());
        ModelUpdate update = ModelUpdate.newBuilder(unscored)
                .setMetrics(metrics(model, baseline, cpuMem, hotNow, tuned, rule, dataset, split, selection, options))
                .build();
        TrendRuleScorer appRuleScorer = TrendRuleScorer.from(analytics);
        Evaluation appRule = Evaluation.of(split.heldOut(), dataset, appRuleScorer);
        return new Result(update, model, baseline, cpuMem, hotNow, tuned, rule, dataset, split, selection, options.features(),
                trainMillis, appRuleScorer, appRule);
    }

    /**
     * The alarm policy the model carries to the app: the one validation chose with it ({@link Criterion#PRECISION});
     * none when it was simply the configured one, so the app keeps applying its own settings.
     */
    static AlarmPolicy carriedPolicy(Options options, Selection selection) {
        if (options.criterion() != Criterion.PRECISION || selection.candidates().isEmpty()) {
            return null;
        }
        return AlarmPolicy.newBuilder()
                .setScoreThreshold(selection.policy().scoreThreshold())
                .setConsecutiveWindows(selection.policy().consecutiveWindows())
                .setChosenBy("pmig train --select-by precision: " + selection.why() + ", on " + selection.validationWindows()
                        + " validation windows")
                .build();
    }

    /**
     * Fits every candidate on the older part of the training windows and scores it, through the app's scorer, on the most
     * recent part under each alarm policy of {@link #policies} (the configured one unless {@link Criterion#PRECISION}).
     * Kept by the options' criterion ({@link #choose}); ties go to the earlier candidate.
     */
    static Selection select(Dataset dataset, List<LabelledWindow> train, AnalyticsConfig analytics, Options options,
                            Consumer<String> progress) {
        Settings fallback = CANDIDATES.get(0);
        Policy configured = Policy.of(analytics);
        if (options.validationFraction() <= 0) {
            return new Selection(List.of(), fallback, configured, "no validation asked", train.size(), 0);
        }
        Dataset.Split inner = Dataset.split(train, options.validationFraction(), dataset.overload().horizonMs());
        long fitPositives = inner.train().stream().filter(LabelledWindow::positive).count();
        long validationPositives = inner.heldOut().stream().filter(LabelledWindow::positive).count();
        if (fitPositives == 0 || fitPositives == inner.train().size() || validationPositives == 0) {
            return new Selection(List.of(), fallback, configured, "the validation split has too few overloaded windows",
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
            // Scored once; each policy only re-reads the scores, as ModelScorer would at its threshold.
            ModelScorer scorer = ModelScorer.load(probe, analytics.modelScoreThreshold());
            Map<FeatureVector, Double> scores = new IdentityHashMap<>();
            for (LabelledWindow window : inner.heldOut()) {
                scores.put(window.features(), scorer.score(window.features(), window.sharedHost()).score());
            }
            for (Policy policy : policies(options.criterion(), configured)) {
                double threshold = policy.scoreThreshold();
                OverloadScorer atThreshold = features -> {
                    double score = scores.get(features);
                    return new OverloadScore(score, score >= threshold, ModelScorer.NAME, "validation", Trigger.MODEL);
                };
                candidates.add(new Candidate(settings, policy,
                        Evaluation.of(inner.heldOut(), dataset, atThreshold, policy.consecutiveWindows())));
            }
        }
        List<Evaluation> scored = candidates.stream().map(Candidate::validation).toList();
        Candidate best = candidates.get(choose(options.criterion(), scored));
        return new Selection(List.copyOf(candidates), best.settings(), best.policy(), why(options.criterion(), scored),
                inner.train().size(), inner.heldOut().size());
    }

    /**
     * The alarm policies validation tries: with {@link Criterion#PRECISION} every score threshold of
     * {@link #POLICY_THRESHOLDS} with every count of {@link #POLICY_CONSECUTIVE_WINDOWS}; otherwise only the configured one.
     */
    static List<Policy> policies(Criterion criterion, Policy configured) {
        if (criterion != Criterion.PRECISION) {
            return List.of(configured);
        }
        List<Policy> policies = new ArrayList<>();
        for (double threshold : POLICY_THRESHOLDS) {
            for (int consecutive : POLICY_CONSECUTIVE_WINDOWS) {
                policies.add(new Policy(threshold, consecutive));
            }
        }
        return List.copyOf(policies);
    }

    /**
     * Index of the candidate the criterion keeps (see {@link #better}); {@link Criterion#PRECISION} ranks as
     * {@link Criterion#ALARMS} when no candidate meets the goal.
     */
    static int choose(Criterion criterion, List<Evaluation> scored) {
        Criterion ranking = ranking(criterion, scored);
        boolean anyEarly = scored.stream().anyMatch(ranking::early);
        int best = 0;
        for (int i = 1; i < scored.size(); i++) {
            if (better(ranking, scored.get(i), scored.get(best), anyEarly)) {
                best = i;
            }
        }
        return best;
    }

    static String why(Criterion criterion, List<Evaluation> scored) {
        if (ranking(criterion, scored) != criterion) {
            return "no candidate reached alarm precision " + WANTED_ALARM_PRECISION + " with a lead-time p50 of " + WANTED_LEAD_S
                    + " s, so " + Criterion.ALARMS.describe(scored.stream().anyMatch(Criterion.ALARMS::early));
        }
        return criterion.describe(scored.stream().anyMatch(criterion::early));
    }

    private static Criterion ranking(Criterion criterion, List<Evaluation> scored) {
        return criterion == Criterion.PRECISION && scored.stream().noneMatch(Criterion.PRECISION::early) ? Criterion.ALARMS : criterion;
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
        int configured = dataset.windowConfig().hysteresisWindows();
        if (options.validationFraction() <= 0) {
            return new RuleSelection(grid.get(0), configured, null, 0, "no validation asked: hot now");
        }
        Dataset.Split inner = Dataset.split(train, options.validationFraction(), dataset.overload().horizonMs());
        if (inner.heldOut().stream().noneMatch(LabelledWindow::positive)) {
            return new RuleSelection(grid.get(0), configured, null, 0, "the validation split has no overloaded windows: hot now");
        }
        // The same policies as the forest's (a rule has no score threshold, so only the consecutive windows vary).
        List<Integer> counts = policies(options.criterion(), new Policy(0, configured)).stream()
                .map(Policy::consecutiveWindows).distinct().toList();
        List<TrendRuleScorer> rules = new ArrayList<>();
        List<Integer> ruleCounts = new ArrayList<>();
        List<Evaluation> scored = new ArrayList<>();
        for (int consecutive : counts) {
            for (TrendRuleScorer rule : grid) {
                rules.add(rule);
                ruleCounts.add(consecutive);
                scored.add(Evaluation.of(inner.heldOut(), dataset, rule, consecutive));
            }
        }
        int best = choose(options.criterion(), scored);
        return new RuleSelection(rules.get(best), ruleCounts.get(best), scored.get(best), scored.size(),
                why(options.criterion(), scored));
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
        metrics.put("selected_by_precision", options.criterion() == Criterion.PRECISION ? 1.0 : 0.0);
        metrics.put("score_threshold", selection.policy().scoreThreshold());
        metrics.put("consecutive_windows", (double) selection.policy().consecutiveWindows());
        metrics.put("tuned_rule_consecutive_windows", (double) rule.consecutiveWindows());
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
        selection.candidates().stream().filter(c -> c.settings().equals(selection.chosen()) && c.policy().equals(selection.policy()))
                .findFirst().ifPresent(c -> {
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
