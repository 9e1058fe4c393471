package io.pmig.analytics.training;

import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.serde.SchemaCatalog;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.avro.file.DataFileStream;
import org.apache.avro.file.DataFileWriter;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;

/** A trained model on disk: one {@link ModelUpdate} in an Avro container file, exactly what goes to pmig.models. */
public final class ModelFile {

    static {
        SchemaCatalog.store(); // its initializer makes Avro 1.12 trust pmig's generated classes, which readers instantiate
    }

    private ModelFile() {
    }

    public static void write(Path file, ModelUpdate update) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            try (DataFileWriter<ModelUpdate> writer = new DataFileWriter<>(new SpecificDatumWriter<>(ModelUpdate.class))) {
                writer.create(ModelUpdate.getClassSchema(), file.toFile());
                writer.append(update);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write model file " + file + ": " + e.getMessage(), e);
        }
    }

    public static ModelUpdate read(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return read(in, file.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read model file " + file + ": " + e.getMessage(), e);
        }
    }

    static ModelUpdate read(InputStream in, String name) throws IOException {
        try (DataFileStream<ModelUpdate> reader = new DataFileStream<>(in, new SpecificDatumReader<>(ModelUpdate.class))) {
            if (!reader.hasNext()) {
                throw new IOException(name + " holds no ModelUpdate");
            }
            return reader.next();
        } catch (RuntimeException e) {
            throw new IOException(name + " is not an Avro container file of ModelUpdate: " + e.getMessage(), e);
        }
    }
}
