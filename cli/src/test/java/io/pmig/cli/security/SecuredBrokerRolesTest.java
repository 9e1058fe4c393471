package io.pmig.cli.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.agent.AgentConfig;
import io.pmig.agent.MetricsAgent;
import io.pmig.analytics.AnalyticsApp;
import io.pmig.analytics.AnalyticsConfig;
import io.pmig.cli.demo.CriuLocator;
import io.pmig.executor.ExecutorCommand;
import io.pmig.executor.ExecutorConfig;
import io.pmig.executor.node.NodeExecutor;
import io.pmig.executor.workload.InitBinary;
import io.pmig.broker.EmbeddedBroker;
import io.pmig.platform.inspect.PmigMessageFormatter;
import io.pmig.platform.topics.Topic;
import io.pmig.platform.topics.TopicCreator;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import io.pmig.schemas.NodeCapacity;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.SamplingMode;
import io.pmig.schemas.serde.AvroSerde;
import java.io.IOException;
import java.io.Reader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The embedded broker with no plaintext listener at all: TLS on one port, SASL/SCRAM-SHA-512 over TLS on another,
 * certificates made here by keytool (a CA, a broker certificate for IP 127.0.0.1, a truststore). Every pmig role
 * then works through its Kafka client properties alone: the agent and analytics over TLS, the executor over
 * SCRAM with its properties read by its own command line ({@code --client-config}), and the stock console
 * consumer with pmig's formatter over SCRAM ({@code --consumer.config}).
 */
class SecuredBrokerRolesTest {

    private static final String STORE_PASSWORD = "pmig-store-pass";
    private static final String SCRAM_USER = "pmig";
    private static final String SCRAM_PASSWORD = "pmig-scram-secret";

    @TempDir
    static Path tmp;
    private static EmbeddedBroker broker;
    private static int sslPort;
    private static int scramPort;
    private static Path sslConfig;
    private static Path scramConfig;

    @BeforeAll
    static void startSecuredBroker() throws Exception {
        Path pki = Files.createDirectories(tmp.resolve("pki"));
        makeCertificates(pki);
        sslPort = freePort();
        scramPort = freePort();
        Map<String, String> broker = new HashMap<>();
        String listeners = "SSL://127.0.0.1:" + sslPort + ",SASL_SSL://127.0.0.1:" + scramPort;
        broker.put("listeners", listeners);
        broker.put("advertised.listeners", listeners);
        broker.put("listener.security.protocol.map", "SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT");
        broker.put("inter.broker.listener.name", "SSL");
        broker.put("ssl.keystore.type", "PKCS12");
        broker.put("ssl.keystore.location", pki.resolve("broker.p12").toString());
        broker.put("ssl.keystore.password", STORE_PASSWORD);
        broker.put("ssl.key.password", STORE_PASSWORD);
        broker.put("ssl.truststore.type", "PKCS12");
        broker.put("ssl.truststore.location", pki.resolve("truststore.p12").toString());
        broker.put("ssl.truststore.password", STORE_PASSWORD);
        broker.put("sasl.enabled.mechanisms", "SCRAM-SHA-512");
        broker.put("listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required;");
        Properties ssl = tlsClient(pki);
        ssl.forEach((k, v) -> broker.put("pmig.client." + k, v.toString()));
        SecuredBrokerRolesTest.broker = EmbeddedBroker.start(sslPort, null, broker);

        sslConfig = store(tmp.resolve("ssl-client.properties"), ssl);
        Properties scram = tlsClient(pki);
        scram.put("security.protocol", "SASL_SSL");
        scram.put("sasl.mechanism", "SCRAM-SHA-512");
        scram.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                + SCRAM_USER + "\" password=\"" + SCRAM_PASSWORD + "\";");
        scramConfig = store(tmp.resolve("scram-client.properties"), scram);

