package io.pmig.cli.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.cli.Pmig;
import io.pmig.executor.network.AddressBook;
import io.pmig.executor.network.AddressRange;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * {@code pmig forget} gives a LOST workload's address back: its claim on the compacted pmig.addresses (real broker)
 * is deleted, so another workload can claim the address, which until then was held by a workload running nowhere.
 */
class ForgetReleasesAddressTest {

    @Test
    void forgettingALostWorkloadGivesItsAddressBackToTheRange() {
        String id = "w-lost-" + UUID.randomUUID().toString().substring(0, 8);
        String next = "w-next-" + UUID.randomUUID().toString().substring(0, 8);
        // a /24 of its own, so no other test's claims are in the way
        AddressRange range = AddressRange.parse("10.214." + (1 + Math.floorMod(id.hashCode(), 254)) + ".0/24");
        try (AddressBook node = new AddressBook(SharedBroker.clientProperties(), range, "forget-node");
             AddressBook other = new AddressBook(SharedBroker.clientProperties(), range, "forget-other")) {
            String address = node.claim(id, "launch-" + id, null);
            String ip = address.substring(0, address.indexOf('/'));
            // what an executor publishes for the workload, then for a migration that lost it (see SourceMigration)
            publish(MigrationEvent.newBuilder().setCommandId("launch-" + id).setMigrationId("launch-" + id)
                    .setWorkloadId(id).setNode("forget-node").setPhase(Phase.LAUNCHED).setAddress(address));
            IllegalArgumentException held = assertThrows(IllegalArgumentException.class, () -> other.claim(next, "c", ip));
            assertTrue(held.getMessage().contains("is held by workload " + id), held.getMessage());
            publish(MigrationEvent.newBuilder().setCommandId("migrate-" + id).setMigrationId("migrate-" + id)
                    .setWorkloadId(id).setNode("forget-node").setPhase(Phase.FAILED)
                    .setError("workload lost: test; rollback failed: test"));

            String out = pmig("forget", id);
            assertTrue(out.contains("forgot " + id) && out.contains("address " + ip + " given back"), out);
            assertEquals(Optional.empty(), other.held(id), "the lost workload still holds its address");
            assertEquals(address, other.claim(next, "c", ip), "the address cannot be claimed again");
            assertEquals(Optional.of(address), node.held(next));
            other.release(next);
        }
    }

    private static void publish(MigrationEvent.Builder event) {
        EventPublishing.publish(SharedBroker.clientProperties(), event.setTimestampMs(System.currentTimeMillis()).build());
    }

    private static String pmig(String command, String workload) {
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        int status;
        try {
            status = Pmig.run(new String[] {command, "--bootstrap-server=" + SharedBroker.bootstrapServers(), workload});
        } finally {
            System.setOut(original);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        assertEquals(0, status, "pmig " + command + ": " + out);
        return out;
    }
}
