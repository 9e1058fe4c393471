package io.pmig.analytics.training;

import io.pmig.analytics.features.FeatureVector;

/**
 * One node window of the training set.
 *
 * @param positive         the label: the node is overloaded within the horizon after {@code endMs}
 * @param alreadyOverloaded the node is in an overload episode at {@code endMs} (so the label is not a prediction)
 * @param sharedHost        the node shares its host with others (SIMULATED samples): scored as the topology does
 */
public record LabelledWindow(String nodeId, long startMs, long endMs, FeatureVector features, boolean positive,
                             boolean alreadyOverloaded, boolean sharedHost) {
}
