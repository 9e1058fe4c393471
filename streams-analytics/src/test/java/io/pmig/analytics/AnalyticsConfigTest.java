package io.pmig.analytics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.scoring.CurrentScorer;
import io.pmig.analytics.scoring.TrendRuleScorer;
import io.pmig.platform.config.ConfigException;
import io.pmig.schemas.MigrationMode;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AnalyticsConfigTest {

    @Test
    void defaultsAreTheDocumentedOnes() {
        AnalyticsConfig config = AnalyticsConfig.defaults();
        assertEquals(10_000, config.windowSizeMs());
        assertEquals(1_000, config.windowAdvanceMs());
        assertEquals(5_000, config.nodeDownAfterMs());
        assertEquals(MigrationMode.PLAIN, config.migrationModeFor((128L << 20) - 1), "AUTO: small images are copied");
        assertEquals(MigrationMode.PAGE_SERVER, config.migrationModeFor(128L << 20), "AUTO: the rest streams to a page server");
        assertEquals(false, config.dryRun());
        assertEquals(100, config.windowGraceMs());
        assertEquals(100, config.punctuateIntervalMs());
        assertTrue(AnalyticsConfig.describe().contains(AnalyticsConfig.HYSTERESIS_WINDOWS + " (default 1)"));
    }

    @Test
    void cellsComeFromLabelsElseTheHashAndStandbysAreOnByDefault() {
        AnalyticsConfig config = AnalyticsConfig.of(Map.of(AnalyticsConfig.CELLS, "4",
                AnalyticsConfig.CELL_LABELS, " n1=rack-a, n2=rack-b "));
        io.pmig.analytics.decisions.Cells cells = io.pmig.analytics.decisions.Cells.of(config);
        assertEquals("rack-a", cells.cellOf("n1"));
        assertEquals("rack-b", cells.cellOf("n2"));
        assertTrue(cells.cellOf("n3").matches("cell-[0-3]"), cells.cellOf("n3"));
        assertTrue(io.pmig.analytics.decisions.Cells.of(AnalyticsConfig.defaults()).single());
        assertEquals(1, AnalyticsConfig.defaults().standbyReplicas());
        assertEquals(0, AnalyticsConfig.defaults().decisionPartitions(), "as many as the window stage's tasks");
        ConfigException bad = assertThrows(ConfigException.class,
                () -> AnalyticsConfig.of(Map.of(AnalyticsConfig.CELL_LABELS, "n1=rack-a,n2")));
        assertEquals(AnalyticsConfig.CELL_LABELS + ": 'n2' is not NODE=CELL", bad.getMessage());
    }

    @Test
    void theTrendRuleScoresByDefaultAndAScorerIsOneOfThree() {
        AnalyticsConfig config = AnalyticsConfig.defaults();
        assertEquals("trend-rule", config.scorer());
        CurrentScorer scorer = CurrentScorer.of(config);
        assertEquals("trend-rule", scorer.scorerName());
        assertFalse(scorer.usesModels(), "a published model is not used unless asked for");
        assertEquals("cpu_last + 2*cpu_slope >= 90 or mem_fraction_last + 15*mem_slope >= 0.9",
                TrendRuleScorer.from(config).toString(), "the rule bench outcomes tuned on its shipped trace");
        assertTrue(CurrentScorer.of(AnalyticsConfig.of(Map.of(AnalyticsConfig.SCORER, "MODEL"))).usesModels());
        assertEquals("threshold", CurrentScorer.of(AnalyticsConfig.of(Map.of(AnalyticsConfig.SCORER, "threshold"))).scorerName());
        ConfigException bad = assertThrows(ConfigException.class,
                () -> AnalyticsConfig.of(Map.of(AnalyticsConfig.SCORER, "forest")));
        assertTrue(bad.getMessage().contains(AnalyticsConfig.SCORER) && bad.getMessage().contains("trend-rule, model, threshold"),
                bad.getMessage());
    }

    @Test
    void textValuesAreParsed() {
        AnalyticsConfig config = AnalyticsConfig.of(Map.of(AnalyticsConfig.WINDOW_SIZE_MS, "20_000",
                AnalyticsConfig.MIGRATION_MODE, "lazy", AnalyticsConfig.DRY_RUN, "TRUE"));
        assertEquals(20_000, config.windowSizeMs());
        assertEquals(MigrationMode.LAZY, config.migrationModeFor(1L << 20), "a fixed mode whatever the size");
        assertEquals(MigrationMode.LAZY, config.migrationModeFor(1L << 34));
        AnalyticsConfig lower = AnalyticsConfig.of(Map.of(AnalyticsConfig.AUTO_PLAIN_BELOW_BYTES, "1048576"));
        assertEquals(MigrationMode.PAGE_SERVER, lower.migrationModeFor(2L << 20));
        assertTrue(config.dryRun());
    }

    /** The same durations and sizes as every command; a bare number keeps the key's unit (ms, bytes). */
    @Test
    void timeKeysTakeDurationsAndSizeKeysSizes() {
        AnalyticsConfig config = AnalyticsConfig.of(Map.of(AnalyticsConfig.WINDOW_SIZE_MS, "10s",
                AnalyticsConfig.WINDOW_ADVANCE_MS, "500ms", AnalyticsConfig.RETURN_COOLDOWN_MS, "5M",
                AnalyticsConfig.NODE_DOWN_AFTER_MS, "2500", AnalyticsConfig.AUTO_PLAIN_BELOW_BYTES, "1MiB"));
        assertEquals(10_000, config.windowSizeMs());
        assertEquals(500, config.windowAdvanceMs());
        assertEquals(300_000, config.returnCooldownMs());
        assertEquals(2_500, config.nodeDownAfterMs());
        assertEquals(MigrationMode.PAGE_SERVER, config.migrationModeFor(1L << 20));
        assertEquals(MigrationMode.PLAIN, config.migrationModeFor((1L << 20) - 1));
    }

    @Test
    void badValuesAreRejectedNamingTheKey() {
        assertKeyRejected(AnalyticsConfig.HYSTERESIS_WINDOWS, Map.of(AnalyticsConfig.HYSTERESIS_WINDOWS, "0"));
        assertKeyRejected(AnalyticsConfig.THRESHOLD_CPU_PERCENT, Map.of(AnalyticsConfig.THRESHOLD_CPU_PERCENT, "120"));
        assertKeyRejected(AnalyticsConfig.WINDOW_SIZE_MS, Map.of(AnalyticsConfig.WINDOW_SIZE_MS, "ten seconds"));
        assertKeyRejected(AnalyticsConfig.MIGRATION_MODE, Map.of(AnalyticsConfig.MIGRATION_MODE, "TELEPORT"));
        assertKeyRejected(AnalyticsConfig.DRY_RUN, Map.of(AnalyticsConfig.DRY_RUN, "maybe"));
        assertKeyRejected("analytics.windw.size.ms", Map.of("analytics.windw.size.ms", "1"));
        assertKeyRejected(AnalyticsConfig.WINDOW_ADVANCE_MS, Map.of(AnalyticsConfig.WINDOW_SIZE_MS, "1000",
                AnalyticsConfig.WINDOW_ADVANCE_MS, "2000"));
    }

    private static void assertKeyRejected(String key, Map<String, ?> overrides) {
        ConfigException error = assertThrows(ConfigException.class, () -> AnalyticsConfig.of(overrides));
        assertEquals(key, error.key());
        assertTrue(error.getMessage().startsWith(key + ":"), error.getMessage());
    }
}
