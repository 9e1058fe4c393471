package io.pmig.platform.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SizesTest {

    /** The agent took mem=4GiB and refused 8G; the executor took 8G and refused 4GiB. */
    @Test
    void everySpellingOfASizeMeansTheSame() {
        long fourGib = 4L << 30;
        for (String text : new String[] {"4GiB", "4G", "4g", "4096M", "4096mib", "4096 MiB", "4194304K", "4294967296",
                "4294967296B", "0.00390625T"}) {
            assertEquals(fourGib, Sizes.parse("mem", text), text);
        }
        assertEquals(0, Sizes.parse("mem", "0"));
        assertEquals(1536L << 20, Sizes.parse("mem", "1.5G"));
    }

    @Test
    void aBadSizeNamesTheKeyAndShowsHowToWriteOne() {
        for (String text : new String[] {"", "four", "-1G", "4X", "4iB", "1.5", "4 G B", "4GB", "512mb"}) {
            ConfigException e = assertThrows(ConfigException.class, () -> Sizes.parse("--capacity mem", text), text);
            assertTrue(e.getMessage().contains("--capacity mem"), e.getMessage());
        }
    }
}
