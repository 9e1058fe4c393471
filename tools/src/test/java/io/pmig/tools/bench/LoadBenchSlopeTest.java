package io.pmig.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * bench load's "lag bounded" figure: the lag's trend over the last minutes, not its noise; and when the start-up
 * backlog was read, from which its steady-state latencies count.
 */
class LoadBenchSlopeTest {

    @Test
    void aLagGrowingBy100RecordsEveryTenSecondsIs600PerMinute() {
        List<long[]> reports = List.of(new long[] {10, 100}, new long[] {20, 200}, new long[] {30, 300}, new long[] {40, 400});
        assertEquals(600, LoadBench.lagSlopePerMinute(reports, 300), 1e-9);
    }

    @Test
    void onlyTheLastMinutesCount() {
        // a start-up backlog that drained, then flat: the last five minutes have no trend
        List<long[]> reports = List.of(new long[] {10, 9000}, new long[] {20, 4000}, new long[] {400, 50}, new long[] {500, 50},
                new long[] {600, 50});
        assertEquals(0, LoadBench.lagSlopePerMinute(reports, 300), 1e-9);
    }

    @Test
    void caughtUpIsTheFirstLowLagAfterTheStartUpPeak() {
        // low before the backlog builds, a peak at 30 s, read by 60 s
        List<LoadBench.Report> reports = List.of(report(10, 500), report(20, 80_000), report(30, 300_000), report(40, 90_000),
                report(50, 30_000), report(60, 1_500), report(70, 25_000), report(80, 900), report(90, 800), report(100, 700),
                report(110, 600), report(120, 500));
        assertEquals(60, LoadBench.caughtUpS(reports, 2_000));
    }

    @Test
    void neverCaughtUpIsMinusOne() {
        List<LoadBench.Report> reports = List.of(report(10, 5_000), report(20, 9_000), report(30, 12_000), report(40, 15_000));
        assertEquals(-1, LoadBench.caughtUpS(reports, 2_000));
    }

    private static LoadBench.Report report(long elapsedS, long metricsLag) {
        return new LoadBench.Report(elapsedS, 0, metricsLag, metricsLag, 0, 0, 0, 0, 0);
    }
}
