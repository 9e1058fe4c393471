package io.pmig.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.platform.config.OptionTypes;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

class PmigCommandLineTest {

    @Test
    void everyCommandAnswersHelp() {
        CommandLine root = new CommandLine(new Pmig());
        List<String> names = new ArrayList<>(root.getSubcommands().keySet());
        assertFalse(names.isEmpty());
        assertEquals(0, Pmig.run("--help"));
        for (String name : names) {
            StringWriter out = new StringWriter();
            CommandLine cmd = new CommandLine(new Pmig());
            cmd.setOut(new PrintWriter(out));
            int status = cmd.execute(name, "--help");
            assertEquals(0, status, name + " --help");
            assertTrue(out.toString().contains("Usage: pmig " + name), name + " prints its usage:\n" + out);
        }
    }

    /** pmig.jar, what nodes and images run, carries no benchmark or chaos code; asked for them, it says where they are. */
    @Test
    void benchAndChaosAreNotInThisJarAndItSaysWhereTheyAre() {
        assertFalse(Pmig.commandLine().getSubcommands().containsKey("bench"));
        for (String tool : List.of("bench", "chaos")) {
            StringWriter err = new StringWriter();
            assertEquals(2, Pmig.run(Pmig.commandLine(), new PrintWriter(err), tool, "--help"));
            assertEquals(1, err.toString().strip().lines().count(), err.toString());
            assertTrue(err.toString().startsWith("pmig " + tool + ": ") && err.toString().contains("pmig-tools.jar"), err.toString());
        }
    }

    @Test
    void badConfigurationNamesTheKey() {
        StringWriter err = new StringWriter();
        CommandLine cmd = new CommandLine(new Pmig());
        var status = Pmig.run(cmd, new PrintWriter(err), "broker", "--port", "70000");
        assertEquals(2, status);
        assertTrue(err.toString().contains("--port"), err.toString());
    }

