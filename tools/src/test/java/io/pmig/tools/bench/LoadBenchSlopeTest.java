package io.pmig.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** bench load's "lag bounded" figure: the lag's trend over the last minutes, not its noise. */
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
}
