package io.pmig.schemas.serde;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.fuzz.FuzzCampaign;
import io.pmig.schemas.fuzz.FuzzReport;
import io.pmig.schemas.fuzz.Mutator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.List;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

/**
 * Every decoder of Kafka bytes in this module, fed random and mutated records (see {@link FuzzCampaign} for
 * the size knobs): no crash, no hang, no allocation beyond what {@link SchemaCatalog}'s limits allow.
 */
class DecoderFuzzTest {

    /** The largest a legitimate field may be, plus room for the decoder's own buffers and the record. */
    private static final long ALLOCATION_BOUND = SchemaCatalog.MAX_BYTES + (16L << 20);

    private static List<byte[]> everyEncoding() {
        return SampleRecords.everyType().stream().map(DecoderFuzzTest::encode).toList();
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static byte[] encode(SpecificRecordBase record) {
        return ((AvroSerde) AvroSerde.of(record.getClass())).encode(record);
    }

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void everySerdeRefusesCorruptRecordsWithASerializationException() throws Exception {
        for (SpecificRecordBase sample : SampleRecords.everyType()) {
            AvroSerde serde = AvroSerde.of(sample.getClass());
            // the record's own encoding, plus the others so splices cross types
            List<byte[]> corpus = new java.util.ArrayList<>(List.of(encode(sample), encode(sample)));
            corpus.addAll(everyEncoding());
            FuzzReport report = FuzzCampaign.of("AvroSerde<" + sample.getClass().getSimpleName() + ">")
                    .inputs(FuzzCampaign.iterations(1))
                    .maxAllocatedBytesPerInput(ALLOCATION_BOUND)
                    .documenting(SerializationException.class)
                    .run(corpus, 256, input -> {
                        Object decoded = serde.deserialize("pmig.fuzz", input);
                        // what was accepted is a well-formed record: it encodes again
                        serde.encode((SpecificRecordBase) decoded);
                    });
            assertTrue(report.clean(), report.failureSummary());
            assertTrue(report.refused() > report.inputs() / 2, "most corrupt inputs are refused: " + report.line());
        }
    }

    @Test
    void genericDecodingRefusesCorruptRecordsWithAnIoException() throws Exception {
        FuzzReport report = FuzzCampaign.of("GenericDecoding")
                .inputs(FuzzCampaign.iterations(1))
                .maxAllocatedBytesPerInput(ALLOCATION_BOUND)
                .documenting(IOException.class)
                .run(everyEncoding(), 256, GenericDecoding::decode);
        assertTrue(report.clean(), report.failureSummary());
    }

    @Test
    void aRecordClaimingAGigabyteStringIsRefusedWithoutAllocatingIt() {
        byte[] valid = encode(SampleRecords.nodeMetrics());
        // The body's first field is nodeId: replace its length with 1 GiB, keep the rest.
        ByteArrayOutputStream forged = new ByteArrayOutputStream();
        forged.write(valid, 0, 10);
        Mutator.writeZigZag(forged, 1L << 30);
        forged.write(valid, 11, valid.length - 11);
        byte[] bytes = forged.toByteArray();

        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        SerializationException e = assertThrows(SerializationException.class,
                () -> AvroSerde.of(NodeMetrics.class).deserialize("pmig.metrics", bytes));
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertTrue(e.getMessage().contains("String length 1073741824 exceeds maximum allowed"), e.getMessage());
        assertTrue(allocated < 16L << 20, "allocated " + allocated + " bytes for a " + bytes.length + "-byte record");
        assertEquals(valid.length + 4, bytes.length, Arrays.toString(Arrays.copyOf(bytes, 16)));
    }
}
