package io.pmig.executor.criu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The ghost limit of a dump; that criu then carries such a file is WorkloadIsolationTest's real migration. */
class GhostFilesTest {

    private static final long MIB = 1L << 20;

    @Test
    void aTreeWithoutUnlinkedFilesGetsTheMarginAboveCriusDefault() {
        assertEquals(16 * MIB, GhostFiles.limit(0, 1L << 30));
    }

    @Test
    void theLargestFileGetsAQuarterAndTheMarginOnTop() {
        assertEquals(32 * MIB + 8 * MIB + 16 * MIB, GhostFiles.limit(32 * MIB, 1L << 30));
    }

    @Test
    void theCeilingCaps() {
        assertEquals(100 * MIB, GhostFiles.limit(1L << 30, 100 * MIB));
        assertEquals(MIB, GhostFiles.limit(0, MIB), "a ceiling at criu's default");
    }
}
