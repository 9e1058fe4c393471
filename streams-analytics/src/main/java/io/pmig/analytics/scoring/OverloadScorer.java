package io.pmig.analytics.scoring;

import io.pmig.analytics.features.FeatureVector;

/** Turns the features of one node window into an overload verdict. Implementations are thread-safe. */
public interface OverloadScorer {

    OverloadScore score(FeatureVector features);
}
