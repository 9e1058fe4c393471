package io.pmig.platform.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import org.junit.jupiter.api.Test;

class DurationsTest {

    /** Durations were spelled --timeout-s, --warmup-seconds, --prepare-timeout (seconds) and *.ms keys. */
    @Test
    void everyUnitInAnyCase() {
        assertEquals(Duration.ofMillis(500), Durations.parse("--timeout", "500ms", ChronoUnit.SECONDS));
        assertEquals(Duration.ofSeconds(30), Durations.parse("--timeout", "30s", ChronoUnit.SECONDS));
        assertEquals(Duration.ofMinutes(2), Durations.parse("--timeout", "2m", ChronoUnit.SECONDS));
        assertEquals(Duration.ofHours(1), Durations.parse("--timeout", "1H", ChronoUnit.SECONDS));
        assertEquals(Duration.ofMillis(500), Durations.parse("--timeout", "500MS", ChronoUnit.SECONDS));
        assertEquals(Duration.ofSeconds(30), Durations.parse("--timeout", " 30 s ", ChronoUnit.SECONDS));
        assertEquals(Duration.ZERO, Durations.parse("--checkpoint-interval", "0", ChronoUnit.SECONDS));
        assertEquals(Duration.ofMinutes(10), Durations.parse("k.ms", "600_000", ChronoUnit.MILLIS));
    }

    @Test
    void aBareNumberKeepsTheOptionsUnit() {
        assertEquals(Duration.ofSeconds(30), Durations.parse("--timeout-s", "30", ChronoUnit.SECONDS));
        assertEquals(Duration.ofMillis(30), Durations.parse("--interval-ms", "30", ChronoUnit.MILLIS));
        assertEquals(30_000L, Durations.millisAtLeast("executor.prepare.timeout.ms", "30000", 1000));
        assertEquals(30_000L, Durations.millisAtLeast("executor.prepare.timeout.ms", "30s", 1000));
    }

    @Test
    void negativeGarbageAndOverflowAreRefusedNamingTheKeyAndTheBareUnit() {
        for (String text : new String[] {"", "-5s", "-1", "5x", "5 sec", "1.5s", "s", "30s5", "2d", "_5s", "5_s",
                "99999999999999999999s", "9223372036854775807h"}) {
            ConfigException e = assertThrows(ConfigException.class,
                    () -> Durations.parse("--timeout", text, ChronoUnit.SECONDS), text);
            assertEquals("--timeout", e.key());
            assertTrue(e.getMessage().startsWith("--timeout: '" + text + "' is "), e.getMessage());
        }
        ConfigException garbage = assertThrows(ConfigException.class,
                () -> Durations.parse("--interval", "fast", ChronoUnit.MILLIS));
        assertEquals("--interval: 'fast' is not a duration: a whole number with ms, s, m or h (e.g. 500ms, 30s, 2m),"
                + " or a bare number of milliseconds", garbage.getMessage());
        ConfigException overflow = assertThrows(ConfigException.class,
                () -> Durations.parse("--timeout", "9223372036854775807h", ChronoUnit.SECONDS));
        assertEquals("--timeout: '9223372036854775807h' is out of range", overflow.getMessage());
        ConfigException below = assertThrows(ConfigException.class,
                () -> Durations.millisAtLeast("executor.prepare.timeout.ms", "500ms", 1000));
        assertEquals("executor.prepare.timeout.ms: 500ms is below the minimum 1000 ms", below.getMessage());
    }

    @Test
    void formatsInTheLargestWholeUnit() {
        assertEquals("30s", Durations.format(Duration.ofSeconds(30)));
        assertEquals("2m", Durations.format(Duration.ofSeconds(120)));
        assertEquals("1h", Durations.format(Duration.ofMinutes(60)));
        assertEquals("1500ms", Durations.format(Duration.ofMillis(1500)));
        assertEquals("0s", Durations.format(Duration.ZERO));
    }
}
