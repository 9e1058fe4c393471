package io.pmig.executor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.platform.config.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ExecutorCommandTest {

    @TempDir
    Path tmp;

    private ExecutorCommand parse(String... args) {
        ExecutorCommand command = new ExecutorCommand();
        new CommandLine(command).parseArgs(args);
        return command;
    }

    @Test
    void refusesACriuThatDoesNotExist() {
        ConfigException e = assertThrows(ConfigException.class, () -> parse("--node", "n1", "--listen", "127.0.0.1:0",
                "--workdir", tmp.toString(), "--criu", "/nonexistent/criu").config());
        assertEquals("--criu", e.key());
    }

    @Test
    void refusesAShortSecret() throws Exception {
        Path secret = Files.writeString(tmp.resolve("secret"), "short\n");
        ConfigException e = assertThrows(ConfigException.class, () -> parse("--node", "n1", "--listen", "127.0.0.1:0",
                "--workdir", tmp.toString(), "--criu", TestNodes.criu().binary().toString(),
                "--init-path", tmp.resolve("pmig-init").toString(), "--secret-file", secret.toString()).config());
        assertEquals("--secret-file", e.key());
        assertTrue(e.getMessage().contains("16 bytes"), e.getMessage());
    }

    @Test
    void refusesAListenAddressWithoutPort() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> parse("--node", "n1", "--listen", "localhost", "--workdir", tmp.toString()).config());
        assertEquals("--listen", e.key());
    }

    @Test
    void acceptsAWorkingSetup() throws Exception {
        Path secret = Files.writeString(tmp.resolve("secret"), "0123456789abcdef0123\n");
        ExecutorConfig config = parse("--node", "n1", "--listen", "127.0.0.1:0", "--workdir", tmp.toString(),
                "--criu", TestNodes.criu().binary().toString(), "--init-path", tmp.resolve("bin/pmig-init").toString(),
                "--secret-file", secret.toString(), "--capacity", "cpus=2,mem=1G").config();
        assertEquals(2.0, config.capacityCpus());
        assertEquals(1L << 30, config.capacityMemBytes());
        assertTrue(Files.isExecutable(config.initBinary()) && config.initBinary().getFileName().toString().startsWith("pmig-init-"),
                "installed content-addressed next to --init-path: " + config.initBinary());
        assertTrue(config.initBinary().startsWith(tmp.resolve("bin")));
    }
}
