package io.pmig.analytics.scoring;

import static io.pmig.analytics.Samples.sample;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.features.WindowFeatures;
import io.pmig.schemas.Trigger;
import java.util.List;
import org.junit.jupiter.api.Test;

class ThresholdScorerTest {

    private final ThresholdScorer rule = ThresholdScorer.from(AnalyticsConfig.defaults());

    private OverloadScore score(double cpu, double mem, double load) {
        return rule.score(WindowFeatures.compute(List.of(sample("n", 0, cpu, mem, load))));
    }

    @Test
    void cpuAtTheThresholdIsOverloadedWithScoreOneHalf() {
        OverloadScore verdict = score(85, 0.1, 0.1);
        assertTrue(verdict.overloaded());
        assertEquals(0.5, verdict.score(), 1e-9);
        assertEquals(Trigger.THRESHOLD, verdict.trigger());
        assertEquals("threshold", verdict.scorer());
        assertNull(verdict.modelVersion());
    }

    @Test
    void belowEveryThresholdIsNotOverloaded() {
        OverloadScore verdict = score(84, 0.89, 4 * 1.9);
        assertFalse(verdict.overloaded());
        assertTrue(verdict.score() < 0.5);
    }

    @Test
    void memoryOrLoadAloneCanOverload() {
        assertTrue(score(10, 0.95, 0.1).overloaded());
        assertTrue(score(10, 0.1, 4 * 2.5).overloaded(), "load 10 on 4 cores is 2.5 per CPU");
    }

    @Test
    void nodesSharingAHostLeaveTheHostsLoadAverageOut() {
        var busyHost = WindowFeatures.compute(List.of(sample("n", 0, 10, 0.1, 4 * 2.5)));
        assertTrue(rule.score(busyHost, false).overloaded());
        assertFalse(rule.score(busyHost, true).overloaded(), "the load is the host's, not this node's");
        assertTrue(rule.score(WindowFeatures.compute(List.of(sample("n", 0, 90, 0.1, 4 * 2.5))), true).overloaded());
    }

    @Test
    void scoreIsCappedAtOne() {
        assertEquals(1.0, score(100, 1.0, 4 * 100).score());
    }
}
