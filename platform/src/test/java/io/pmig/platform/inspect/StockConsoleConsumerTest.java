package io.pmig.platform.inspect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.features.FeatureLayout;
import io.pmig.schemas.serde.AvroSerde;
import io.pmig.schemas.serde.SampleRecords;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Records of every type, written to a real broker, read back by Kafka's stock ConsoleConsumer (run as its own
 * process, as an operator would) with pmig's formatter, and compared field by field.
 */
class StockConsoleConsumerTest {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    @Test
    void stockConsoleConsumerPrintsEveryRecordTypeAsJson(@TempDir Path tmp) throws Exception {
        String topic = "pmig.test.console";
        Properties props = SharedBroker.clientProperties();
        try (var admin = org.apache.kafka.clients.admin.Admin.create(props)) {
            admin.createTopics(List.of(new org.apache.kafka.clients.admin.NewTopic(topic, 1, (short) 1))).all().get();
        }
        List<SpecificRecordBase> records = SampleRecords.everyType();
        try (var producer = new KafkaProducer<String, byte[]>(props, new StringSerializer(), new ByteArraySerializer())) {
            for (SpecificRecordBase record : records) {
                producer.send(new ProducerRecord<>(topic, "key-" + record.getSchema().getName(), encode(record))).get();
            }
            producer.send(new ProducerRecord<>(topic, "key-garbage", "not avro".getBytes(StandardCharsets.UTF_8))).get();
        }

        List<String> lines = runStockConsoleConsumer(tmp, "--bootstrap-server", SharedBroker.bootstrapServers(),
                "--topic", topic, "--from-beginning", "--max-messages", String.valueOf(records.size() + 1),
                "--timeout-ms", "20000",
                "--formatter", PmigMessageFormatter.class.getName(),
                "--formatter-property", "print.offset=true", "--formatter-property", "print.partition=true");

        assertEquals(records.size() + 1, lines.size(), String.join("\n", lines));
        for (int i = 0; i < records.size(); i++) {
            JsonNode line = MAPPER.readTree(lines.get(i));
            SpecificRecordBase expected = records.get(i);
            assertEquals("key-" + expected.getSchema().getName(), line.get("key").asText());
            assertEquals(i, line.get("offset").asLong());
            assertEquals(0, line.get("partition").asInt());
            assertTrue(line.get("timestamp").asLong() > 0);
            assertEquals(expected.getSchema().getName(), line.get("type").asText());
            assertFieldsEqual(expected.getSchema(), expected, line.get("value"), expected.getSchema().getName());
        }
        JsonNode garbage = MAPPER.readTree(lines.get(records.size()));
        assertTrue(garbage.get("error").asText().contains("@" + records.size()), "names the offset: " + garbage);
    }

    @Test
    void scoresPrintTheirFeaturesByNameWhetherWrittenByPositionOrByName(@TempDir Path tmp) throws Exception {
        String topic = "pmig.test.console.scores";
        Properties props = SharedBroker.clientProperties();
        try (var admin = org.apache.kafka.clients.admin.Admin.create(props)) {
            admin.createTopics(List.of(new org.apache.kafka.clients.admin.NewTopic(topic, 1, (short) 1))).all().get();
        }
        List<String> names = FeatureLayout.V1.names();
        double[] values = new double[names.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = 10.0 + i;
        }
        NodeScore byPosition = FeatureLayout.setFeatures(NodeScore.newBuilder(), names, values).setNodeId("node-1")
                .setWindowStartMs(1_000).setWindowEndMs(11_000).setScore(0.5).setTimestampMs(11_000).build();
        Schema v1;
        try (var in = getClass().getResourceAsStream("/io/pmig/schemas/history/NodeScore-v1.avsc")) {
            v1 = new Schema.Parser().parse(in);
        }
        GenericRecord old = new GenericData.Record(v1);
        for (Schema.Field field : v1.getFields()) {
            if (field.hasDefaultValue()) {
                old.put(field.name(), GenericData.get().getDefaultValue(field));
            }
        }
        old.put("nodeId", "node-2");
        old.put("windowStartMs", 1_000L);
        old.put("windowEndMs", 11_000L);
        old.put("features", java.util.Map.of("cpu_mean", 91.0));
        old.put("score", 0.9);
        old.put("timestampMs", 11_000L);
        try (var producer = new KafkaProducer<String, byte[]>(props, new StringSerializer(), new ByteArraySerializer())) {
            producer.send(new ProducerRecord<>(topic, "node-1", encode(byPosition))).get();
            producer.send(new ProducerRecord<>(topic, "node-2",
                    new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v1).encode(old).array())).get();
        }

