package io.pmig.analytics.scoring;

import io.pmig.analytics.features.FeatureVector;

/** Turns the features of one node window into an overload verdict. Implementations are thread-safe. */
public interface OverloadScorer {

    OverloadScore score(FeatureVector features);

    /**
     * As {@link #score(FeatureVector)} for a window of a node that shares its host with other nodes (agents in
     * SIMULATED mode: node containers, the demo): host-wide figures such as the load average describe the host, not
     * the node, and a scorer that reads them directly must leave them out.
     */
    default OverloadScore score(FeatureVector features, boolean sharedHost) {
        return score(features);
    }

    /**
     * As {@link #score(FeatureVector, boolean)} for the window of {@code nodeId} ending at {@code windowEndMs}: what the
     * topology calls. Scorers judge the features alone; only a benchmark's oracle, which knows each node's future, needs
     * to know which window it is looking at.
     */
    default OverloadScore score(String nodeId, long windowEndMs, FeatureVector features, boolean sharedHost) {
        return score(features, sharedHost);
    }
}
