package io.pmig.analytics.scoring;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.features.FeatureVector;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;

/**
 * The scorer in use by one application instance, as {@value AnalyticsConfig#SCORER} says: a rule, or the latest
 * model from pmig.models (the rule until one is published). The global-store processor swaps models in while stream
 * threads keep scoring, so the model is held in an atomic reference and each window sees either the old or the new
 * one, whole. With a rule chosen, published models are remembered (so the query endpoint can say one is there) but
 * never score.
 */
public final class CurrentScorer implements OverloadScorer {

    private final OverloadScorer rule;
    private final boolean usesModels;
    private final AtomicReference<ModelScorer> model = new AtomicReference<>();
    private volatile String publishedVersion;
    private volatile BiConsumer<String, String> onChange = (scorer, version) -> { };

    /** Scores with {@code rule} until a model is published, then with the model (tests, benchmarks). */
    public CurrentScorer(OverloadScorer rule) {
        this(rule, true);
    }

    /**
     * @param rule       the rule that scores while no model does: the trend or threshold rule in the app; any rule (a
     *                   tuned one, a benchmark's oracle) elsewhere
     * @param usesModels whether a published model replaces the rule
     */
    public CurrentScorer(OverloadScorer rule, boolean usesModels) {
        this.rule = rule;
        this.usesModels = usesModels;
    }

    /** The scorer {@code config}'s {@value AnalyticsConfig#SCORER} asks for. */
    public static CurrentScorer of(AnalyticsConfig config) {
        return switch (config.scorer()) {
            case AnalyticsConfig.SCORER_MODEL -> new CurrentScorer(TrendRuleScorer.from(config), true);
            case AnalyticsConfig.SCORER_THRESHOLD -> new CurrentScorer(ThresholdScorer.from(config), false);
            default -> new CurrentScorer(TrendRuleScorer.from(config), false);
        };
    }

    /** Whether a published model scores (analytics.scorer=model) or is only remembered. */
    public boolean usesModels() {
        return usesModels;
    }

    /** A model was published (null: withdrawn): it scores from now on if this scorer uses models. */
    public void use(ModelScorer next) {
        publishedVersion = next == null ? null : next.version();
        if (usesModels) {
            model.set(next);
            onChange.accept(scorerName(), modelVersion());
        }
    }

    /** Tells listener the scorer's name and model version (null: a rule) now and after every change. */
    public void onChange(BiConsumer<String, String> listener) {
        onChange = listener;
        listener.accept(scorerName(), modelVersion());
    }

    /**
     * Flagged windows in a row before the decision stage acts on a window this scorer judged: the count the model in use
     * carries (see {@link ModelScorer#load(io.pmig.schemas.ModelUpdate, AnalyticsConfig)}) for a window a model scored,
     * else {@code configured}.
     *
     * @param scoredByModel whether a model judged the window (its report names a model version)
     */
    public int consecutiveWindows(boolean scoredByModel, int configured) {
        ModelScorer current = model.get();
        return scoredByModel && current != null && current.consecutiveWindows() > 0 ? current.consecutiveWindows() : configured;
    }

    /** Version of the model that scores, or null while a rule does. */
    public String modelVersion() {
        ModelScorer current = model.get();
        return current == null ? null : current.version();
    }

    /** Version of the latest model published on pmig.models, whether or not it scores; null if none. */
    public String publishedModelVersion() {
        return publishedVersion;
    }

    /** What scores now, as on NodeScore.scorer: "model", "trend-rule" or "threshold" (a benchmark's rule: its own name). */
    public String scorerName() {
        return model.get() != null ? ModelScorer.NAME : ruleName();
    }

    /** The name of the rule that scores while no model does. */
    public String ruleName() {
        return rule instanceof TrendRuleScorer ? TrendRuleScorer.NAME : rule instanceof ThresholdScorer ? ThresholdScorer.NAME
                : rule.getClass().getSimpleName();
    }

    @Override
    public OverloadScore score(FeatureVector features) {
        return score(features, false);
    }

    @Override
    public OverloadScore score(FeatureVector features, boolean sharedHost) {
        ModelScorer current = model.get();
        return current == null ? rule.score(features, sharedHost) : current.score(features, sharedHost);
    }

    @Override
    public OverloadScore score(String nodeId, long windowEndMs, FeatureVector features, boolean sharedHost) {
        ModelScorer current = model.get();
        return current == null ? rule.score(nodeId, windowEndMs, features, sharedHost) : current.score(features, sharedHost);
    }
}
