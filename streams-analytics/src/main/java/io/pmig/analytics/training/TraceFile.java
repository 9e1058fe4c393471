package io.pmig.analytics.training;

import io.pmig.schemas.NodeMetrics;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import io.pmig.schemas.serde.SchemaCatalog;
import org.apache.avro.file.CodecFactory;
import org.apache.avro.file.DataFileStream;
import org.apache.avro.file.DataFileWriter;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;

/**
 * A recorded trace: the NodeMetrics of pmig.metrics in an Avro container file (schema in the header, so
 * {@code avro-tools tojson} reads it too), in the order they were read from the topic.
 */
public final class TraceFile {

    /** The trace recorded by {@code pmig record-trace} that the default model is trained from. */
    public static final String DEFAULT_RESOURCE = "/io/pmig/analytics/training/trace-default.avro";

    static {
        SchemaCatalog.store(); // its initializer makes Avro 1.12 trust pmig's generated classes, which readers instantiate
    }

    private TraceFile() {
    }

    public static void write(Path file, List<NodeMetrics> samples) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            try (DataFileWriter<NodeMetrics> writer = new DataFileWriter<>(new SpecificDatumWriter<>(NodeMetrics.class))) {
                writer.setCodec(CodecFactory.deflateCodec(9));
                writer.create(NodeMetrics.getClassSchema(), file.toFile());
                for (NodeMetrics sample : samples) {
                    writer.append(sample);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write trace " + file + ": " + e.getMessage(), e);
        }
    }

    public static List<NodeMetrics> read(Path file) {
        if (!Files.isRegularFile(file)) {
            String problem = "trace " + file + " does not exist or is not a file";
            throw new UncheckedIOException(problem, new IOException(problem));
        }
        try (InputStream in = Files.newInputStream(file)) {
            return read(in, file.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read trace " + file + ": " + e.getMessage(), e);
        }
    }

    /** The trace shipped in this jar. */
    public static List<NodeMetrics> readDefault() {
        try (InputStream in = TraceFile.class.getResourceAsStream(DEFAULT_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("the default trace " + DEFAULT_RESOURCE + " is missing from the jar");
            }
            return read(in, DEFAULT_RESOURCE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + DEFAULT_RESOURCE + ": " + e.getMessage(), e);
        }
    }

    private static List<NodeMetrics> read(InputStream in, String name) throws IOException {
        List<NodeMetrics> samples = new ArrayList<>();
        try (DataFileStream<NodeMetrics> reader = new DataFileStream<>(in, new SpecificDatumReader<>(NodeMetrics.class))) {
            reader.forEach(samples::add);
        } catch (IOException | RuntimeException e) {
            throw new IOException(name + " is not an Avro container file of NodeMetrics: " + e.getMessage(), e);
        }
        return samples;
    }
}
