package io.pmig.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
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

    @Test
    void badConfigurationNamesTheKey() {
        StringWriter err = new StringWriter();
        CommandLine cmd = new CommandLine(new Pmig());
        var status = Pmig.run(cmd, new PrintWriter(err), "broker", "--port", "70000");
        assertEquals(2, status);
        assertTrue(err.toString().contains("--port"), err.toString());
    }

    /** `pmig ps` with no broker printed 54 client warnings over 30 s, then a Kafka TimeoutException. */
    @Test
    void anOperatorCommandWithNoBrokerSaysSoInOneLine(@TempDir Path tmp) throws Exception {
        int port;
        try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Process ps = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Pmig.class.getName(),
                "ps", "--bootstrap-server", "127.0.0.1:" + port)
                .redirectErrorStream(true).redirectOutput(tmp.resolve("out").toFile()).start();
        assertTrue(ps.waitFor(120, TimeUnit.SECONDS));
        String out = Files.readString(tmp.resolve("out"));
        assertEquals(2, ps.exitValue(), out);
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
