package io.pmig.cli.chaos;

/** The faults the chaos harness injects, one per trial, in this rotation. */
public enum FaultKind {
    KILL_SOURCE("kill -9 the source executor, restart it on the same work dir"),
    KILL_DESTINATION("kill -9 the destination executor, restart it on the same work dir"),
    CUT_TRANSFER("sever the transfer connection mid-stream (proxy in front of the destination)"),
    CORRUPT_IMAGE("the destination truncates received core images (--inject-restore-fault corrupt-images)"),
    FAIL_RESTORE("the destination's criu restore fails (--inject-restore-fault fail-restore)"),
    RESTART_BROKER("kill -9 the Kafka broker mid-migration, restart it on the same port and data dir"),
    DUPLICATE_COMMAND("deliver the MIGRATE command twice"),
    REPLAY_COMMANDS("re-produce every earlier record of pmig.commands");

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
