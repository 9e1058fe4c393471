package io.pmig.analytics.decisions;

import io.pmig.analytics.JsonSerde;
import io.pmig.analytics.balancer.CellGrant;
import io.pmig.analytics.features.WindowFeatures;
import io.pmig.analytics.windows.NodeReport;
import io.pmig.analytics.windows.WorkloadLoad;
import io.pmig.schemas.NodeState;
import io.pmig.schemas.Phase;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;

/**
 * Binary encoding of the decision stage's high-volume records: every {@link DecisionInput} on the decision
 * topic (one per node per window advance) and every {@link NodeView} in its store. JSON was about a fifth of
 * the analytics CPU (mostly {@code Double.toString} of the features), this is a plain field dump.
 *
 * <p>A record starts with a format byte ({@value #FORMAT}); records written as JSON by earlier versions start
 * with '{' and are still read, so an upgraded instance restores and consumes what an older one left. Adding
 * a field means a new format byte, read alongside the old ones.
 *
 * <p>Format 2 writes a report's features by position when they are exactly {@link WindowFeatures#NAMES} in order
 * (every report the window stage makes): 8 bytes a feature instead of its name and value, about 400 bytes less per
 * report. Format 1 (names with every value) is still read and still written for any other feature map.
 *
 * <p>Format 3 adds each workload's latest CPU and CPU slope ({@link WorkloadLoad#cpuLastCores()}); formats 1 and 2
 * are read without them.
 */
public final class DecisionCodec {

    static final byte FORMAT = 3;
    private static final byte FORMAT_POSITIONAL_FEATURES = 2;
    private static final byte FORMAT_NAMED_FEATURES = 1;
    private static final byte FEATURES_NULL = 0;
    private static final byte FEATURES_NAMED = 1;
    private static final byte FEATURES_POSITIONAL = 2;
    private static final byte JSON_START = '{';

    private DecisionCodec() {
    }

    public static Serde<DecisionInput> decisionInputSerde() {
        JsonSerde<DecisionInput> legacy = JsonSerde.of(DecisionInput.class);
        return Serdes.serdeFrom(
                (topic, input) -> input == null ? null : encode(out -> writeInput(out, input)),
                (topic, bytes) -> bytes == null ? null
                        : bytes.length > 0 && bytes[0] == JSON_START ? legacy.deserialize(topic, bytes)
                        : decode(bytes, DecisionCodec::readInput));
    }

    public static Serde<NodeView> nodeViewSerde() {
        JsonSerde<NodeView> legacy = JsonSerde.of(NodeView.class);
        return Serdes.serdeFrom(
                (topic, view) -> view == null ? null : encode(out -> writeView(out, view)),
                (topic, bytes) -> bytes == null ? null
                        : bytes.length > 0 && bytes[0] == JSON_START ? legacy.deserialize(topic, bytes)
                        : decode(bytes, DecisionCodec::readView));
    }

    private interface Writer {
        void write(DataOutputStream out) throws IOException;
    }

    private interface Reader<T> {
        T read(DataInputStream in, byte format) throws IOException;
    }

