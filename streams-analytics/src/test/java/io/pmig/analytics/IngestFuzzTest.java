package io.pmig.analytics;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.ingest.PlausibleSample;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.DeadLetter;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.fuzz.FuzzCampaign;
import io.pmig.schemas.fuzz.FuzzReport;
import io.pmig.schemas.serde.AvroSerde;
import io.pmig.schemas.serde.SampleRecords;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.TestInputTopic;
import org.junit.jupiter.api.Test;

/**
 * Mutated pmig.metrics and pmig.events records through the real topology: each one is either decoded and
 * processed (whatever odd but valid values it carries) or becomes exactly one dead letter on pmig.dlq holding
 * its bytes and a reason; the stream thread never fails nor hangs (it did, before {@link PlausibleSample}, on a
 * sample stamped Long.MAX_VALUE: the window loop's end overflowed). A TopologyTestDriver step per input, so this runs
 * {@code pmig.fuzz.iterations / 10} inputs per topic.
 */
class IngestFuzzTest {

    @Test
    void everyUndecodableRecordBecomesOneDeadLetterWithAReason() throws Exception {
        AvroSerde<NodeMetrics> metricsSerde = AvroSerde.of(NodeMetrics.class);
        AvroSerde<MigrationEvent> eventSerde = AvroSerde.of(MigrationEvent.class);
        long now = TopologyHarness.T0;
        List<byte[]> metricsCorpus = List.of(
                metricsSerde.encode(Samples.sample("node-1", now, 95, 0.5, Samples.workload("w-1", 80, 1 << 20, true))),
                metricsSerde.encode(Samples.sample("node-2", now + 1000, 10, 0.2)),
                metricsSerde.encode(SampleRecords.nodeMetrics()),
                // the input the watchdog caught hanging the window loop: timestampMs = Long.MAX_VALUE
                metricsSerde.encode(NodeMetrics.newBuilder(Samples.sample("node-1", now, 95, 0.5)).setTimestampMs(Long.MAX_VALUE).build()));
        List<byte[]> eventCorpus = List.of(eventSerde.encode(SampleRecords.migrationEvent()));
        try (TopologyHarness harness = new TopologyHarness(Map.of())) {
            for (var topic : List.of(
                    Map.entry(harness.metrics, Map.entry(metricsSerde, metricsCorpus)),
                    Map.entry(harness.events, Map.entry(eventSerde, eventCorpus)))) {
                TestInputTopic<String, byte[]> input = topic.getKey();
                AvroSerde<?> serde = topic.getValue().getKey();
                String name = input == harness.metrics ? Topic.METRICS.topicName() : Topic.EVENTS.topicName();
                FuzzReport report = FuzzCampaign.of("analytics ingest " + name)
                        .inputs(FuzzCampaign.iterations(10))
                        .run(topic.getValue().getValue(), 256, bytes -> {
                            boolean decodes;
                            try {
                                Object record = serde.decode(bytes);
                                // a sample stamped beyond the instance's clock is refused too (PlausibleSample)
                                decodes = !(record instanceof NodeMetrics sample)
                                        || PlausibleSample.problem(sample, System.currentTimeMillis()) == null;
                            } catch (SerializationException e) {
                                decodes = false;
                            }
                            input.pipeInput("fuzz", bytes);
                            List<KeyValue<String, DeadLetter>> dead = harness.deadLetters.readKeyValuesToList();
                            if (decodes != dead.isEmpty() || dead.size() > 1) {
                                throw new AssertionError((decodes ? "a decodable record was dead-lettered: " : "")
                                        + dead.size() + " dead letters for one input");
                            }
                            for (KeyValue<String, DeadLetter> letter : dead) {
                                DeadLetter d = letter.value;
                                if (!name.equals(letter.key) || d.getReason().isBlank()
                                        || !d.getValue().equals(ByteBuffer.wrap(bytes))) {
                                    throw new AssertionError("dead letter without its source, bytes or reason: " + d);
                                }
                            }
                        });
                assertTrue(report.clean(), report.failureSummary());
            }
        }
    }
}
