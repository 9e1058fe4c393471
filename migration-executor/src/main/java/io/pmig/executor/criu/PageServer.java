package io.pmig.executor.criu;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** A running {@code criu page-server}: it serves exactly one dump and then exits by itself. */
public final class PageServer implements AutoCloseable {

    private final Process process;
    private final Path logFile;

    PageServer(Process process, Path logFile) {
        this.process = process;
        this.logFile = logFile;
    }

    /** Waits for the page server to finish receiving; fails if it exited with an error or is still running. */
    public void awaitFinished(Duration timeout) throws CriuException {
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new CriuException("criu page-server still running after " + timeout);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CriuException("interrupted while waiting for the page server", e);
        }
        if (process.exitValue() != 0) {
            throw new CriuException("criu page-server failed (exit " + process.exitValue() + "): " + Criu.errorLines(logFile));
        }
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
        }
    }
}
