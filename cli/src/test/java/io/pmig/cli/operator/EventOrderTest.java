package io.pmig.cli.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import java.util.List;
import org.junit.jupiter.api.Test;

class EventOrderTest {

    /** `pmig events` printed partition by partition: a destination's PREPARED before the source's ACCEPTED. */
    @Test
    void theHistoryIsPrintedInEventTimeAndTiesKeepTheirOrder() {
        io.pmig.schemas.serde.SchemaCatalog.trustPmigClasses(); // as every role does before building a record
        MigrationEvent accepted = event(Phase.ACCEPTED, 1_000);
        MigrationEvent prepared = event(Phase.PREPARED, 1_010);
        MigrationEvent frozen = event(Phase.FROZEN, 1_010);
        MigrationEvent completed = event(Phase.COMPLETED, 2_000);
        // as read: one partition (PREPARED, COMPLETED), then another (ACCEPTED, FROZEN)
        List<MigrationEvent> read = List.of(prepared, completed, accepted, frozen);
        assertEquals(List.of(accepted, prepared, frozen, completed), OperatorCommands.inEventTimeOrder(read));
    }

    private static MigrationEvent event(Phase phase, long timestampMs) {
        return MigrationEvent.newBuilder().setCommandId("c-1").setMigrationId("c-1").setWorkloadId("w").setNode("n1")
                .setPhase(phase).setTimestampMs(timestampMs).build();
    }
}
