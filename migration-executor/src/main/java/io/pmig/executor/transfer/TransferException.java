package io.pmig.executor.transfer;

/**
 * A transfer that did not complete. Retriable failures (connection refused or cut) may be tried again;
 * refusals (authentication, checksum, size, path) will fail the same way again and end the migration.
 */
public final class TransferException extends Exception {

    private final boolean retriable;

    public TransferException(String message, boolean retriable) {
        super(message);
        this.retriable = retriable;
    }

    public TransferException(String message, boolean retriable, Throwable cause) {
        super(message, cause);
        this.retriable = retriable;
    }

    public boolean retriable() {
        return retriable;
    }
}