        try (Admin admin = Admin.create(client(sslConfig, sslPort))) {
            admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(SCRAM_USER,
                    new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), SCRAM_PASSWORD))).all().get(30, TimeUnit.SECONDS);
        }
        TopicCreator.ensureTopics(client(sslConfig, sslPort));
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    @Test
    void clientsWithoutTheRightSecurityGetNothing() throws Exception {
        Properties plaintext = new Properties();
        plaintext.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:" + sslPort);
        plaintext.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "3000");
        plaintext.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        try (Admin admin = Admin.create(plaintext)) {
            assertThrows(ExecutionException.class, () -> admin.describeCluster().nodes().get(10, TimeUnit.SECONDS));
        }
        Properties wrongPassword = client(scramConfig, scramPort);
        wrongPassword.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                + SCRAM_USER + "\" password=\"guessed\";");
        try (Admin admin = Admin.create(wrongPassword)) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> admin.describeCluster().nodes().get(30, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof SaslAuthenticationException, e.toString());
        }
    }

    @Test
    void everyRoleWorksThroughItsClientPropertiesAlone() throws Exception {
        Properties tls = client(sslConfig, sslPort);

        // agent over TLS: its samples arrive
        String node = "secure-node";
        AgentConfig agentConfig = new AgentConfig(node, Duration.ofMillis(200), SamplingMode.HOST,
                NodeCapacity.newBuilder().setCpus(2).setMemBytes(1L << 30).build(), null, 100, tls);
        try (MetricsAgent agent = new MetricsAgent(agentConfig).start()) {
            assertTrue(readUntil(client(scramConfig, scramPort), Topic.METRICS, 1,
                    v -> v instanceof NodeMetrics m && m.getNodeId().equals(node)), "the agent's samples reach pmig.metrics over TLS");
        }

        // analytics over TLS: reads pmig.metrics and writes pmig.dlq (a corrupt sample is dead-lettered)
        try (AnalyticsApp analytics = AnalyticsApp.start(AnalyticsConfig.of(Map.of()), tls, "secure", "127.0.0.1", 0,
                Files.createDirectories(tmp.resolve("analytics-state")))) {
            awaitRunning(analytics.streams());
            try (var producer = new KafkaProducer<>(client(scramConfig, scramPort), new StringSerializer(), new ByteArraySerializer())) {
                producer.send(new ProducerRecord<>(Topic.METRICS.topicName(), "secure-garbage",
                        "not a sample".getBytes(StandardCharsets.UTF_8))).get(30, TimeUnit.SECONDS);
            }
            List<String> dlq = consoleConsumer(Topic.DLQ.topicName(), 1);
            assertTrue(dlq.get(0).contains("\"type\":\"DeadLetter\"") && dlq.get(0).contains("not a valid NodeMetrics"), dlq.toString());
        }

        // executor over SCRAM, configured by its own command line: a KILL of an unknown workload is answered FAILED
        Path workdir = Files.createDirectories(tmp.resolve("executor"));
        Path secret = Files.writeString(tmp.resolve("secret"), "secured-roles-secret-0123456789\n");
        ExecutorCommand command = new ExecutorCommand();
        new CommandLine(command).parseArgs("--node", node, "--listen", "127.0.0.1:0", "--workdir", workdir.toString(),
                "--criu", CriuLocator.locate().binary().toString(),
                "--init-path", InitBinary.install(tmp.resolve("bin/pmig-init")).toString(),
                "--secret-file", secret.toString(),
                "--bootstrap-server", "127.0.0.1:" + scramPort, "--client-config", scramConfig.toString());
        ExecutorConfig config = command.config();
        assertEquals("SASL_SSL", config.kafka().getProperty("security.protocol"));
        try (NodeExecutor executor = NodeExecutor.start(config);
             var producer = new KafkaProducer<>(config.kafka(), new StringSerializer(),
                     Topic.COMMANDS.<MigrationCommand>serde().serializer())) {
            producer.send(new ProducerRecord<>(Topic.COMMANDS.topicName(), node, MigrationCommand.newBuilder()
                    .setCommandId("secure-kill-1").setKind(CommandKind.KILL).setWorkloadId("w-absent")
                    .setSourceNode(node).setIssuedAtMs(System.currentTimeMillis()).setIssuedBy("test").build()))
                    .get(30, TimeUnit.SECONDS);
            assertTrue(readUntil(client(scramConfig, scramPort), Topic.EVENTS, 1,
                    v -> v instanceof MigrationEvent e && e.getCommandId().equals("secure-kill-1")
                            && e.getPhase() == Phase.FAILED && String.valueOf(e.getError()).contains("not on " + node)),
                    "the executor read the command and reported over SCRAM");
        }
    }

    /** The stock console consumer with pmig's formatter, in its own JVM, over SCRAM from a properties file. */
    private static List<String> consoleConsumer(String topic, int messages) throws IOException, InterruptedException {
        Path out = Files.createTempFile(tmp, "console-", ".out");
        Path err = Files.createTempFile(tmp, "console-", ".err");
        Process process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "org.apache.kafka.tools.consumer.ConsoleConsumer",
                "--bootstrap-server", "127.0.0.1:" + scramPort, "--consumer.config", scramConfig.toString(),
                "--topic", topic, "--from-beginning", "--max-messages", String.valueOf(messages), "--timeout-ms", "60000",
                "--formatter", PmigMessageFormatter.class.getName())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertTrue(process.waitFor(90, TimeUnit.SECONDS), "console consumer did not finish");
        assertEquals(0, process.exitValue(), Files.readString(err));
        List<String> lines = Files.readAllLines(out).stream().filter(l -> l.startsWith("{")).toList();
        assertEquals(messages, lines.size(), Files.readString(err));
        return lines;
    }

    private static boolean readUntil(Properties props, Topic topic, int wanted, java.util.function.Predicate<Object> match) {
        props.put(ConsumerConfig.GROUP_ID_CONFIG, "secured-check-" + System.nanoTime());
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        int seen = 0;
        try (var consumer = new KafkaConsumer<>(props, new StringDeserializer(), AvroSerde.of(topic.recordType()))) {
            consumer.subscribe(List.of(topic.topicName()));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (seen < wanted && System.nanoTime() < deadline) {
                for (var record : consumer.poll(Duration.ofMillis(200))) {
                    if (match.test(record.value())) {
                        seen++;
                    }
                }
            }
        }
        return seen >= wanted;
    }

    private static void awaitRunning(KafkaStreams streams) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (streams.state() != KafkaStreams.State.RUNNING && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertEquals(KafkaStreams.State.RUNNING, streams.state());
    }

    private static Properties tlsClient(Path pki) {
        Properties props = new Properties();
        props.put("security.protocol", "SSL");
        props.put("ssl.truststore.type", "PKCS12");
        props.put("ssl.truststore.location", pki.resolve("truststore.p12").toString());
        props.put("ssl.truststore.password", STORE_PASSWORD);
        return props;
    }

    private static Properties client(Path config, int port) throws IOException {
        Properties props = new Properties();
        try (Reader reader = Files.newBufferedReader(config)) {
            props.load(reader);
        }
        props.put("bootstrap.servers", "127.0.0.1:" + port);
        return props;
    }

    private static Path store(Path file, Properties props) throws IOException {
        try (var writer = Files.newBufferedWriter(file)) {
            props.store(writer, "pmig client security settings");
        }
        return file;
    }

    /** A throwaway CA, a broker key pair whose certificate the CA signs for IP 127.0.0.1, and a truststore of the CA. */
    private static void makeCertificates(Path dir) throws IOException, InterruptedException {
        String[] store = {"-storetype", "PKCS12", "-storepass", STORE_PASSWORD};
        keytool(dir, "-genkeypair", "-alias", "ca", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=pmig test CA",
                "-ext", "bc:c", "-validity", "2", "-keystore", "ca.p12", store[0], store[1], store[2], store[3]);
        keytool(dir, "-exportcert", "-rfc", "-alias", "ca", "-file", "ca.pem", "-keystore", "ca.p12", store[2], store[3]);
        keytool(dir, "-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=127.0.0.1",
                "-validity", "2", "-keystore", "broker.p12", store[0], store[1], store[2], store[3]);
        keytool(dir, "-certreq", "-alias", "broker", "-file", "broker.csr", "-keystore", "broker.p12", store[2], store[3]);
        keytool(dir, "-gencert", "-alias", "ca", "-infile", "broker.csr", "-outfile", "broker.pem", "-rfc",
                "-ext", "SAN=IP:127.0.0.1", "-validity", "2", "-keystore", "ca.p12", store[2], store[3]);
        keytool(dir, "-importcert", "-noprompt", "-alias", "ca", "-file", "ca.pem", "-keystore", "broker.p12", store[2], store[3]);
        keytool(dir, "-importcert", "-alias", "broker", "-file", "broker.pem", "-keystore", "broker.p12", store[2], store[3]);
        keytool(dir, "-importcert", "-noprompt", "-alias", "ca", "-file", "ca.pem", "-keystore", "truststore.p12",
                store[0], store[1], store[2], store[3]);
    }

    private static void keytool(Path dir, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS) && process.exitValue() == 0, "keytool " + args[0] + ": " + output);
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