    private static byte[] encode(Writer writer) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(512);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(FORMAT);
            writer.write(out);
        } catch (IOException e) {
            throw new SerializationException("cannot encode a decision record: " + e.getMessage(), e);
        }
        return bytes.toByteArray();
    }

    private static <T> T decode(byte[] bytes, Reader<T> reader) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            byte format = in.readByte();
            if (format != FORMAT && format != FORMAT_POSITIONAL_FEATURES && format != FORMAT_NAMED_FEATURES) {
                throw new SerializationException("unknown decision record format " + format);
            }
            return reader.read(in, format);
        } catch (IOException e) {
            throw new SerializationException("cannot decode a decision record: " + e.getMessage(), e);
        }
    }

    private static void writeInput(DataOutputStream out, DecisionInput input) throws IOException {
        out.writeBoolean(input.report() != null);
        if (input.report() != null) {
            writeReport(out, input.report());
        }
        ExecutorOutcome outcome = input.outcome();
        out.writeBoolean(outcome != null);
        if (outcome != null) {
            writeString(out, outcome.commandId());
            writeString(out, outcome.workloadId());
            writeString(out, outcome.phase() == null ? null : outcome.phase().name());
            writeString(out, outcome.node());
            out.writeLong(outcome.timestampMs());
        }
        // grants came after the first binary records: a record that ends here has none
        CellGrant grant = input.grant();
        out.writeBoolean(grant != null);
        if (grant != null) {
            writeString(out, grant.grantId());
            writeString(out, grant.fromCell());
            writeString(out, grant.toCell());
            out.writeLong(grant.issuedAtMs());
            out.writeLong(grant.expiresAtMs());
            out.writeInt(grant.rooms().size());
            for (CellGrant.GrantedRoom room : grant.rooms()) {
                writeString(out, room.nodeId());
                out.writeDouble(room.cpuCapacity());
                out.writeLong(room.memCapacityBytes());
                out.writeDouble(room.cpuUsedCores());
                out.writeLong(room.memUsedBytes());
                out.writeLong(room.windowEndMs());
                writeString(out, room.forNode());
                out.writeDouble(room.cpuCores());
                out.writeLong(room.memBytes());
            }
        }
    }

    private static DecisionInput readInput(DataInputStream in, byte format) throws IOException {
        NodeReport report = in.readBoolean() ? readReport(in, format) : null;
        ExecutorOutcome outcome = null;
        if (in.readBoolean()) {
            String commandId = readString(in);
            String workloadId = readString(in);
            String phase = readString(in);
            outcome = new ExecutorOutcome(commandId, workloadId, phase == null ? null : Phase.valueOf(phase), readString(in),
                    in.readLong());
        }
        CellGrant grant = null;
        if (in.available() > 0 && in.readBoolean()) {
            String grantId = readString(in);
            String fromCell = readString(in);
            String toCell = readString(in);
            long issuedAtMs = in.readLong();
            long expiresAtMs = in.readLong();
            int count = in.readInt();
            List<CellGrant.GrantedRoom> rooms = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                rooms.add(new CellGrant.GrantedRoom(readString(in), in.readDouble(), in.readLong(), in.readDouble(), in.readLong(),
                        in.readLong(), readString(in), in.readDouble(), in.readLong()));
            }
            grant = new CellGrant(grantId, fromCell, toCell, issuedAtMs, expiresAtMs, List.copyOf(rooms));
        }
        return new DecisionInput(report, outcome, grant);
    }

    private static void writeView(DataOutputStream out, NodeView view) throws IOException {
        out.writeBoolean(view.report() != null);
        if (view.report() != null) {
            writeReport(out, view.report());
        }
        out.writeInt(view.overloadStreak());
        out.writeLong(view.lastMigrationMs());
    }

    private static NodeView readView(DataInputStream in, byte format) throws IOException {
        NodeReport report = in.readBoolean() ? readReport(in, format) : null;
        return new NodeView(report, in.readInt(), in.readLong());
    }

    private static void writeReport(DataOutputStream out, NodeReport report) throws IOException {
        writeString(out, report.nodeId());
        out.writeLong(report.windowStartMs());
        out.writeLong(report.windowEndMs());
        writeString(out, report.state() == null ? null : report.state().name());
        out.writeDouble(report.score());
        out.writeBoolean(report.overloaded());
        writeString(out, report.scorer());
        writeString(out, report.modelVersion());
        writeFeatures(out, report.features());
        out.writeDouble(report.cpuCapacity());
        out.writeLong(report.memCapacityBytes());
        out.writeDouble(report.cpuUsedCores());
        out.writeLong(report.memUsedBytes());
        List<WorkloadLoad> workloads = report.workloads();
        out.writeInt(workloads == null ? -1 : workloads.size());
        if (workloads != null) {
            for (WorkloadLoad workload : workloads) {
                writeString(out, workload.workloadId());
                out.writeDouble(workload.cpuCores());
                out.writeLong(workload.rssBytes());
                out.writeBoolean(workload.migratable());
                writeNullable(out, workload.cpuLastCores());
                writeNullable(out, workload.cpuSlopeCores());
            }
        }
    }

    private static void writeFeatures(DataOutputStream out, Map<String, Double> features) throws IOException {
        if (features == null) {
            out.writeByte(FEATURES_NULL);
        } else if (isPositional(features)) {
            out.writeByte(FEATURES_POSITIONAL);
            for (Double value : features.values()) {
                out.writeDouble(value);
            }
        } else {
            out.writeByte(FEATURES_NAMED);
            writeNamedFeatures(out, features);
        }
    }

    /** Exactly the window stage's features, in its order, none missing: the names can be left out. */
    private static boolean isPositional(Map<String, Double> features) {
        if (features.size() != WindowFeatures.NAMES.size()) {
            return false;
        }
        int i = 0;
        for (Map.Entry<String, Double> feature : features.entrySet()) {
            if (feature.getValue() == null || !feature.getKey().equals(WindowFeatures.NAMES.get(i++))) {
                return false;
            }
        }
        return true;
    }

    private static void writeNamedFeatures(DataOutputStream out, Map<String, Double> features) throws IOException {
        out.writeInt(features.size());
        for (Map.Entry<String, Double> feature : features.entrySet()) {
            writeString(out, feature.getKey());
            out.writeBoolean(feature.getValue() != null);
            if (feature.getValue() != null) {
                out.writeDouble(feature.getValue());
            }
        }
    }

    private static Map<String, Double> readFeatures(DataInputStream in, byte format) throws IOException {
        if (format == FORMAT_NAMED_FEATURES) {
            return readNamedFeatures(in, in.readInt());
        }
        byte kind = in.readByte();
        switch (kind) {
            case FEATURES_NULL:
                return null;
            case FEATURES_NAMED:
                return readNamedFeatures(in, in.readInt());
            case FEATURES_POSITIONAL:
                Map<String, Double> features = new LinkedHashMap<>();
                for (String name : WindowFeatures.NAMES) {
                    features.put(name, in.readDouble());
                }
                return features;
            default:
                throw new SerializationException("unknown feature encoding " + kind + " in a decision record");
        }
    }

    /** Format 1's layout: a count (-1 for none), then each name, a presence flag and the value. */
    private static Map<String, Double> readNamedFeatures(DataInputStream in, int count) throws IOException {
        if (count < 0) {
            return null;
        }
        Map<String, Double> features = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            String name = readString(in);
            features.put(name, in.readBoolean() ? in.readDouble() : null);
        }
        return features;
    }

    private static NodeReport readReport(DataInputStream in, byte format) throws IOException {
        String nodeId = readString(in);
        long windowStartMs = in.readLong();
        long windowEndMs = in.readLong();
        String state = readString(in);
        double score = in.readDouble();
        boolean overloaded = in.readBoolean();
        String scorer = readString(in);
        String modelVersion = readString(in);
        Map<String, Double> features = readFeatures(in, format);
        double cpuCapacity = in.readDouble();
        long memCapacityBytes = in.readLong();
        double cpuUsedCores = in.readDouble();
        long memUsedBytes = in.readLong();
        int workloadCount = in.readInt();
        List<WorkloadLoad> workloads = null;
        if (workloadCount >= 0) {
            workloads = new ArrayList<>(workloadCount);
            for (int i = 0; i < workloadCount; i++) {
                WorkloadLoad workload = new WorkloadLoad(readString(in), in.readDouble(), in.readLong(), in.readBoolean());
                workloads.add(format < FORMAT ? workload : new WorkloadLoad(workload.workloadId(), workload.cpuCores(),
                        workload.rssBytes(), workload.migratable(), readNullable(in), readNullable(in)));
            }
        }
        return new NodeReport(nodeId, windowStartMs, windowEndMs, state == null ? null : NodeState.valueOf(state), score,
                overloaded, scorer, modelVersion, features, cpuCapacity, memCapacityBytes, cpuUsedCores, memUsedBytes, workloads);
    }

    private static void writeNullable(DataOutputStream out, Double value) throws IOException {
        out.writeBoolean(value != null);
        if (value != null) {
            out.writeDouble(value);
        }
    }

    private static Double readNullable(DataInputStream in) throws IOException {
        return in.readBoolean() ? in.readDouble() : null;
    }

    private static void writeString(DataOutputStream out, String value) throws IOException {
        out.writeBoolean(value != null);
        if (value != null) {
            out.writeUTF(value);
        }
    }

    private static String readString(DataInputStream in) throws IOException {
        return in.readBoolean() ? in.readUTF() : null;
    }
}
