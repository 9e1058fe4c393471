package io.pmig.executor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class SecretCommandTest {

    @Test
    void writesAPrivateRandomSecretOnceAndReplacesItOnlyWhenForced(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("etc").resolve("transfer.secret");
        assertEquals(0, new CommandLine(new SecretCommand()).execute(file.toString()));
        String first = Files.readString(file);
        assertTrue(first.strip().matches("[0-9a-f]{64}"), first);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));

        int again = new CommandLine(new SecretCommand()).execute(file.toString());
        assertNotEquals(0, again, "an existing secret must not be replaced silently");
        assertEquals(first, Files.readString(file));

        assertEquals(0, new CommandLine(new SecretCommand()).execute("--force", file.toString()));
        assertNotEquals(first, Files.readString(file));
        try (var left = Files.list(file.getParent())) {
            assertEquals(1, left.count(), "no temporary file left beside the secret");
        }
    }
}
