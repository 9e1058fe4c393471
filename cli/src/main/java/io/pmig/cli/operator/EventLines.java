package io.pmig.cli.operator;

import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.PhaseTimings;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;

/** One readable line per event, as the operator CLI and the demo print them. */
public final class EventLines {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSS").withZone(ZoneId.systemDefault());

    private EventLines() {
    }

    public static String format(MigrationEvent event) {
        StringBuilder line = new StringBuilder()
                .append(TIME.format(Instant.ofEpochMilli(event.getTimestampMs()))).append(' ')
                .append(String.format("%-11s", event.getPhase())).append(' ')
                .append(event.getWorkloadId().isEmpty() ? "-" : event.getWorkloadId())
                .append(" on ").append(event.getNode());
        if (event.getSourceNode() != null && event.getDestinationNode() != null) {
            line.append(" (").append(event.getSourceNode()).append(" -> ").append(event.getDestinationNode());
            if (event.getMode() != null) {
                line.append(", ").append(event.getMode().toString().toLowerCase());
            }
            line.append(')');
        }
        if (!event.getMigrationId().equals(event.getCommandId())) {
            line.append(" mig=").append(event.getMigrationId());
        }
        PhaseTimings t = event.getTimings();
        if (t != null) {
            appendTiming(line, "freeze", t.getFreezeMs());
            appendTiming(line, "dump", t.getDumpMs());
            appendTiming(line, "transfer", t.getTransferMs());
            appendTiming(line, "restore", t.getRestoreMs());
            appendTiming(line, "downtime", t.getDowntimeMs());
            appendTiming(line, "total", t.getTotalMs());
        }
        if (event.getBytesMoved() > 0) {
            line.append(String.format(" moved=%.1fMiB", event.getBytesMoved() / 1048576.0));
        }
        if (event.getPid() > 0) {
            line.append(" pid=").append(event.getPid());
        }
        if (!event.getDetail().isEmpty()) {
            line.append(" - ").append(event.getDetail());
        }
        if (event.getError() != null) {
            line.append(" error: ").append(event.getError());
        }
        return line.toString();
    }

    private static void appendTiming(StringBuilder line, String name, long ms) {
        if (ms > 0) {
            line.append(' ').append(name).append('=').append(ms).append("ms");
        }
    }
}
