package io.pmig.analytics.ingest;

import io.pmig.schemas.DeadLetter;

/** The outcome of decoding one input record: either the record or the dead letter that replaces it. */
public record Decoded<T>(T value, DeadLetter deadLetter) {

    public static <T> Decoded<T> ok(T value) {
        return new Decoded<>(value, null);
    }

    public static <T> Decoded<T> dead(DeadLetter deadLetter) {
        return new Decoded<>(null, deadLetter);
    }

    public boolean isDead() {
        return deadLetter != null;
    }
}
