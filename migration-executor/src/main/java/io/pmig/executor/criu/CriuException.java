package io.pmig.executor.criu;

/** A criu invocation that failed; the message carries the error lines of criu's own log. */
public final class CriuException extends Exception {

    public CriuException(String message) {
        super(message);
    }

    public CriuException(String message, Throwable cause) {
        super(message, cause);
    }
}