    /**
     * `pmig ps` with no broker printed 54 client warnings over 30 s, then a Kafka TimeoutException. migrate opens its
     * clients while it checks, so its probe and its background clients must stay as quiet.
     */
    @ParameterizedTest
    @ValueSource(strings = {"ps", "migrate w --to n2", "launch --node n1 -- true", "kill w"})
    void anOperatorCommandWithNoBrokerSaysSoInOneLine(String command, @TempDir Path tmp) throws Exception {
        int port;
        try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
            port = free.getLocalPort();
        }
        List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Pmig.class.getName()));
        List<String> words = List.of(command.split(" "));
        int end = words.contains("--") ? words.indexOf("--") : words.size(); // options before a launch's command line
        argv.addAll(words.subList(0, end));
        argv.addAll(List.of("--bootstrap-server", "127.0.0.1:" + port));
        argv.addAll(words.subList(end, words.size()));
        Process run = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(tmp.resolve("out").toFile()).start();
        assertTrue(run.waitFor(120, TimeUnit.SECONDS));
        String out = Files.readString(tmp.resolve("out"));
        assertEquals(2, run.exitValue(), out);
        assertEquals(1, out.strip().lines().count(), "one line:\n" + out);
        assertTrue(out.contains("--bootstrap-server") && out.contains("127.0.0.1:" + port), out);
    }

    /** `--mode plain` was refused although the CLI prints modes in lower case. */
    @Test
    void modesAreTakenInAnyCase() {
        CommandLine cmd = new CommandLine(new Pmig());
        StringWriter err = new StringWriter();
        // parsing only: --help stops before anything runs, after every option was converted
        int status = Pmig.run(cmd, new PrintWriter(err), "migrate", "w", "--to", "n2", "--mode", "plain", "--help");
        assertEquals(0, status, err.toString());
        assertFalse(err.toString().contains("Invalid value"), err.toString());
    }

    /** Durations were spelled --timeout-s, --warmup-seconds, --prepare-timeout: now one way, old spellings kept. */
    @Test
    void theSameDurationSpellingMeansTheSameInEveryCommand() {
        Duration twoMinutes = Duration.ofMinutes(2);
        String[][] commands = {
                {"migrate", "w", "--to", "n2", "--timeout", "2m"},
                {"launch", "--node", "n1", "--timeout", "2m", "--", "true"},
                {"kill", "w", "--timeout", "2m"},
                {"nodes", "--down-after", "2m"},
                {"fault", "cpu", "--node", "n1", "--duration", "2m"},
                {"record-trace", "--out", "t", "--duration", "2m"},
                {"executor", "--node", "n1", "--listen", "127.0.0.1:0", "--prepare-timeout", "2m"},
                {"agent", "--node", "n1", "--interval", "2m"},
                {"analytics", "--window-size", "2m"},
                {"train", "--horizon", "2m"},
                {"train", "--sustain", "2m"},
        };
        for (String[] args : commands) {
            assertEquals(twoMinutes, durationGiven(args), String.join(" ", args));
        }
        // the old spellings: a bare number keeps the unit the option always had
        assertEquals(twoMinutes, durationGiven("migrate", "w", "--to", "n2", "--timeout-s", "120"));
        assertEquals(twoMinutes, durationGiven("launch", "--node", "n1", "--timeout-s=120", "--", "true"));
        assertEquals(twoMinutes, durationGiven("nodes", "--down-after-s", "120"));
        assertEquals(twoMinutes, durationGiven("fault", "cpu", "--node", "n1", "--duration-s", "120"));
        assertEquals(twoMinutes, durationGiven("executor", "--node", "n1", "--listen", "127.0.0.1:0", "--prepare-timeout", "120"));
        assertEquals(twoMinutes, durationGiven("executor", "--node", "n1", "--listen", "127.0.0.1:0", "--checkpoint-interval-s", "120"));
        assertEquals(twoMinutes, durationGiven("agent", "--node", "n1", "--interval-ms", "120000"));
        assertEquals(Duration.ofMillis(500), durationGiven("agent", "--node", "n1", "--interval", "500MS"));
        assertEquals(twoMinutes, durationGiven("analytics", "--window-size-ms", "120000"));
        assertEquals(twoMinutes, durationGiven("train", "--horizon-s", "120"));
        assertEquals(twoMinutes, durationGiven("train", "--sustain-s", "120"));
        assertEquals(twoMinutes, durationGiven("demo", "--duration-s", "120"));
    }

    @Test
    void sizesAreReadAsEverywhere() {
        CommandLine.ParseResult parsed = OptionTypes.install(new CommandLine(new Pmig())).parseArgs("executor", "--node", "n1",
                "--listen", "127.0.0.1:0", "--ghost-limit-ceiling", "512MiB").subcommand();
        assertEquals(512L << 20, (Long) parsed.matchedOptionValue("--ghost-limit-ceiling", 0L));
    }

    /** The Duration the command's one duration option was given, as its converter read it. */
    private static Duration durationGiven(String... args) {
        CommandLine.ParseResult parsed = OptionTypes.install(new CommandLine(new Pmig())).parseArgs(args);
        while (parsed.hasSubcommand()) {
            parsed = parsed.subcommand();
        }
        List<Duration> durations = parsed.matchedOptions().stream().map(o -> o.getValue())
                .filter(Duration.class::isInstance).map(Duration.class::cast).toList();
        assertEquals(1, durations.size(), String.join(" ", args));
        return durations.get(0);
    }

    @Test
    void aBadDurationOrAddressIsOneLineNamingTheOptionAndWhatItTakes() {
        assertRefusedInOneLine(new String[] {"migrate", "w", "--to", "n2", "--timeout", "2 weeks"},
                "--timeout", "'2 weeks' is not a duration: a whole number with ms, s, m or h (e.g. 500ms, 30s, 2m), or a bare number of seconds");
        assertRefusedInOneLine(new String[] {"kill", "w", "--timeout-s", "-5"}, "--timeout-s", "not a duration");
        assertRefusedInOneLine(new String[] {"agent", "--node", "n1", "--interval=soon"}, "--interval",
                "or a bare number of milliseconds");
        assertRefusedInOneLine(new String[] {"executor", "--node", "n1", "--listen", "127.0.0.1:0", "--prepare-timeout", "1y"},
                "--prepare-timeout", "not a duration");
        assertRefusedInOneLine(new String[] {"executor", "--node", "n1", "--listen", "127.0.0.1:0", "--ghost-limit-ceiling", "4GB"},
                "--ghost-limit-ceiling", "is ambiguous");
        assertRefusedInOneLine(new String[] {"ps", "--bootstrap-server", "localhost"}, "--bootstrap-server",
                "'localhost' is not HOST:PORT or [IPv6]:PORT, port 0 to 65535");
        assertRefusedInOneLine(new String[] {"nodes", "--bootstrap-server", "127.0.0.1:9092,kafka:99999"}, "--bootstrap-server",
                "'kafka:99999' has no valid port");
        assertRefusedInOneLine(new String[] {"executor", "--node", "n1", "--listen", "7070"}, "--listen",
                "'7070' is not HOST:PORT or [IPv6]:PORT");
        assertRefusedInOneLine(new String[] {"executor", "--node", "n1", "--listen", "127.0.0.1:0", "--advertise=10.0.0.1"},
                "--advertise", "'10.0.0.1' is not HOST:PORT");
        assertRefusedInOneLine(new String[] {"executor", "--node", "n1", "--listen", "127.0.0.1:0", "--checkpoint-peer", "[::1]:70000"},
                "--checkpoint-peer", "has no valid port");
        assertRefusedInOneLine(new String[] {"agent", "--node", "n1", "--bootstrap-server", "kafka:9092,"}, "--bootstrap-server",
                "is not a list of HOST:PORT");
        assertRefusedInOneLine(new String[] {"train", "--horizon", "soon"}, "--horizon", "'soon' is not a duration");
        assertRefusedInOneLine(new String[] {"train", "--sustain-s", "2.5"}, "--sustain-s", "or a bare number of seconds");
    }

    private static void assertRefusedInOneLine(String[] args, String option, String what) {
        StringWriter err = new StringWriter();
        int status = Pmig.run(new CommandLine(new Pmig()), new PrintWriter(err), args);
        String text = err.toString();
        assertEquals(2, status, text);
        assertEquals(1, text.strip().lines().count(), "one line:\n" + text);
        assertTrue(text.startsWith("pmig " + args[0] + ": "), text);
        assertTrue(text.contains(" " + option + ": ") && text.contains(what), "names " + option + ": " + text);
        assertFalse(text.contains("Exception") || text.contains("\tat "), text);
    }

    @Test
    void aSecretIsNotOverwrittenAndTheRefusalIsOneLineNamingTheFile(@TempDir Path tmp) throws Exception {
        Path secret = tmp.resolve("transfer.secret");
        assertEquals(0, Pmig.run("secret", secret.toString()));
        String written = Files.readString(secret);
        StringWriter err = new StringWriter();
        int status = Pmig.run(new CommandLine(new Pmig()), new PrintWriter(err), "secret", secret.toString());
        assertEquals(2, status);
        assertTrue(err.toString().contains(secret.toString()) && err.toString().contains("--force"), err.toString());
        assertEquals(1, err.toString().strip().lines().count(), err.toString());
        assertEquals(written, Files.readString(secret));
    }

    /** A fresh JVM that builds a record before any Serde exists must not trip Avro's trusted-packages check. */
    @Test
    void aFreshJvmCanBuildCommandsBeforeDecodingAnything(@TempDir Path tmp) throws Exception {
        Process launch = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Pmig.class.getName(),
                "launch", "--bootstrap-server", "127.0.0.1:1", "--property", "default.api.timeout.ms=2000",
                "--property", "max.block.ms=2000", "--node", "nowhere", "--timeout-s", "1", "--", "true")
                .redirectErrorStream(true).redirectOutput(tmp.resolve("out").toFile()).start();
        assertTrue(launch.waitFor(90, TimeUnit.SECONDS));
        String out = Files.readString(tmp.resolve("out"));
        assertFalse(out.contains("Forbidden"), out);
    }

    /** The broker as an operator runs it: its own process, a ready line, and a clean stop on SIGTERM. */
    @Test
    void brokerPrintsBootstrapServersAndStopsOnSigterm(@TempDir Path dataDir) throws Exception {
        Process broker = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Pmig.class.getName(),
                "broker", "--port", "0", "--data-dir", dataDir.toString())
                .redirectError(dataDir.resolve("broker.err").toFile())
                .start();
        try (var lines = new BufferedReader(new InputStreamReader(broker.getInputStream()))) {
            String ready = lines.readLine();
            assertTrue(ready != null && ready.matches(".*bootstrap\\.servers=127\\.0\\.0\\.1:\\d+"), "ready line: " + ready + "\n" + Files.readString(dataDir.resolve("broker.err")));
        } finally {
            broker.destroy(); // SIGTERM
        }
        assertTrue(broker.waitFor(60, TimeUnit.SECONDS), "broker stops on SIGTERM");
        assertTrue(Files.exists(dataDir.resolve("logs/meta.properties")), "data dir kept");
    }
}
