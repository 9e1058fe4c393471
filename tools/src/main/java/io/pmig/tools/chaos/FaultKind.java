package io.pmig.tools.chaos;

/** The faults the chaos harness injects, one per trial, in this rotation. */
public enum FaultKind {
    KILL_SOURCE("kill -9 the source executor, restart it on the same work dir"),
    KILL_DESTINATION("kill -9 the destination executor, restart it on the same work dir"),
    CUT_TRANSFER("sever the transfer connection mid-stream (proxy in front of the destination)"),
    CORRUPT_IMAGE("the destination's criu truncates the received core images before restoring them (a wrapper around the real criu)"),
    FAIL_RESTORE("the destination's criu restore really fails: a wrapper runs it with the workload's directory missing"),
    RESTART_BROKER("kill -9 the Kafka broker mid-migration, restart it on the same port and data dir"),
    DUPLICATE_COMMAND("deliver the MIGRATE command twice"),
    REPLAY_COMMANDS("re-produce every earlier record of pmig.commands"),
    WRONG_SECRET("one side's executor runs with a different transfer secret than the other"),
    INCOMPATIBLE_DESTINATION("the destination's criu refuses the restore (a wrapper runs the real criu restore with an LSM profile this host cannot apply)"),
    DESTINATION_DISK_FULL("the destination's work dir is a small tmpfs, filled so that the images cannot fit"),
    DUPLICATE_EXECUTOR("a second executor with the source's or destination's node id starts around the migration"),
    EXPIRED_COMMAND("a MIGRATE produced after the CLI waiting for it gave up (issued 121 s ago)"),
    RESTORE_FAILS_EVERYWHERE("a witness with a child in its own network namespace: dumps fine, no node can restore it"),
    STALL_BROKER_AT_COMMIT("SIGSTOP the Kafka broker for 40 s right after DUMPED: the destination's COMPLETED cannot be"
            + " acknowledged in time, yet may reach the log when the broker wakes");

    private final String description;

    FaultKind(String description) {
        this.description = description;
    }

    public String description() {
        return description;
    }

    /** The name used in reports and JSON. */
    public String key() {
        return name().toLowerCase();
    }
}
