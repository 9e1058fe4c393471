package io.pmig.analytics.training;

import io.pmig.platform.commands.CommandDeadline;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The stretches of each node's history whose labels a migration decided: from {@code horizon} before a MIGRATE off
 * the node was issued until the move ended (COMPLETED, ROLLED_BACK or FAILED on pmig.events). A window of such a
 * stretch would be labelled by what happened after the move, not by what the node was heading for, so pmig's own
 * successes would teach the next model that those run-ups are harmless. The dataset leaves these windows out
 * (see TRAINING.md, "Replays and migrations").
 *
 * @param byNode each node's censored intervals
 */
public record Censoring(Map<String, List<Interval>> byNode) {

    public static final Censoring NONE = new Censoring(Map.of());

    /**
     * Windows ending at or after {@code fromMs} and starting before {@code untilMs} are censored: the first window
     * kept after a move is the first one whose samples all come after the move ended.
     *
     * @param commandId the MIGRATE that caused it
     */
    public record Interval(long fromMs, long untilMs, String commandId) {
    }

    /**
     * @param commands  what pmig.commands held (other kinds than MIGRATE are ignored)
     * @param events    what pmig.events held
     * @param horizonMs the label's horizon
     */
    public static Censoring of(List<MigrationCommand> commands, List<MigrationEvent> events, long horizonMs) {
        Map<String, Long> ended = new HashMap<>();
        Map<String, Long> lastEvent = new HashMap<>();
        for (MigrationEvent event : events) {
            String id = event.getCommandId().toString();
            lastEvent.merge(id, event.getTimestampMs(), Math::max);
            if (event.getPhase() == Phase.COMPLETED || event.getPhase() == Phase.ROLLED_BACK || event.getPhase() == Phase.FAILED) {
                ended.merge(id, event.getTimestampMs(), Math::min);
            }
        }
        Map<String, List<Interval>> byNode = new TreeMap<>();
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (MigrationCommand command : commands) {
            // a MIGRATE is on the topic twice: as issued, and its source's copy for the destination (CommandRouting)
            if (command.getKind() != CommandKind.MIGRATE || command.getSourceNode() == null
                    || !seen.add(command.getCommandId().toString())) {
                continue;
            }
            String id = command.getCommandId().toString();
            // No end seen: the move was never taken up (it expired at its deadline) or is still running when the replay
            // stopped; either way nothing later than the deadline or its last event can be trusted to be unaffected.
            long until = ended.getOrDefault(id, Math.max(CommandDeadline.deadlineMs(command),
                    lastEvent.getOrDefault(id, Long.MIN_VALUE)));
            byNode.computeIfAbsent(command.getSourceNode().toString(), n -> new ArrayList<>())
                    .add(new Interval(command.getIssuedAtMs() - horizonMs, until, id));
        }
        byNode.replaceAll((node, intervals) -> Collections.unmodifiableList(intervals));
        return new Censoring(Collections.unmodifiableMap(byNode));
    }

    /** Whether a window of the node from startMs to endMs is censored. */
    public boolean censors(String node, long startMs, long endMs) {
        for (Interval interval : byNode.getOrDefault(node, List.of())) {
            if (endMs >= interval.fromMs() && startMs < interval.untilMs()) {
                return true;
            }
        }
        return false;
    }

    public int migrations() {
        return byNode.values().stream().mapToInt(List::size).sum();
    }
}
