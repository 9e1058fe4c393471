package io.pmig.cli.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Where `pmig ps` puts a workload from the events: a destination that gave a migration up (its COMPLETED was not
 * acknowledged in time, it killed its copy) is believed over that COMPLETED, even when the broker appended the
 * COMPLETED late, after the ROLLED_BACK (seen in chaos with the broker stopped at the commit).
 */
class ClusterSnapshotFoldTest {

    @Test
    void aLateCompletedOfAMigrationItsDestinationGaveUpPlacesNothing() {
        assertEquals("a", fold(launched(), givenUp(), rolledBackBySource(), completed()));
        assertEquals("a", fold(launched(), completed(), givenUp(), rolledBackBySource()));
        assertEquals("b", fold(launched(), completed()));
    }

    private static String fold(MigrationEvent... events) {
        Map<String, ClusterSnapshot.Location> locations = new TreeMap<>();
        Set<String> givenUp = new HashSet<>();
        List.of(events).forEach(e -> ClusterSnapshot.fold(locations, givenUp, e));
        return locations.get("w").node();
    }

    private static MigrationEvent launched() {
        return event("launch-1", "a", Phase.LAUNCHED, null);
    }

    private static MigrationEvent completed() {
        return event("m", "b", Phase.COMPLETED, null);
    }

    private static MigrationEvent givenUp() {
        return event("m", "b", Phase.ROLLED_BACK, "destination gave its copy up: COMPLETED not acknowledged");
    }

    private static MigrationEvent rolledBackBySource() {
        return event("m", "a", Phase.ROLLED_BACK, "COMMIT failed");
    }

    private static MigrationEvent event(String migrationId, String node, Phase phase, String error) {
        boolean migration = !migrationId.startsWith("launch");
        return MigrationEvent.newBuilder().setCommandId(migrationId).setMigrationId(migrationId).setWorkloadId("w")
                .setNode(node).setPhase(phase).setSourceNode(migration ? "a" : null)
                .setDestinationNode(migration ? "b" : "a").setError(error)
                .setTimings(io.pmig.schemas.PhaseTimings.newBuilder().build()).setTimestampMs(1).build();
    }
}
