package io.pmig.tools.bench.outcomes;

import io.pmig.analytics.features.FeatureVector;
import io.pmig.analytics.scoring.OverloadScore;
import io.pmig.analytics.scoring.OverloadScorer;
import io.pmig.schemas.Trigger;

/**
 * The strategy that knows the future: a window is "overloaded" exactly when its node will be overloaded within the
 * horizon if nothing moves and moving one of its workloads would prevent it ({@link ClusterModel#oracleWouldMove}).
 * It decides when; the planner still decides what and where, under the same rules as every other strategy.
 */
final class OracleScorer implements OverloadScorer {

    static final String NAME = "oracle";

    private final ClusterModel cluster;

    OracleScorer(ClusterModel cluster) {
        this.cluster = cluster;
    }

    @Override
    public OverloadScore score(FeatureVector features) {
        throw new UnsupportedOperationException("the oracle needs to know which node's window it scores");
    }

    @Override
    public OverloadScore score(String nodeId, long windowEndMs, FeatureVector features, boolean sharedHost) {
        boolean move = cluster.oracleWouldMove(nodeId);
        return new OverloadScore(move ? 1.0 : 0.0, move, NAME, null, Trigger.OTHER);
    }
}
