package io.pmig.analytics.scoring;

import io.pmig.schemas.Trigger;

/**
 * A scorer's verdict on one window.
 *
 * @param score        probability-like overload score in [0, 1]
 * @param overloaded   whether the score crosses the scorer's own threshold
 * @param scorer       "model" or "threshold", as published on NodeScore.scorer
 * @param modelVersion the model's version, or null for the threshold rule
 * @param trigger      what a decision based on this verdict names as its trigger
 */
public record OverloadScore(double score, boolean overloaded, String scorer, String modelVersion, Trigger trigger) {
}
