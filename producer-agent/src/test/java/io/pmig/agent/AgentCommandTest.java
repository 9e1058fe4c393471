package io.pmig.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.platform.config.ConfigException;
import io.pmig.schemas.SamplingMode;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class AgentCommandTest {

    @TempDir
    Path workdir;

    private static AgentConfig configFrom(String... args) {
        AgentCommand command = new AgentCommand();
        new CommandLine(command).parseArgs(args);
        return command.toConfig();
    }

    private static ConfigException badConfig(String... args) {
        return assertThrows(ConfigException.class, () -> configFrom(args));
    }

    @Test
    void unknownCapacityUnitFailsWithAMessageNamingTheOption() {
        StringWriter err = new StringWriter();
        CommandLine commandLine = AgentCommand.commandLine();
        commandLine.setErr(new PrintWriter(err, true));
        int exitCode = commandLine.execute("--node", "node-a", "--capacity", "cpus=2,mem=4GB");
        assertEquals(2, exitCode);
        // one way to write a size everywhere (Sizes): "GB" is refused as ambiguous, naming the option and the unit
        assertTrue(err.toString().startsWith("pmig agent: bad configuration: --capacity: ")
                && err.toString().contains("unit 'GB'"), err.toString());
    }

    @Test
    void unresolvableBootstrapHostFailsNamingTheOption() {
        ConfigException e = badConfig("--node", "node-a", "--bootstrap-server", "no-such-broker.invalid:9092");
        assertEquals("--bootstrap-server", e.key());
        assertTrue(e.getMessage().contains("cannot resolve no-such-broker.invalid"), e.getMessage());
    }

    @Test
    void eachBadOptionIsNamed() {
        assertEquals("--node", badConfig("--node", "a b").key());
        assertEquals("--interval-ms", badConfig("--node", "n", "--interval-ms", "0").key());
        assertEquals("--buffer-records", badConfig("--node", "n", "--buffer-records", "0").key());
        assertEquals("--mode", badConfig("--node", "n", "--mode", "cloud").key());
        assertEquals("--capacity", badConfig("--node", "n", "--mode", "simulated", "--workdir", "/tmp").key());
        assertEquals("--workdir", badConfig("--node", "n", "--mode", "simulated", "--capacity", "cpus=1").key());
        // a malformed address is refused while parsing, by the shared HOST:PORT converter, naming the option
        CommandLine.ParameterException parse = assertThrows(CommandLine.ParameterException.class,
                () -> configFrom("--node", "n", "--bootstrap-server", "localhost"));
        assertTrue(parse.getMessage().contains("'--bootstrap-server'"), parse.getMessage());
    }

    @Test
    void clientPropertiesKafkaRejectsFailStartUpNamingTheOptions() {
        AgentConfig config = configFrom("--node", "node-a", "--bootstrap-server", "127.0.0.1:9",
                "--property", "security.protocol=BOGUS");
        MetricsAgent agent = new MetricsAgent(config);
        ConfigException e = assertThrows(ConfigException.class, agent::start);
        assertEquals("--client-config/--property", e.key());
        assertTrue(e.getMessage().contains("BOGUS"), e.getMessage());
    }

    @Test
    void goodOptionsMakeAConfig() {
        AgentConfig config = configFrom("--node", "node-b", "--mode", "SIMULATED", "--capacity", "cpus=1.5,mem=2GiB",
                "--workdir", workdir.toString(), "--interval-ms", "500", "--buffer-records", "10",
                "--bootstrap-server", "localhost:9092");
        assertEquals(SamplingMode.SIMULATED, config.mode());
        assertEquals(1.5, config.capacity().getCpus());
        assertEquals(2L << 30, config.capacity().getMemBytes());
        assertEquals(Duration.ofMillis(500), config.interval());
        assertEquals(10, config.bufferRecords());
        assertEquals("localhost:9092", config.clientProperties().getProperty("bootstrap.servers"));
    }

    @Test
    void unreachableBrokerIsAnOutageNotAnErrorAndTheBufferKeepsTheNewestSamples() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = socket.getLocalPort();
        }
        AgentConfig config = configFrom("--node", "node-cut-off", "--interval-ms", "50", "--buffer-records", "5",
                "--bootstrap-server", "127.0.0.1:" + closedPort);
        MetricsAgent agent = new MetricsAgent(config).start();
        try {
            while (agent.buffer().dropped() < 10) {
                Thread.sleep(50);
            }
            List<Long> held = agent.buffer().sequences();
            assertTrue(held.size() <= 5, "held " + held);
            for (int i = 1; i < held.size(); i++) {
                assertEquals(held.get(i - 1) + 1, held.get(i), "held " + held);
            }
            assertTrue(held.get(0) >= 10, "the oldest were dropped, held " + held);
            assertEquals(0, agent.delivered());
        } finally {
            agent.close(Duration.ZERO);
        }
    }
}
