package io.pmig.executor.events;

import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.slf4j.Logger;

/**
 * The outages of one of the executor's Kafka readers (its commands, its peers' events). A reader that ended on a
 * client error would leave its node heartbeating but deaf - to commands, or to the events every migration waits for -
 * until restarted, so every error that is not the reader's own closing is an outage to wait out: a broker away longer
 * than a metadata call waits, an ACL or credential an operator is still fixing, a batch the broker could not serve.
 * One WARN per outage, then 200 ms doubling up to 5 s between tries.
 */
public final class ReaderOutages {

    private static final long FIRST_PAUSE_MS = 200;
    private static final long LONGEST_PAUSE_MS = 5_000;
    /** A poll can return empty before its fetch was answered: the outage is over only after this long without one. */
    private static final long OVER_AFTER_MS = 5_000;

    private final Logger log;
    private final String reader;
    private int failuresInARow;
    private long lastFailureNanos;
    private boolean dead;
    private long outages;

    /** {@code reader} names it in the log lines, e.g. "command reader". */
    public ReaderOutages(Logger log, String reader) {
        this.log = log;
        this.reader = reader;
    }

    /** Notes a failed try; returns how long to wait before the next one. */
    public synchronized long failed(KafkaException e) {
        lastFailureNanos = System.nanoTime();
        if (failuresInARow++ == 0) {
            outages++;
            log.warn("{} cannot read ({}); retrying until it can{}", reader, e.toString(), whatToDo(e));
        }
        return Math.min(LONGEST_PAUSE_MS, FIRST_PAUSE_MS << Math.min(failuresInARow - 1, 5));
    }

    /** Notes a try that worked: the outage, if any, is over once no try failed for a while. */
    public synchronized void succeeded() {
        if (failuresInARow > 0 && System.nanoTime() - lastFailureNanos >= OVER_AFTER_MS * 1_000_000) {
            log.info("{} reads again after {} failed tries", reader, failuresInARow);
            failuresInARow = 0;
        }
    }

    /** True while the reader is in an outage (its last try failed, or one did within the last few seconds), or dead. */
    public synchronized boolean failing() {
        return failuresInARow > 0 || dead;
    }

    /**
     * The reader ended on something no retry can fix (a bug, an Error): said once at ERROR with what to do, and
     * {@link #failing()} from now on, so the meter an alert watches stays up.
     */
    public synchronized void died(Throwable e) {
        dead = true;
        log.error("{} stopped on an unexpected error ({}); this node is deaf to it until its executor is restarted"
                + " - restart it, and report the error", reader, e.toString(), e);
    }

    /** Outages so far (each a run of failed tries). */
    public synchronized long outages() {
        return outages;
    }

    private static String whatToDo(KafkaException e) {
        if (e instanceof AuthorizationException) {
            return " - grant this executor's principal READ and DESCRIBE on the topic and READ on its consumer group";
        }
        if (e instanceof AuthenticationException) {
            return " - check the executor's Kafka credentials (kafka.* keys of its config)";
        }
        return "";
    }
}
