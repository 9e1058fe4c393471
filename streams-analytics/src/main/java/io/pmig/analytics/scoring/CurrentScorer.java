package io.pmig.analytics.scoring;

import io.pmig.analytics.features.FeatureVector;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * The scorer in use by one application instance: the latest model from pmig.models if there is one, else
 * the threshold rule. The global-store processor swaps models in while stream threads keep scoring, so
 * the model is held in an atomic reference and each window sees either the old or the new one, whole.
 */
public final class CurrentScorer implements OverloadScorer {

    private final OverloadScorer fallback;
    private final AtomicReference<ModelScorer> model = new AtomicReference<>();
    private volatile Consumer<String> onChange = version -> { };

    /** @param fallback the threshold rule in the app; any rule (a tuned one, a benchmark's oracle) elsewhere */
    public CurrentScorer(OverloadScorer fallback) {
        this.fallback = fallback;
    }

    /** Install a model, or revert to the threshold rule with null. */
    public void use(ModelScorer next) {
        model.set(next);
        onChange.accept(next == null ? null : next.version());
    }

    /** Tells listener the model version (null: the threshold rule) now and after every change. */
    public void onChange(Consumer<String> listener) {
        onChange = listener;
        listener.accept(modelVersion());
    }

    /** Version of the model in use, or null while the threshold rule is. */
    public String modelVersion() {
        ModelScorer current = model.get();
        return current == null ? null : current.version();
    }

    @Override
    public OverloadScore score(FeatureVector features) {
        return score(features, false);
    }

    @Override
    public OverloadScore score(FeatureVector features, boolean sharedHost) {
        ModelScorer current = model.get();
        return current == null ? fallback.score(features, sharedHost) : current.score(features, sharedHost);
    }

    @Override
    public OverloadScore score(String nodeId, long windowEndMs, FeatureVector features, boolean sharedHost) {
        ModelScorer current = model.get();
        return current == null ? fallback.score(nodeId, windowEndMs, features, sharedHost) : current.score(features, sharedHost);
    }
}
