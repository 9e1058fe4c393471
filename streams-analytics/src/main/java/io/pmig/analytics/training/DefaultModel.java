package io.pmig.analytics.training;

import io.pmig.schemas.ModelUpdate;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * The model pmig ships: trained by {@code pmig train --trace} from the recorded trace
 * ({@link TraceFile#DEFAULT_RESOURCE}); see streams-analytics/TRAINING.md to regenerate both. The demo
 * publishes it to pmig.models under {@link #KEY} at start-up, so analytics predicts from its first minute.
 */
public final class DefaultModel {

    public static final String RESOURCE = "/io/pmig/analytics/default-model.avro";
    /** The pmig.models key the analytics app reads by default ({@code analytics.model.key}). */
    public static final String KEY = "overload";

    private DefaultModel() {
    }

    public static ModelUpdate load() {
        try (InputStream in = DefaultModel.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("the default model " + RESOURCE + " is missing from the jar");
            }
            return ModelFile.read(in, RESOURCE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load the default model: " + e.getMessage(), e);
        }
    }
}
