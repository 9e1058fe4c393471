package io.pmig.executor.transfer;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** One migration's upload slot on the destination: one authenticated connection, then it is spent. */
public final class TransferSession implements AutoCloseable {

    private final String migrationId;
    private final Path directory;
    private final SessionHandler handler;
    private final TransferServer server;
    private final AtomicBoolean spent = new AtomicBoolean();
    private final CountDownLatch closed = new CountDownLatch(1);
    private final AtomicInteger files = new AtomicInteger();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicInteger entries = new AtomicInteger();
    private volatile String failure;

    TransferSession(String migrationId, Path directory, SessionHandler handler, TransferServer server) {
        this.migrationId = migrationId;
        this.directory = directory;
        this.handler = handler;
        this.server = server;
    }

    public String migrationId() {
        return migrationId;
    }

    public Path directory() {
        return directory;
    }

    SessionHandler handler() {
        return handler;
    }

    /** Claims the session for one authenticated connection; false if another one already did. */
    boolean claim() {
        return spent.compareAndSet(false, true);
    }

    /** True once a connection has claimed the session (the source got this far). */
    public boolean used() {
        return spent.get();
    }

    void received(long fileBytes) {
        files.incrementAndGet();
        bytes.addAndGet(fileBytes);
    }

    /** Counts every entry (files, directories, links, nodes) against the session's cap. */
    void entry() {
        entries.incrementAndGet();
    }

    int entriesSoFar() {
        return entries.get();
    }

    long bytesSoFar() {
        return bytes.get();
    }

    void finished(String failureOrNull) {
        failure = failureOrNull;
        server.forget(this); // before waking waiters: once closed, the migration id may open a new session
        closed.countDown();
    }

    /** Waits for the source's connection to end; true if it ended within the timeout. */
    public boolean awaitClosed(Duration timeout) throws InterruptedException {
        return closed.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Why the connection ended badly, or null if it ended with END (or has not ended). */
    public String failure() {
        return failure;
    }

    public TransferReceipt receipt() {
        return new TransferReceipt(files.get(), bytes.get());
    }

    @Override
    public void close() {
        spent.set(true);
        server.forget(this);
        closed.countDown();
    }
}
