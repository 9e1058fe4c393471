package io.pmig.cli.dashboard;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.Phase;
import io.pmig.schemas.ProcessSample;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What the dashboard shows, folded from the topics: per-node series of CPU, memory and score, where each
 * workload runs, one timeline entry per migration with its phases, a bounded event feed, and the model.
 */
final class DashboardState {

    private static final int SERIES_POINTS = 300;
    private static final int FEED_EVENTS = 500;
    private static final int TIMELINE_MIGRATIONS = 100;
    private static final Set<Phase> MIGRATION_PHASES = EnumSet.of(Phase.ACCEPTED, Phase.PREPARED, Phase.FROZEN,
            Phase.DUMPED, Phase.TRANSFERRED, Phase.RESTORED, Phase.COMPLETED, Phase.ROLLED_BACK, Phase.FAILED);

    private record Point(long t, double cpu, double mem, double score) {
    }

    private final ObjectMapper json = new ObjectMapper();
    private final Map<String, Deque<Point>> series = new TreeMap<>();
    private final Map<String, NodeMetrics> latestMetrics = new TreeMap<>();
    private final Map<String, NodeScore> latestScores = new TreeMap<>();
    private final Map<String, ObjectNode> workloads = new TreeMap<>();
    private final LinkedHashMap<String, ObjectNode> migrations = new LinkedHashMap<>();
    private final Deque<ObjectNode> feed = new ArrayDeque<>();
    private ModelUpdate model;
    private long feedSeq;

    synchronized void onMetrics(NodeMetrics m) {
        latestMetrics.put(m.getNodeId(), m);
        NodeScore score = latestScores.get(m.getNodeId());
        double mem = m.getMemTotalBytes() > 0 ? 100.0 * m.getMemUsedBytes() / m.getMemTotalBytes() : 0;
        append(m.getNodeId(), new Point(m.getTimestampMs(), m.getCpuPercent(), mem, score == null ? Double.NaN : score.getScore()));
        for (ProcessSample p : m.getProcesses()) {
            if (p.getWorkloadId() != null) {
                ObjectNode w = workloads.computeIfAbsent(p.getWorkloadId(), id -> json.createObjectNode().put("id", id));
                w.put("node", m.getNodeId()).put("pid", p.getPid()).put("cpu", p.getCpuPercent())
                        .put("rssMiB", p.getRssBytes() / 1048576.0).put("name", p.getName())
                        .put("migratable", p.getMigratable()).put("seenMs", m.getTimestampMs())
                        .put("address", p.getAddress() == null ? "node's" : p.getAddress());
            }
        }
    }

    synchronized void onScore(NodeScore s) {
        latestScores.put(s.getNodeId(), s);
    }

    synchronized void onModel(ModelUpdate update) {
        model = update;
        addFeed("INFO", update.getTrainedAtMs(), "model", "model " + update.getVersion() + " published (f1="
                + update.getMetrics().getOrDefault("f1", Double.NaN) + ")");
    }

    synchronized void onEvent(MigrationEvent e, String line) {
        String level = switch (e.getPhase()) {
            case FAILED, LAUNCH_FAILED, LOST -> "ERROR";
            case ROLLED_BACK, NODE_DOWN, EXITED -> "WARN";
            default -> "INFO";
        };
        addFeed(level, e.getTimestampMs(), e.getNode(), line);
        if (e.getPhase() == Phase.KILLED || e.getPhase() == Phase.EXITED || e.getPhase() == Phase.FORGOTTEN) {
            workloads.remove(e.getWorkloadId());
        }
        if (!MIGRATION_PHASES.contains(e.getPhase()) || e.getSourceNode() == null || e.getDestinationNode() == null) {
            return;
        }
        ObjectNode migration = migrations.computeIfAbsent(e.getMigrationId(), id -> {
            ObjectNode m = json.createObjectNode().put("id", id).put("workload", e.getWorkloadId())
                    .put("from", e.getSourceNode()).put("to", e.getDestinationNode())
                    .put("mode", e.getMode() == null ? "" : e.getMode().toString()).put("startMs", e.getTimestampMs());
            m.putArray("phases");
            return m;
        });
        ((ArrayNode) migration.get("phases")).addObject().put("phase", e.getPhase().toString())
                .put("node", e.getNode()).put("t", e.getTimestampMs());
        if (e.getPhase() == Phase.COMPLETED || e.getPhase() == Phase.ROLLED_BACK || e.getPhase() == Phase.FAILED) {
            migration.put("outcome", e.getPhase().toString()).put("endMs", e.getTimestampMs());
            var t = e.getTimings();
            if (t != null) {
                migration.putObject("timings").put("freezeMs", t.getFreezeMs()).put("dumpMs", t.getDumpMs())
                        .put("transferMs", t.getTransferMs()).put("restoreMs", t.getRestoreMs())
                        .put("downtimeMs", t.getDowntimeMs()).put("totalMs", t.getTotalMs());
            }
            if (e.getError() != null) {
                migration.put("error", e.getError());
            }
        }
        while (migrations.size() > TIMELINE_MIGRATIONS) {
            migrations.remove(migrations.keySet().iterator().next());
        }
    }

