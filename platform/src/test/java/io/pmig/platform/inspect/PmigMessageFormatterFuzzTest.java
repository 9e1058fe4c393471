package io.pmig.platform.inspect;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.schemas.fuzz.FuzzCampaign;
import io.pmig.schemas.fuzz.FuzzReport;
import io.pmig.schemas.serde.AvroSerde;
import io.pmig.schemas.serde.SampleRecords;
import io.pmig.schemas.serde.SchemaCatalog;
import java.util.Map;
import java.util.Optional;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

/** The console formatter reads every topic, so any bytes at all must become one JSON line, never an exception. */
class PmigMessageFormatterFuzzTest {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void anyBytesBecomeOneJsonLineWithAValueOrAnError() throws Exception {
        PmigMessageFormatter formatter = new PmigMessageFormatter();
        formatter.configure(Map.of("print.offset", "true", "print.topic", "true"));
        var corpus = SampleRecords.everyType().stream()
                .map(r -> ((AvroSerde) AvroSerde.of(((SpecificRecordBase) r).getClass())).encode((SpecificRecordBase) r))
                .toList();
        long[] offset = {0};
        FuzzReport report = FuzzCampaign.of("PmigMessageFormatter")
                .inputs(FuzzCampaign.iterations(1))
                .maxAllocatedBytesPerInput(SchemaCatalog.MAX_BYTES + (16L << 20))
                .run(corpus, 256, input -> {
                    var record = new ConsumerRecord<>("pmig.fuzz", 0, offset[0]++, 0L, TimestampType.CREATE_TIME,
                            0, input.length, "k".getBytes(), input, new RecordHeaders(), Optional.empty());
                    JsonNode line = MAPPER.readTree(formatter.format(record));
                    if (line.has("error") == line.has("type")) {
                        throw new AssertionError("neither a decoded value nor an error: " + line);
                    }
                });
        assertTrue(report.clean(), report.failureSummary());
    }
}
