package io.pmig.cli.trace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.cli.trace.LoadSchedule.Kind;
import io.pmig.cli.trace.LoadSchedule.Segment;
import java.util.List;
import org.junit.jupiter.api.Test;

class LoadScheduleTest {

    private static final List<String> NODES = List.of("node-1", "node-2", "node-3");

    @Test
    void theSameSeedGivesTheSamePlan() {
        assertEquals(LoadSchedule.plan(NODES, 3000, 512, 1), LoadSchedule.plan(NODES, 3000, 512, 1));
    }

    @Test
    void aNodesLoadsFollowOneAnotherAndAllEndBeforeTheTraceIsRead() {
        List<Segment> plan = LoadSchedule.plan(NODES, 3000, 512, 1);
        for (String node : NODES) {
            List<Segment> loads = plan.stream().filter(s -> s.node().equals(node) && s.kind() != Kind.BACKGROUND).toList();
            for (int i = 1; i < loads.size(); i++) {
                assertTrue(loads.get(i).startS() >= loads.get(i - 1).startS() + loads.get(i - 1).durationS(),
                        loads.get(i - 1).describe() + " overlaps " + loads.get(i).describe());
            }
        }
        assertTrue(plan.stream().allMatch(s -> s.startS() + s.durationS() <= 3000 - 5));
    }

    @Test
    void rampsGoPastCapacityWithARunUpOfSeveralWindowsAndNearMissesStayBelowOverload() {
        List<Segment> plan = LoadSchedule.plan(NODES, 3000, 512, 1);
        List<Segment> ramps = plan.stream().filter(s -> s.kind() == Kind.RAMP).toList();
        assertTrue(ramps.size() >= 40, "a 50-minute plan of 3 nodes holds " + ramps.size() + " ramps");
        assertTrue(ramps.stream().allMatch(s -> s.toShare() >= 1.3 && s.riseS() >= 20));
        assertTrue(plan.stream().filter(s -> s.kind() == Kind.NEAR_MISS_RAMP).allMatch(s -> s.toShare() < 0.9));
        assertTrue(plan.stream().anyMatch(s -> s.kind() == Kind.BACKGROUND));
    }
}
