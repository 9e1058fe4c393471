package io.pmig.analytics.scoring;

import static io.pmig.analytics.Samples.sample;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.features.FeatureVector;
import io.pmig.analytics.features.WindowFeatures;
import io.pmig.schemas.NodeMetrics;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrendRuleScorerTest {

    /** Ten samples a second apart, CPU rising 3 %/s to 70 %, memory at 0.5. */
    private static FeatureVector rampTo70() {
        List<NodeMetrics> samples = new ArrayList<>();
        for (int s = 0; s < 10; s++) {
            samples.add(sample("n", 1_000L * s, 43 + 3 * s, 0.5));
        }
        return WindowFeatures.compute(samples);
    }

    @Test
    void aRisingNodeIsFlaggedWhenItsExtrapolatedCpuReachesTheThreshold() {
        FeatureVector ramp = rampTo70();
        assertEquals(3.0, ramp.get("cpu_slope"), 1e-9);
        assertTrue(new TrendRuleScorer(5, 85, 0, 0.9).score(ramp).overloaded(), "70 + 5 s x 3 %/s = 85");
        assertFalse(new TrendRuleScorer(4, 85, 0, 0.9).score(ramp).overloaded(), "70 + 4 s x 3 %/s = 82");
        assertFalse(TrendRuleScorer.hotNow(90, 0.9).score(ramp).overloaded());
    }

    @Test
    void hotNowFlagsANodeAlreadyOverloadedByCpuOrMemory() {
        assertTrue(TrendRuleScorer.hotNow(90, 0.9).score(WindowFeatures.compute(List.of(sample("n", 0, 95, 0.2)))).overloaded());
        assertTrue(TrendRuleScorer.hotNow(90, 0.9).score(WindowFeatures.compute(List.of(sample("n", 0, 5, 0.92)))).overloaded());
        OverloadScore quiet = TrendRuleScorer.hotNow(90, 0.9).score(WindowFeatures.compute(List.of(sample("n", 0, 45, 0.2))));
        assertFalse(quiet.overloaded());
        assertEquals(0.25, quiet.score(), 1e-9);
        assertEquals("cpu_last + 0*cpu_slope >= 90 or mem_fraction_last + 0*mem_slope >= 0.9",
                TrendRuleScorer.hotNow(90, 0.9).toString());
    }
}
