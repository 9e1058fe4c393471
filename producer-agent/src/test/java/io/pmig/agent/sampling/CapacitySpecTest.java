package io.pmig.agent.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.platform.config.ConfigException;
import io.pmig.schemas.NodeCapacity;
import org.junit.jupiter.api.Test;

class CapacitySpecTest {

    private static final NodeCapacity HOST = new NodeCapacity(8.0, 64L << 30);

    @Test
    void parsesCpusAndBinaryMemoryUnits() {
        NodeCapacity capacity = CapacitySpec.parse("cpus=2,mem=4GiB", HOST);
        assertEquals(2.0, capacity.getCpus());
        assertEquals(4L << 30, capacity.getMemBytes());
        assertEquals(512L << 20, CapacitySpec.parse("mem=512MiB", HOST).getMemBytes());
        assertEquals(1536L << 10, CapacitySpec.parse("mem=1.5MiB", HOST).getMemBytes());
        assertEquals(2L << 40, CapacitySpec.parse("mem=2TiB", HOST).getMemBytes());
        assertEquals(1000L, CapacitySpec.parse("mem=1000", HOST).getMemBytes());
        assertEquals(0.5, CapacitySpec.parse(" cpus = 0.5 ", HOST).getCpus());
    }

    @Test
    void missingKeysTakeTheHostsFigures() {
        NodeCapacity cpusOnly = CapacitySpec.parse("cpus=1", HOST);
        assertEquals(HOST.getMemBytes(), cpusOnly.getMemBytes());
        assertEquals(HOST.getCpus(), CapacitySpec.parse("mem=1GiB", HOST).getCpus());
    }

    @Test
    void unknownMemoryUnitIsRefusedNamingTheOptionAndTheUnits() {
        ConfigException e = assertThrows(ConfigException.class, () -> CapacitySpec.parse("cpus=2,mem=4GB", HOST));
        assertEquals("--capacity", e.key());
        assertTrue(e.getMessage().contains("'GB'"), e.getMessage());
        assertTrue(e.getMessage().contains("KiB, MiB, GiB, TiB"), e.getMessage());
    }

    @Test
    void otherMalformedCapacitiesNameTheOption() {
        for (String bad : new String[] {"", "cpus", "cpus=0", "cpus=-1", "cpus=two", "disk=1GiB", "mem=GiB",
                "mem=1.5", "cpus=1,cpus=2"}) {
            ConfigException e = assertThrows(ConfigException.class, () -> CapacitySpec.parse(bad, HOST), bad);
            assertEquals("--capacity", e.key(), bad);
        }
    }
}
