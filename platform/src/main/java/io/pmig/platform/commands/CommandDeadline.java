package io.pmig.platform.commands;

import io.pmig.schemas.MigrationCommand;
import java.time.Duration;
import java.time.Instant;

/**
 * When a command stops being valid. Every producer stamps its commands with an issue time and a deadline; an
 * executor never acts on a command at or after its deadline, and a producer that waits for the outcome waits
 * until the deadline (plus {@link #SETTLE}), so its "nothing happened" stays true: a late executor refuses it.
 * Clocks of producers and executors must agree to well within {@link #SETTLE}.
 */
public final class CommandDeadline {

    /** Operator commands (launch, migrate, kill) and tools: how long an executor may take to pick one up. */
    public static final Duration OPERATOR_TTL = Duration.ofSeconds(30);
    /** A command written before deadlines existed (deadlineMs 0) expires this long after it was issued. */
    public static final Duration LEGACY_MAX_AGE = Duration.ofMinutes(5);
    /**
     * How long after the deadline a waiting producer still listens: covers the executor's first event reaching the
     * broker and clock skew. An executor that took the command before its deadline has said so by then.
     */
    public static final Duration SETTLE = Duration.ofSeconds(3);

    private CommandDeadline() {
    }

    /** Sets issuedAtMs = now and deadlineMs = now + ttl. */
    public static MigrationCommand.Builder stamp(MigrationCommand.Builder command, long nowMs, Duration ttl) {
        if (ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("a command's time to live must be positive: " + ttl);
        }
        return command.setIssuedAtMs(nowMs).setDeadlineMs(nowMs + ttl.toMillis());
    }

    /** The effective deadline, for legacy commands too. */
    public static long deadlineMs(MigrationCommand command) {
        return command.getDeadlineMs() > 0 ? command.getDeadlineMs()
                : command.getIssuedAtMs() + LEGACY_MAX_AGE.toMillis();
    }

    public static boolean expired(MigrationCommand command, long nowMs) {
        return nowMs >= deadlineMs(command);
    }

    /** One line for logs and events: "expired at 12:00:03.120Z (issued 12:00:00.000Z by pmig launch, 4.2 s ago)". */
    public static String describeExpiry(MigrationCommand command, long nowMs) {
        return "command " + command.getCommandId() + " expired at " + Instant.ofEpochMilli(deadlineMs(command))
                + " (issued " + Instant.ofEpochMilli(command.getIssuedAtMs())
                + (command.getIssuedBy() == null || command.getIssuedBy().isEmpty() ? "" : " by " + command.getIssuedBy())
                + ", " + String.format(java.util.Locale.ROOT, "%.1f", (nowMs - command.getIssuedAtMs()) / 1000.0)
                + " s ago); not acted on";
    }
}
