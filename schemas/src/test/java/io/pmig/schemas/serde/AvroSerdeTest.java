package io.pmig.schemas.serde;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.Phase;
import java.io.InputStream;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class AvroSerdeTest {

    @BeforeAll
    static void trustPmigClasses() {
        // Builders fill enum defaults through Avro's class lookup, which refuses untrusted classes: whichever test runs
        // first (alone with -Dtest, SampleRecords' builders come before any Serde) must find pmig's classes trusted.
        SchemaCatalog.trustPmigClasses();
    }

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void everyRecordTypeSurvivesARoundTrip() {
        for (SpecificRecordBase record : SampleRecords.everyType()) {
            AvroSerde serde = AvroSerde.of(record.getClass());
            byte[] bytes = serde.serialize("pmig.test", record);
            assertEquals((byte) 0xC3, bytes[0], "single-object marker");
            assertEquals((byte) 0x01, bytes[1], "single-object marker");
            assertEquals(record, serde.deserialize("pmig.test", bytes), record.getClass().getSimpleName());
        }
    }

    @Test
    void bytesWrittenWithAnOlderSchemaAreReadByTheNewerClass() throws Exception {
        Schema old;
        try (InputStream in = getClass().getResourceAsStream("/io/pmig/schemas/testhistory/MigrationEvent-v0.avsc")) {
            old = new Schema.Parser().parse(in);
        }
        GenericRecord written = new GenericData.Record(old);
        written.put("commandId", "cmd-old");
        written.put("migrationId", "mig-old");
        written.put("node", "node-1");
        written.put("phase", new GenericData.EnumSymbol(old.getField("phase").schema(), "COMPLETED"));
        written.put("timestampMs", 123L);
        byte[] bytes = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), old).encode(written).array();

        // The old schema reaches the decoder through the schema-history list on the classpath.
        MigrationEvent read = AvroSerde.of(MigrationEvent.class).deserialize("pmig.events", bytes);

        assertEquals("cmd-old", read.getCommandId());
        assertEquals(Phase.COMPLETED, read.getPhase());
        assertEquals(123L, read.getTimestampMs());
        assertEquals("", read.getWorkloadId(), "new field takes its default");
        assertEquals(0L, read.getBytesMoved(), "new field takes its default");
        assertNull(read.getError());
        assertEquals(0L, read.getTimings().getDowntimeMs());
    }

    @Test
    void aCommandWrittenBeforeItsReasonNamedTheScorerReadsWithAnEmptyScorer() throws Exception {
        Schema v2;
        try (InputStream in = getClass().getResourceAsStream("/io/pmig/schemas/history/MigrationCommand-v2.avsc")) {
            v2 = new Schema.Parser().parse(in);
        }
        Schema reasonSchema = v2.getField("reason").schema().getTypes().get(1);
        GenericRecord reason = new GenericData.Record(reasonSchema);
        reason.put("trigger", new GenericData.EnumSymbol(reasonSchema.getField("trigger").schema(), "MODEL"));
        reason.put("score", 0.9);
        reason.put("features", java.util.Map.of());
        reason.put("modelVersion", "rf-1");
        reason.put("text", "moved");
        GenericRecord written = new GenericData.Record(v2);
        for (Schema.Field field : v2.getFields()) {
            if (field.hasDefaultValue()) {
                written.put(field.name(), GenericData.get().getDefaultValue(field));
            }
        }
        written.put("commandId", "cmd-v2");
        written.put("kind", new GenericData.EnumSymbol(v2.getField("kind").schema(), "MIGRATE"));
        written.put("workloadId", "w");
        written.put("reason", reason);
        written.put("issuedAtMs", 1L);
        byte[] bytes = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v2).encode(written).array();

        MigrationCommand read = AvroSerde.of(MigrationCommand.class).deserialize("pmig.commands", bytes);

        assertEquals("cmd-v2", read.getCommandId());
        assertEquals(io.pmig.schemas.Trigger.MODEL, read.getReason().getTrigger());
        assertEquals("", read.getReason().getScorer(), "new field takes its default");
    }

    @Test
    void aModelWrittenBeforeModelsCarriedAnAlarmPolicyReadsWithoutOne() throws Exception {
        Schema v1;
        try (InputStream in = getClass().getResourceAsStream("/io/pmig/schemas/history/ModelUpdate-v1.avsc")) {
            v1 = new Schema.Parser().parse(in);
        }
        GenericRecord written = new GenericData.Record(v1);
        written.put("version", "rf-old");
        written.put("algorithm", "random-forest");
        written.put("features", java.util.List.of("cpu_mean"));
        written.put("trainedFromMs", 1L);
        written.put("trainedToMs", 2L);
        written.put("horizonS", 15);
        written.put("metrics", java.util.Map.of("f1", 0.9));
        written.put("trainedAtMs", 3L);
        written.put("modelBytes", java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3}));
        byte[] bytes = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v1).encode(written).array();

        io.pmig.schemas.ModelUpdate read = AvroSerde.of(io.pmig.schemas.ModelUpdate.class).deserialize("pmig.models", bytes);

        assertEquals("rf-old", read.getVersion());
        assertEquals(15, read.getHorizonS());
        assertNull(read.getAlarmPolicy(), "new field takes its default: the operator's settings apply");
    }

    @Test
    void malformedBytesGiveAClearErrorNamingTopicAndType() {
        AvroSerde<NodeMetrics> serde = AvroSerde.of(NodeMetrics.class);
        byte[] valid = serde.serialize("pmig.metrics", SampleRecords.nodeMetrics());

        SerializationException garbage = assertThrows(SerializationException.class,
                () -> serde.deserialize("pmig.metrics", "hello".getBytes()));
        assertTrue(garbage.getMessage().startsWith("pmig.metrics: not a valid NodeMetrics record (5 bytes)"), garbage.getMessage());

        byte[] truncated = java.util.Arrays.copyOf(valid, valid.length / 2);
        SerializationException cut = assertThrows(SerializationException.class,
                () -> serde.deserialize("pmig.metrics", truncated));
        assertTrue(cut.getMessage().contains("NodeMetrics"), cut.getMessage());

        byte[] otherType = AvroSerde.of(MigrationEvent.class).serialize("x", SampleRecords.migrationEvent());
        assertThrows(SerializationException.class, () -> serde.deserialize("pmig.metrics", otherType),
                "a record of another type is not silently misread");
        assertNull(serde.deserialize("pmig.metrics", null), "tombstones stay null");
    }

    @Test
    void genericDecodingReadsAnyTypeByFingerprint() throws Exception {
        byte[] bytes = AvroSerde.of(NodeMetrics.class).encode(SampleRecords.nodeMetrics());
        GenericRecord record = GenericDecoding.decode(bytes);
        assertEquals("NodeMetrics", record.getSchema().getName());
        assertEquals("node-2", record.get("nodeId").toString());
        assertThrows(Exception.class, () -> GenericDecoding.decode(new byte[] {(byte) 0xC3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
        assertArrayEquals(bytes, AvroSerde.of(NodeMetrics.class).encode(SampleRecords.nodeMetrics()), "encoding is deterministic");
    }
}
