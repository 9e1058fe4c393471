package io.pmig.analytics.windows;

import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.NodeScore;

/**
 * What the window stage says about a node at one moment, split downstream into pmig.scores, pmig.events
 * and the decision stage's input. Any part may be null: a returning node yields only its NODE_UP event.
 *
 * @param encodedScore {@code score} in pmig.scores' encoding, encoded once for the status store and the topic
 */
public record NodeVerdict(NodeScore score, byte[] encodedScore, NodeReport report, MigrationEvent transition) {
}
