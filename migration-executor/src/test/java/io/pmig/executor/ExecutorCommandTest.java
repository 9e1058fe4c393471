package io.pmig.executor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.platform.config.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
    void refusesAListenAddressWithoutPortAsItParses() {
        CommandLine.ParameterException e = assertThrows(CommandLine.ParameterException.class,
                () -> parse("--node", "n1", "--listen", "localhost", "--workdir", tmp.toString()));
        assertEquals("--listen", ((CommandLine.Model.OptionSpec) e.getArgSpec()).longestName());
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

    @Test
    void anySettingIsAvailableAsConfigAndAFlagGivenOnTheCommandLineWins() throws Exception {
        Path secret = Files.writeString(tmp.resolve("secret"), "0123456789abcdef0123\n");
        ExecutorConfig config = parse("--node", "n1", "--listen", "127.0.0.1:0", "--workdir", tmp.toString(),
                "--criu", TestNodes.criu().binary().toString(), "--init-path", tmp.resolve("bin/pmig-init").toString(),
                "--secret-file", secret.toString(), "--config", ExecutorConfig.COMMIT_TIMEOUT_MS + "=50000",
                "--config", ExecutorConfig.MAX_CONCURRENT_MIGRATIONS + "=3", "--max-concurrent-migrations", "4",
                "--prepare-timeout", "7").config();
        assertEquals(Duration.ofSeconds(50), config.commitTimeout());
        assertEquals(4, config.maxConcurrentMigrations(), "the flag wins over --config");
        assertEquals(Duration.ofSeconds(7), config.prepareTimeout());
        assertEquals(Duration.ofMinutes(10), config.sessionTimeout(), "a key neither sets keeps its default");
    }

    /** Durations as every command takes them; the old spellings (bare seconds, --checkpoint-interval-s) still work. */
    @Test
    void durationFlagsTakeUnitsAndKeepTheirOldSpellings() throws Exception {
        Path secret = Files.writeString(tmp.resolve("secret"), "0123456789abcdef0123\n");
        String[] common = {"--node", "n1", "--listen", "127.0.0.1:0", "--workdir", tmp.toString(),
                "--criu", TestNodes.criu().binary().toString(), "--init-path", tmp.resolve("bin/pmig-init").toString(),
                "--secret-file", secret.toString(), "--checkpoint-peer", "[::1]:7070"};
        ExecutorConfig units = parse(concat(common, "--prepare-timeout", "1m", "--checkpoint-interval", "90s")).config();
        assertEquals(Duration.ofMinutes(1), units.prepareTimeout());
        assertEquals(Duration.ofSeconds(90), units.checkpointInterval());
        assertEquals(7070, units.checkpointPeer().getPort());
        ExecutorConfig old = parse(concat(common, "--prepare-timeout", "60", "--checkpoint-interval-s", "90")).config();
        assertEquals(units.prepareTimeout(), old.prepareTimeout());
        assertEquals(units.checkpointInterval(), old.checkpointInterval());
        ConfigException tooShort = assertThrows(ConfigException.class,
                () -> parse(concat(common, "--prepare-timeout", "500ms")).config());
        assertEquals("--prepare-timeout", tooShort.key());
        CommandLine.ParameterException badPeer = assertThrows(CommandLine.ParameterException.class,
                () -> parse("--node", "n1", "--listen", "127.0.0.1:0", "--checkpoint-peer", "10.0.0.2"));
        assertEquals("--checkpoint-peer", ((CommandLine.Model.OptionSpec) badPeer.getArgSpec()).longestName());
        assertTrue(badPeer.getMessage().contains("HOST:PORT or [IPv6]:PORT"), badPeer.getMessage());
    }

    private static String[] concat(String[] first, String... more) {
        String[] all = java.util.Arrays.copyOf(first, first.length + more.length);
        System.arraycopy(more, 0, all, first.length, more.length);
        return all;
    }

    @Test
    void errorsNameTheFlagOrTheKeyTheOperatorUsed() {
        ConfigException unknown = assertThrows(ConfigException.class, () -> parse("--node", "n1", "--listen", "127.0.0.1:0",
                "--config", "executor.prepare.timeout=5").config());
        assertEquals("executor.prepare.timeout", unknown.key());
        ConfigException flag = assertThrows(ConfigException.class, () -> parse("--node", "n1", "--listen", "127.0.0.1:0",
                "--max-concurrent-migrations", "0").config());
        assertEquals("--max-concurrent-migrations", flag.key());
        assertTrue(flag.getMessage().contains(ExecutorConfig.MAX_CONCURRENT_MIGRATIONS), flag.getMessage());
        ConfigException key = assertThrows(ConfigException.class, () -> parse("--node", "n1", "--listen", "127.0.0.1:0",
                "--config", ExecutorConfig.MAX_CONCURRENT_MIGRATIONS + "=0").config());
        assertEquals(ExecutorConfig.MAX_CONCURRENT_MIGRATIONS, key.key());
        ConfigException missing = assertThrows(ConfigException.class, () -> parse("--listen", "127.0.0.1:0").config());
        assertEquals("--node", missing.key());
    }

    @Test
    void helpShowsEachFlagsDefaultFromItsKey() {
        String help = new CommandLine(new ExecutorCommand()).getUsageMessage().replaceAll("\\s+", " ");
        assertTrue(help.contains("at once, as source or destination (default: 2)"), help);
        assertTrue(help.contains("prepare (default: 30)"), help);
        assertTrue(help.contains("default: 1G"), help);
        assertTrue(help.contains("--config"), help);
    }
}
