package io.pmig.analytics.decisions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.features.WindowFeatures;
import io.pmig.analytics.windows.NodeReport;
import io.pmig.analytics.windows.WorkloadLoad;
import io.pmig.schemas.NodeState;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.Serde;
import org.junit.jupiter.api.Test;

class DecisionCodecTest {

    private static final Serde<DecisionInput> SERDE = DecisionCodec.decisionInputSerde();

    private static Map<String, Double> windowFeatures() {
        Map<String, Double> features = new LinkedHashMap<>();
        for (int i = 0; i < WindowFeatures.NAMES.size(); i++) {
            features.put(WindowFeatures.NAMES.get(i), i * 1.5 + 0.25);
        }
        return features;
    }

    private static NodeReport report(Map<String, Double> features) {
        return new NodeReport("node-7", 1_000, 11_000, NodeState.OVERLOADED, 0.93, true, "model", "rf-1", features,
                4, 8L << 30, 3.5, 6L << 30, List.of(new WorkloadLoad("w-1", 1.25, 512L << 20, true)));
    }

    private static DecisionInput roundTrip(DecisionInput input) {
        return SERDE.deserializer().deserialize("t", SERDE.serializer().serialize("t", input));
    }

    @Test
    void theWindowStagesFeaturesTravelByPositionAndComeBackByName() {
        DecisionInput input = DecisionInput.of(report(windowFeatures()));
        assertEquals(input, roundTrip(input));
        assertEquals(WindowFeatures.NAMES, List.copyOf(roundTrip(input).report().features().keySet()));
    }

    @Test
    void aWorkloadsLatestCpuAndSlopeTravelWithItAndAreAbsentInOlderRecords() {
        NodeReport withTrend = new NodeReport("node-7", 1_000, 11_000, NodeState.OVERLOADED, 0.93, true, "model", "rf-1",
                windowFeatures(), 4, 8L << 30, 3.5, 6L << 30, List.of(new WorkloadLoad("w-1", 1.25, 512L << 20, true, 1.9, 0.08)));
        assertEquals(DecisionInput.of(withTrend), roundTrip(DecisionInput.of(withTrend)));
        // format 2 ends a workload at its migratable flag: read without them, the planner falls back to the mean
        byte[] bytes = SERDE.serializer().serialize("t", DecisionInput.of(report(windowFeatures())));
        byte[] formatTwo = new byte[bytes.length - 2];
        int workloadEnd = bytes.length - 4; // then two absent-value flags, then the flags of no outcome and no grant
        System.arraycopy(bytes, 0, formatTwo, 0, workloadEnd);
        System.arraycopy(bytes, workloadEnd + 2, formatTwo, workloadEnd, bytes.length - workloadEnd - 2);
        formatTwo[0] = 2;
        assertEquals(DecisionInput.of(report(windowFeatures())), SERDE.deserializer().deserialize("t", formatTwo));
    }

    @Test
    void positionalFeaturesCostEightBytesEach() {
        Map<String, Double> reordered = new LinkedHashMap<>();
        List<Map.Entry<String, Double>> entries = new ArrayList<>(windowFeatures().entrySet());
        Collections.reverse(entries);
        entries.forEach(e -> reordered.put(e.getKey(), e.getValue()));
        int positional = SERDE.serializer().serialize("t", DecisionInput.of(report(windowFeatures()))).length;
        int named = SERDE.serializer().serialize("t", DecisionInput.of(report(reordered))).length;
        assertTrue(named - positional > 300, "named " + named + " B, positional " + positional + " B");
    }

    @Test
    void otherFeatureMapsKeepTheirNamesAndNoFeaturesStayNone() {
        Map<String, Double> some = new LinkedHashMap<>();
        some.put("cpu_last", 97.0);
        some.put("mem_slope", null);
        assertEquals(DecisionInput.of(report(some)), roundTrip(DecisionInput.of(report(some))));
        assertEquals(DecisionInput.of(report(null)), roundTrip(DecisionInput.of(report(null))));
        DecisionInput outcome = DecisionInput.of(new ExecutorOutcome("c-1", "w-1", io.pmig.schemas.Phase.COMPLETED, "node-7", 42));
        assertEquals(outcome, roundTrip(outcome));
    }

    /** What an instance before format 2 left on the decision topic and in its changelog must still be read. */
    @Test
    void formatOneRecordsAreStillRead() throws IOException {
        NodeReport report = report(windowFeatures());
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(1);
            out.writeBoolean(true);
            string(out, report.nodeId());
            out.writeLong(report.windowStartMs());
            out.writeLong(report.windowEndMs());
            string(out, report.state().name());
            out.writeDouble(report.score());
            out.writeBoolean(report.overloaded());
            string(out, report.scorer());
            string(out, report.modelVersion());
            out.writeInt(report.features().size());
            for (Map.Entry<String, Double> feature : report.features().entrySet()) {
                string(out, feature.getKey());
                out.writeBoolean(true);
                out.writeDouble(feature.getValue());
            }
            out.writeDouble(report.cpuCapacity());
            out.writeLong(report.memCapacityBytes());
            out.writeDouble(report.cpuUsedCores());
            out.writeLong(report.memUsedBytes());
            out.writeInt(1);
            WorkloadLoad workload = report.workloads().get(0);
            string(out, workload.workloadId());
            out.writeDouble(workload.cpuCores());
            out.writeLong(workload.rssBytes());
            out.writeBoolean(workload.migratable());
            out.writeBoolean(false);
        }
        assertEquals(DecisionInput.of(report), SERDE.deserializer().deserialize("t", bytes.toByteArray()));
    }

    private static void string(DataOutputStream out, String value) throws IOException {
        out.writeBoolean(true);
        out.writeUTF(value);
    }
}