    private void append(String node, Point point) {
        Deque<Point> points = series.computeIfAbsent(node, n -> new ArrayDeque<>());
        points.addLast(point);
        while (points.size() > SERIES_POINTS) {
            points.removeFirst();
        }
    }

    private void addFeed(String level, long t, String source, String text) {
        feed.addLast(json.createObjectNode().put("seq", ++feedSeq).put("level", level).put("t", t)
                .put("source", source).put("text", text));
        while (feed.size() > FEED_EVENTS) {
            feed.removeFirst();
        }
    }

    private String state(String id, long nowMs, long downAfterMs) {
        NodeScore score = latestScores.get(id);
        return nowMs - latestMetrics.get(id).getTimestampMs() > downAfterMs ? "DOWN" : score == null ? "UP" : score.getState().toString();
    }

    /** The hottest first: overloaded nodes, then by score, then by CPU; DOWN nodes last. */
    private java.util.List<String> hottest(long nowMs, long downAfterMs) {
        Map<String, String> states = new TreeMap<>();
        latestMetrics.keySet().forEach(id -> states.put(id, state(id, nowMs, downAfterMs)));
        java.util.Comparator<String> order = java.util.Comparator
                .comparingInt((String id) -> switch (states.get(id)) {
                    case "OVERLOADED" -> 0;
                    case "DOWN" -> 2;
                    default -> 1;
                })
                .thenComparingDouble(id -> latestScores.containsKey(id) ? -latestScores.get(id).getScore() : 0)
                .thenComparingDouble(id -> -latestMetrics.get(id).getCpuPercent())
                .thenComparing(id -> id);
        return states.keySet().stream().sorted(order).toList();
    }

    /**
     * The page's state: the {@code top} hottest nodes with their series and workloads, and a summary of all of them
     * (how many in each state), so the page stays the same size however many nodes the cluster has.
     */
    synchronized ObjectNode toJson(long nowMs, long downAfterMs, int top) {
        ObjectNode root = json.createObjectNode().put("now", nowMs);
        java.util.List<String> ranked = hottest(nowMs, downAfterMs);
        java.util.List<String> shown = ranked.subList(0, Math.min(top, ranked.size()));
        ObjectNode summary = root.putObject("summary").put("nodes", ranked.size()).put("shown", shown.size())
                .put("workloads", workloads.size());
        ObjectNode byState = summary.putObject("byState");
        ranked.forEach(id -> {
            String state = state(id, nowMs, downAfterMs);
            byState.put(state, byState.path(state).asInt() + 1);
        });
        ObjectNode nodes = root.putObject("nodes");
        for (String id : shown) {
            NodeMetrics m = latestMetrics.get(id);
            ObjectNode node = nodes.putObject(id);
            NodeScore score = latestScores.get(id);
            node.put("state", state(id, nowMs, downAfterMs))
                    .put("cpu", m.getCpuPercent()).put("mode", m.getMode().toString())
                    .put("capacityCpus", m.getCapacity().getCpus())
                    .put("memUsedMiB", m.getMemUsedBytes() / 1048576.0).put("memTotalMiB", m.getMemTotalBytes() / 1048576.0)
                    .put("lastSeenMs", m.getTimestampMs());
            if (score != null) {
                node.put("score", score.getScore()).put("scorer", score.getScorer())
                        .put("modelVersion", score.getModelVersion());
            }
            ArrayNode points = node.putArray("series");
            for (Point p : series.getOrDefault(id, new ArrayDeque<>())) {
                points.addArray().add(p.t).add(round(p.cpu)).add(round(p.mem)).add(Double.isNaN(p.score) ? null : round(p.score));
            }
        }
        ArrayNode wl = root.putArray("workloads");
        Set<String> shownSet = Set.copyOf(shown);
        workloads.values().stream().filter(w -> shownSet.contains(w.path("node").asText())).forEach(wl::add);
        ArrayNode timeline = root.putArray("migrations");
        migrations.values().forEach(timeline::add);
        ArrayNode events = root.putArray("events");
        feed.forEach(events::add);
        if (model != null) {
            ObjectNode m = root.putObject("model").put("version", model.getVersion()).put("trainedAtMs", model.getTrainedAtMs());
            ObjectNode metrics = m.putObject("metrics");
            model.getMetrics().forEach(metrics::put);
        }
        return root;
    }

    private static Double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
