package io.pmig.executor.events;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import org.junit.jupiter.api.Test;

class ExecutorMetersTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final ExecutorMeters meters = new ExecutorMeters(registry);

    private static MigrationEvent event(String node, Phase phase, MigrationMode mode, PhaseTimings timings, String error) {
        return MigrationEvent.newBuilder().setCommandId("c").setMigrationId("m").setWorkloadId("w").setNode(node)
                .setPhase(phase).setMode(mode).setSourceNode("a").setDestinationNode("b").setTimings(timings)
                .setError(error).setTimestampMs(0).build();
    }

    private static PhaseTimings timings(long dump, long transfer, long restore) {
        return PhaseTimings.newBuilder().setFreezeMs(dump == 0 ? 0 : 1).setDumpMs(dump).setTransferMs(transfer)
                .setRestoreMs(restore).setDowntimeMs(dump + transfer + restore).setTotalMs(dump + transfer + restore + 5).build();
    }

    private double rollbacks(String reason) {
        var counter = registry.find("pmig.executor.rollbacks").tag("reason", reason).counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void aRollbackIsCountedByHowFarItsMigrationGot() {
        PhaseTimings none = PhaseTimings.newBuilder().build();
        meters.published(event("a", Phase.ROLLED_BACK, MigrationMode.PLAIN, none, "destination refused: no room"));
        meters.published(event("a", Phase.ROLLED_BACK, MigrationMode.PLAIN, none, "checkpoint failed: criu exited 1"));
        meters.published(event("a", Phase.ROLLED_BACK, MigrationMode.PLAIN, timings(10, 0, 0), "connection reset"));
        meters.published(event("a", Phase.ROLLED_BACK, MigrationMode.PLAIN, timings(10, 20, 0), "restore failed"));
        meters.published(event("a", Phase.ROLLED_BACK, MigrationMode.PLAIN, timings(10, 20, 30), "COMMIT timed out"));
        meters.published(event("b", Phase.ROLLED_BACK, MigrationMode.PLAIN, none, "COMPLETED not acknowledged"));
        meters.published(event("a", Phase.ROLLED_BACK, MigrationMode.PLAIN, none, "executor restarted mid-migration"));

        for (String reason : new String[] {"before_freeze", "dump", "transfer", "restore", "commit", "commit_unconfirmed",
                "executor_restart"}) {
            assertEquals(1, rollbacks(reason), reason);
        }
        assertEquals(6, registry.get("pmig.executor.migrations").tags("outcome", "ROLLED_BACK", "side", "source").counter().count());
        assertEquals(1, registry.get("pmig.executor.migrations").tags("outcome", "ROLLED_BACK", "side", "destination").counter().count());
    }

    @Test
    void aCompletedMigrationIsTimedPhaseByPhaseAndOtherEventsAreOnlyCounted() {
        meters.published(event("b", Phase.COMPLETED, MigrationMode.LAZY, timings(100, 200, 300), null));
        meters.published(event("b", Phase.LAUNCHED, null, PhaseTimings.newBuilder().build(), null));

        assertEquals(1, registry.get("pmig.executor.migrations").tags("mode", "LAZY", "outcome", "COMPLETED",
                "side", "destination").counter().count());
        assertEquals(0.3, registry.get("pmig.executor.migration.phase").tags("mode", "LAZY", "phase", "restore").timer()
                .totalTime(java.util.concurrent.TimeUnit.SECONDS), 1e-9);
        assertEquals(1, registry.get("pmig.executor.migration.phase").tags("phase", "downtime").timer().count());
        assertEquals(1, registry.get("pmig.executor.events").tags("phase", "LAUNCHED").counter().count());
        assertEquals(0, registry.get("pmig.executor.migrations").tags("outcome", "FAILED").counters().stream()
                .mapToDouble(c -> c.count()).sum());
    }
}