        List<String> lines = runStockConsoleConsumer(tmp, "--bootstrap-server", SharedBroker.bootstrapServers(),
                "--topic", topic, "--from-beginning", "--max-messages", "2", "--timeout-ms", "20000",
                "--formatter", PmigMessageFormatter.class.getName());

        assertEquals(2, lines.size(), String.join("\n", lines));
        JsonNode positional = MAPPER.readTree(lines.get(0)).get("value");
        assertEquals(names, iterableToList(positional.get("features").fieldNames()), lines.get(0));
        for (int i = 0; i < names.size(); i++) {
            assertEquals(values[i], positional.get("features").get(names.get(i)).asDouble(), 0.0, names.get(i));
        }
        assertEquals(1, positional.get("featureLayout").asInt());
        assertTrue(!positional.has("featureValues"), "values are shown once, by name: " + lines.get(0));
        JsonNode named = MAPPER.readTree(lines.get(1)).get("value");
        assertEquals(91.0, named.get("features").get("cpu_mean").asDouble(), 0.0, lines.get(1));
        assertEquals("NodeScore", MAPPER.readTree(lines.get(1)).get("type").asText());
    }

    private static List<String> iterableToList(java.util.Iterator<String> names) {
        List<String> list = new ArrayList<>();
        names.forEachRemaining(list::add);
        return list;
    }

    /** Walks the Avro schema and compares each value with its JSON rendering. */
    private static void assertFieldsEqual(Schema schema, Object expected, JsonNode actual, String path) {
        switch (schema.getType()) {
            case RECORD -> {
                var record = (org.apache.avro.generic.IndexedRecord) expected;
                for (Schema.Field field : schema.getFields()) {
                    assertTrue(actual.has(field.name()), path + "." + field.name() + " missing");
                    assertFieldsEqual(field.schema(), record.get(field.pos()), actual.get(field.name()), path + "." + field.name());
                }
            }
            case UNION -> {
                if (expected == null) {
                    assertTrue(actual.isNull(), path);
                } else {
                    Schema branch = schema.getTypes().get(org.apache.avro.generic.GenericData.get().resolveUnion(schema, expected));
                    assertFieldsEqual(branch, expected, actual, path);
                }
            }
            case ARRAY -> {
                List<?> items = (List<?>) expected;
                assertEquals(items.size(), actual.size(), path);
                for (int i = 0; i < items.size(); i++) {
                    assertFieldsEqual(schema.getElementType(), items.get(i), actual.get(i), path + "[" + i + "]");
                }
            }
            case MAP -> {
                var map = (java.util.Map<?, ?>) expected;
                assertEquals(map.size(), actual.size(), path);
                map.forEach((k, v) -> assertFieldsEqual(schema.getValueType(), v, actual.get(k.toString()), path + "." + k));
            }
            case BYTES -> {
                var buffer = ((java.nio.ByteBuffer) expected).duplicate();
                byte[] bytes = new byte[buffer.remaining()];
                buffer.get(bytes);
                assertEquals(Base64.getEncoder().encodeToString(bytes), actual.asText(), path);
            }
            case DOUBLE, FLOAT -> assertEquals(((Number) expected).doubleValue(), actual.asDouble(), 0.0, path);
            case INT, LONG -> assertEquals(((Number) expected).longValue(), actual.asLong(), path);
            case BOOLEAN -> assertEquals(expected, actual.asBoolean(), path);
            case STRING, ENUM -> assertEquals(expected.toString(), actual.asText(), path);
            default -> throw new AssertionError("unexpected schema type at " + path + ": " + schema.getType());
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static byte[] encode(SpecificRecordBase record) {
        return ((AvroSerde) AvroSerde.of(record.getClass())).encode(record);
    }

    /** The stock tool, unmodified, in its own JVM with pmig's classes on the classpath. */
    static List<String> runStockConsoleConsumer(Path tmp, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                "org.apache.kafka.tools.consumer.ConsoleConsumer"));
        command.addAll(List.of(args));
        Path out = tmp.resolve("stdout");
        Process process = new ProcessBuilder(command)
                .redirectOutput(out.toFile())
                .redirectError(tmp.resolve("stderr").toFile())
                .start();
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "console consumer did not finish");
        assertEquals(0, process.exitValue(), Files.readString(tmp.resolve("stderr")));
        return Files.readAllLines(out).stream().filter(line -> line.startsWith("{")).toList();
    }
}
