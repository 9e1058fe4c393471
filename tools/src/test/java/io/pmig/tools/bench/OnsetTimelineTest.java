package io.pmig.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** bench load's split of an onset's decision latency into stages read from the records. */
class OnsetTimelineTest {

    // 10 s windows hopping by 1 s, 100 ms grace: the app's defaults
    private final OnsetTimeline timeline = new OnsetTimeline(10_000, 1_000, 100);

    @Test
    void theFirstWindowHoldingASampleEndsAtTheNextAdvance() {
        assertEquals(21_000, timeline.firstWindowEndAfter(20_400));
        assertEquals(21_000, timeline.firstWindowEndAfter(20_000)); // [11 s, 21 s) holds 20 s; [10 s, 20 s) does not
        assertEquals(20_000, timeline.firstWindowEndAfter(19_999));
    }

    @Test
    void theStagesAddUpToTheLatency() {
        Object onset = timeline.onset("node-0001", 20_400);
        timeline.acked(onset, 20_450);
        timeline.scoreReadable("node-0001", 21_000, 21_350);
        timeline.commandReadable("node-0001", 21_000, 21_600, 21_720);

        OnsetTimeline.Stages s = timeline.answeredBetween(0, Long.MAX_VALUE).get(0);
        assertEquals(1_320, s.totalMs());
        assertEquals(700, s.windowMs()); // 21,000 + 100 - 20,400
        assertEquals(0, s.deferredMs());
        assertEquals(250, s.closeMs()); // readable at 21,350, due at 21,100
        assertEquals(250, s.decideMs());
        assertEquals(120, s.deliverMs());
        assertEquals(50, s.sendMs());
        assertEquals(s.totalMs(), s.windowMs() + s.deferredMs() + s.closeMs() + s.decideMs() + s.deliverMs());
    }

    @Test
    void aDecisionByALaterWindowIsDeferredByTheAdvancesBetween() {
        timeline.onset("node-0002", 20_400);
        timeline.scoreReadable("node-0002", 21_000, 21_300);
        timeline.scoreReadable("node-0002", 23_000, 23_300);
        timeline.commandReadable("node-0002", 23_000, 23_500, 23_600);

        OnsetTimeline.Stages s = timeline.answeredBetween(0, Long.MAX_VALUE).get(0);
        assertEquals(2_000, s.deferredMs());
        assertEquals(200, s.closeMs()); // the deciding window's score, not the first one's
        assertEquals(s.totalMs(), s.windowMs() + s.deferredMs() + s.closeMs() + s.decideMs() + s.deliverMs());
    }

    @Test
    void aCommandOfAnEarlierWindowOrASecondCommandAnswersNothing() {
        timeline.onset("node-0003", 20_400);
        timeline.commandReadable("node-0003", 20_000, -1, 20_500); // decided before the onset
        assertEquals(0, timeline.answeredBetween(0, Long.MAX_VALUE).size());
        timeline.commandReadable("node-0003", 21_000, -1, 21_400);
        timeline.commandReadable("node-0003", 22_000, -1, 22_400);
        List<OnsetTimeline.Stages> answered = timeline.answeredBetween(0, Long.MAX_VALUE);
        assertEquals(1, answered.size());
        assertEquals(1_000, answered.get(0).totalMs());
        assertEquals(-1, answered.get(0).closeMs()); // its score was not seen
        assertEquals(-1, answered.get(0).deliverMs()); // no append time
    }

    @Test
    void onlyOnsetsInTheTimedSpanCount() {
        timeline.onset("node-0004", 5_000);
        timeline.commandReadable("node-0004", 6_000, -1, 6_300);
        timeline.onset("node-0005", 50_700);
        timeline.commandReadable("node-0005", 51_000, -1, 51_300);
        timeline.onset("node-0006", 60_000);
        assertEquals(2, timeline.onsetsBetween(30_000, 70_000));
        assertEquals(1, timeline.answeredBetween(30_000, 70_000).size());
        Map<String, Object> summary = OnsetTimeline.summary(timeline.answeredBetween(30_000, 70_000));
        assertEquals(Map.of("p50", 400L, "p99", 400L, "max", 400L, "n", 1), summary.get("window"));
    }
}
