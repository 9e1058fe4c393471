package io.pmig.schemas.features;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.schemas.NodeScore;
import io.pmig.schemas.NodeState;
import io.pmig.schemas.serde.AvroSerde;
import io.pmig.schemas.serde.GenericDecoding;
import io.pmig.schemas.serde.SchemaCatalog;
import java.io.InputStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class FeatureLayoutTest {

    private static final AvroSerde<NodeScore> SERDE = AvroSerde.of(NodeScore.class);

    @BeforeAll
    static void trustPmigClasses() {
        SchemaCatalog.trustPmigClasses();
    }

    private static double[] values(int count) {
        double[] values = new double[count];
        for (int i = 0; i < count; i++) {
            values[i] = i * 1.5 - 3.25;
        }
        return values;
    }

    private static NodeScore.Builder score() {
        return NodeScore.newBuilder().setNodeId("node-12").setWindowStartMs(1_700_000_000_000L).setWindowEndMs(1_700_000_010_000L)
                .setScore(0.83).setOverloaded(true).setState(NodeState.OVERLOADED).setScorer("model").setModelVersion("rf-3")
                .setTimestampMs(1_700_000_010_000L);
    }

    @Test
    void theWindowFeaturesGoByPositionAndReadBackByNameInOrder() {
        List<String> names = FeatureLayout.V1.names();
        double[] values = values(names.size());
        NodeScore written = FeatureLayout.setFeatures(score(), names, values).build();

        NodeScore read = SERDE.decode(SERDE.encode(written));

        assertEquals(1, read.getFeatureLayout());
        assertTrue(read.getFeatures().isEmpty(), "no names on the wire");
        assertEquals(names, List.copyOf(FeatureLayout.byName(read).keySet()));
        for (int i = 0; i < names.size(); i++) {
            assertEquals(values[i], FeatureLayout.byName(read).get(names.get(i)), 0.0, names.get(i));
            assertEquals(values[i], FeatureLayout.feature(read, names.get(i)), 0.0, names.get(i));
        }
        assertNull(FeatureLayout.feature(read, "no_such_feature"));
    }

    @Test
    void positionsCostAboutAThirdOfNames() {
        List<String> names = FeatureLayout.V1.names();
        double[] values = values(names.size());
        Map<String, Double> byName = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            byName.put(names.get(i), values[i]);
        }
        int positional = SERDE.encode(FeatureLayout.setFeatures(score(), names, values).build()).length;
        int named = SERDE.encode(score().setFeatures(byName).build()).length;
        assertTrue(positional < named - 22 * 10, positional + " bytes by position vs " + named + " by name");
    }

    @Test
    void featuresNoLayoutListsGoByName() {
        List<String> names = List.of("cpu_mean", "something_new");
        NodeScore read = SERDE.decode(SERDE.encode(FeatureLayout.setFeatures(score(), names, new double[] {91.0, 2.5}).build()));

        assertEquals(FeatureLayout.BY_NAME, read.getFeatureLayout());
        assertTrue(read.getFeatureValues().isEmpty());
        assertEquals(Map.of("cpu_mean", 91.0, "something_new", 2.5), FeatureLayout.byName(read));
        assertEquals(2.5, FeatureLayout.feature(read, "something_new"), 0.0);
        assertThrows(IllegalArgumentException.class, () -> FeatureLayout.setFeatures(score(), names, new double[] {1.0}));
    }

    @Test
    void aScoreWrittenWithSchemaVersion1ReadsByNameFromItsMap() throws Exception {
        Schema v1;
        try (InputStream in = getClass().getResourceAsStream("/io/pmig/schemas/history/NodeScore-v1.avsc")) {
            v1 = new Schema.Parser().parse(in);
        }
        GenericRecord written = new GenericData.Record(v1);
        for (Schema.Field field : v1.getFields()) {
            if (field.hasDefaultValue()) {
                written.put(field.name(), GenericData.get().getDefaultValue(field));
            }
        }
        written.put("nodeId", "node-old");
        written.put("windowStartMs", 1000L);
        written.put("windowEndMs", 11_000L);
        written.put("features", Map.of("cpu_mean", 91.0, "cpu_last", 97.0));
        written.put("score", 0.9);
        written.put("timestampMs", 11_000L);
        byte[] bytes = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v1).encode(written).array();

        NodeScore read = SERDE.deserialize("pmig.scores", bytes);

        assertEquals("node-old", read.getNodeId());
        assertEquals(FeatureLayout.BY_NAME, read.getFeatureLayout(), "the new field takes its default");
        assertEquals(Map.of("cpu_mean", 91.0, "cpu_last", 97.0), FeatureLayout.byName(read));
        assertEquals(97.0, FeatureLayout.feature(read, "cpu_last"), 0.0);
        assertNull(FeatureLayout.byName(GenericDecoding.decode(bytes)), "generically: the map is already by name");
    }

    @Test
    void aGenericallyDecodedScoreIsNamedByItsLayout() throws Exception {
        List<String> names = FeatureLayout.V1.names();
        byte[] bytes = SERDE.encode(FeatureLayout.setFeatures(score(), names, values(names.size())).build());

        Map<String, Double> byName = FeatureLayout.byName(GenericDecoding.decode(bytes));

        assertEquals(names, List.copyOf(byName.keySet()));
        assertEquals(values(names.size())[21], byName.get("sample_gap_max_s"), 0.0);
    }

    @Test
    void aLayoutThisBuildDoesNotKnowIsAClearError() {
        NodeScore fromTheFuture = score().setFeatureLayout(99).setFeatureValues(List.of(1.0, 2.0)).build();
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> FeatureLayout.byName(fromTheFuture));
        assertTrue(unknown.getMessage().contains("layout 99") && unknown.getMessage().contains("upgrade"), unknown.getMessage());
        assertNull(FeatureLayout.feature(fromTheFuture, "cpu_mean"));

        NodeScore cut = score().setFeatureLayout(1).setFeatureValues(List.of(1.0, 2.0)).build();
        IllegalArgumentException mismatch = assertThrows(IllegalArgumentException.class, () -> FeatureLayout.byName(cut));
        assertTrue(mismatch.getMessage().contains("2 feature values"), mismatch.getMessage());
    }
}
