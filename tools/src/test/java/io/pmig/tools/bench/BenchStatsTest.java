package io.pmig.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BenchStatsTest {

    @Test
    void percentilesAreNearestRank() {
        List<Integer> hundred = new ArrayList<>();
        for (int i = 100; i >= 1; i--) {
            hundred.add(i);
        }
        assertEquals(50, Stats.percentile(hundred, 0.50));
        assertEquals(99, Stats.percentile(hundred, 0.99));
        assertEquals(100, Stats.percentile(hundred, 1.0));
        assertEquals(1, Stats.percentile(hundred, 0.001));
        // With fewer than 100 values p99 is the maximum: a single slow onset is never averaged away.
        assertEquals(4000, Stats.percentile(List.of(900, 1000, 4000, 1100), 0.99));
        assertEquals(1000, Stats.percentile(List.of(900, 1000, 4000, 1100), 0.50));
        assertEquals(7, Stats.percentile(List.of(7L), 0.5));
    }

    @Test
    void percentileOfNothingIsNotANumberAndBadQuantilesAreRejected() {
        assertTrue(Double.isNaN(Stats.percentile(List.of(), 0.5)));
        assertThrows(IllegalArgumentException.class, () -> Stats.percentile(List.of(1), 0));
        assertThrows(IllegalArgumentException.class, () -> Stats.percentile(List.of(1), 1.5));
    }

    @Test
    void ratesAndRatiosRefuseMeaninglessInputs() {
        assertEquals(2_000.0, Stats.perSecond(1_000, 500_000_000L), 1e-9);
        assertTrue(Double.isNaN(Stats.perSecond(1_000, 0)));
        assertEquals(0.8, Stats.ratio(800, 1000), 1e-12);
        assertTrue(Double.isNaN(Stats.ratio(800, 0)));
        assertTrue(Double.isNaN(Stats.ratio(Double.NaN, 1000)));
        assertTrue(Double.isNaN(Stats.ratio(800, Double.POSITIVE_INFINITY)));
        assertEquals(1.72, Stats.round(1.7214, 2));
        assertTrue(Double.isNaN(Stats.round(Double.NaN, 2)));
    }

    @Test
    void heartbeatGapIsTheLongestPauseAfterTheStart() {
        List<Long> beats = List.of(1_000L, 1_010L, 1_500L, 1_510L, 2_250L, 2_260L);
        assertEquals(740, HeartbeatWorkload.longestGapMs(beats, 1_600));
        assertEquals(740, HeartbeatWorkload.longestGapMs(beats, 0));
        assertEquals(0, HeartbeatWorkload.longestGapMs(beats, 3_000));
    }

    @Test
    void cpuTicksAreUtimePlusStimeEvenWhenTheNameHasSpaces() {
        String stat = "4242 (java agent) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 37 0 0 20 0 30 0 100 0 0";
        assertEquals(287, AgentBench.cpuTicks(stat));
    }

    @Test
    void jsonLineWritesNotMeasuredAsNull() {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("ratio", 0.5);
        result.put("decision_p99_ms", Double.NaN);
        assertEquals("{\"ratio\":0.5,\"decision_p99_ms\":null}", JsonLine.of(result));
    }
}
