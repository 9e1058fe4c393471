package io.pmig.systemtest;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;

/** Polling for the system tests: containers answer in seconds to minutes, so every wait names what it waits for. */
final class Await {

    private Await() {
    }

    @FunctionalInterface
    interface Condition {
        boolean holds() throws Exception;
    }

    /** A value once it exists: null means "not yet". */
    @FunctionalInterface
    interface Probe<T> {
        T get() throws Exception;
    }

    static void until(String what, Duration timeout, Condition condition) throws Exception {
        value(what, timeout, () -> condition.holds() ? Boolean.TRUE : null);
    }

    static <T> T value(String what, Duration timeout, Probe<T> probe) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            T value = probe.get();
            if (value != null) {
                return value;
            }
            if (System.nanoTime() > deadline) {
                fail("timed out after " + timeout.toSeconds() + " s waiting for " + what);
            }
            Thread.sleep(500);
        }
    }
}
