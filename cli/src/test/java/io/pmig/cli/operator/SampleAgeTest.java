package io.pmig.cli.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class SampleAgeTest {

    /** `pmig nodes` printed "LAST SEEN -1.4s ago". */
    @Test
    void aSampleNewerThanTheClockIsSeenJustNowNotInTheFuture() {
        assertEquals(1_500, OperatorCommands.sampleAgeMs(10_000, 8_500));
        assertEquals(0, OperatorCommands.sampleAgeMs(10_000, 11_400));
    }
}
