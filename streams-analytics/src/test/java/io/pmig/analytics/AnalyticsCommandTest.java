package io.pmig.analytics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AnalyticsCommandTest {

    /** A host name DNS does not know made `pmig analytics` die with UnknownHostException; it is not resolved now. */
    @Test
    void theDefaultInstanceIdIsTheHostNameUnresolvedElseThePid(@TempDir Path dir) throws Exception {
        Path hostname = dir.resolve("hostname");
        Files.writeString(hostname, "no-such-host.invalid\n");
        assertEquals("no-such-host.invalid", AnalyticsCommand.defaultInstanceId(hostname));

        Files.writeString(hostname, "\n");
        assertEquals("analytics-" + ProcessHandle.current().pid(), AnalyticsCommand.defaultInstanceId(hostname));
        assertTrue(AnalyticsCommand.defaultInstanceId(dir.resolve("missing")).startsWith("analytics-"));
        assertEquals("a_b", AnalyticsCommand.defaultInstanceId(Files.writeString(hostname, "a b")));
    }
}
