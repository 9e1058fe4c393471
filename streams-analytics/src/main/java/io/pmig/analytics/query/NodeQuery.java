package io.pmig.analytics.query;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.schemas.NodeState;
import io.pmig.schemas.NodeScore;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The parameters of {@code GET /nodes}: {@code state} (hot = overloaded, or up, overloaded, down), {@code sort} (id,
 * the default, pages with {@code after=<node id>}; score: the highest first), {@code limit} (default
 * {@value #DEFAULT_LIMIT}, at most {@value #MAX_LIMIT}) and {@code fields} (compact, the default: id, state, score and
 * the latest CPU and memory; full: every feature). Each instance answers its own part with the same parameters and
 * the receiving one merges: the first {@code limit} of the union in the same order.
 */
record NodeQuery(String state, boolean byScore, String after, int limit, boolean full) {

    static final int DEFAULT_LIMIT = 1000;
    static final int MAX_LIMIT = 10_000;

    /** Parses a raw query string; an unknown parameter or a bad value is an IllegalArgumentException naming it. */
    static NodeQuery parse(String rawQuery) {
        Map<String, String> params = new LinkedHashMap<>();
        if (rawQuery != null && !rawQuery.isEmpty()) {
            for (String pair : rawQuery.split("&")) {
                int eq = pair.indexOf('=');
                String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                params.put(key, eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        String state = null;
        boolean byScore = false;
        String after = null;
        int limit = DEFAULT_LIMIT;
        boolean full = false;
        for (Map.Entry<String, String> param : params.entrySet()) {
            String value = param.getValue();
            switch (param.getKey()) {
                case "scope" -> { }
                case "state" -> {
                    state = value.toLowerCase(Locale.ROOT);
                    if (!List.of("hot", "up", "overloaded", "down").contains(state)) {
                        throw new IllegalArgumentException("state: '" + value + "' is not hot, up, overloaded or down");
                    }
                }
                case "sort" -> {
                    if (!value.equals("id") && !value.equals("score")) {
                        throw new IllegalArgumentException("sort: '" + value + "' is not id or score");
                    }
                    byScore = value.equals("score");
                }
                case "after" -> after = value;
                case "limit" -> {
                    try {
                        limit = Integer.parseInt(value);
                    } catch (NumberFormatException e) {
                        limit = -1;
                    }
                    if (limit < 1 || limit > MAX_LIMIT) {
                        throw new IllegalArgumentException("limit: '" + value + "' is not a number from 1 to " + MAX_LIMIT);
                    }
                }
                case "fields" -> {
                    if (!value.equals("compact") && !value.equals("full")) {
                        throw new IllegalArgumentException("fields: '" + value + "' is not compact or full");
                    }
                    full = value.equals("full");
                }
                default -> throw new IllegalArgumentException("unknown parameter '" + param.getKey()
                        + "' (state, sort, after, limit, fields)");
            }
        }
        if (byScore && after != null) {
            throw new IllegalArgumentException("after: pages by node id; with sort=score ask for a larger limit");
        }
        return new NodeQuery(state, byScore, after, limit, full);
    }

    boolean matches(NodeScore score) {
        if (after != null && score.getNodeId().compareTo(after) <= 0) {
            return false;
        }
        if (state == null) {
            return true;
        }
        return switch (state) {
            case "hot", "overloaded" -> score.getState() == NodeState.OVERLOADED;
            case "down" -> score.getState() == NodeState.DOWN;
            default -> score.getState() == NodeState.UP;
        };
    }

    /** The order of the answer: node id, or the highest score first (then node id). */
    Comparator<JsonNode> order() {
        Comparator<JsonNode> byId = Comparator.comparing(node -> node.path("nodeId").asText());
        return byScore ? Comparator.<JsonNode>comparingDouble(node -> -node.path("score").asDouble()).thenComparing(byId) : byId;
    }

    /** The first {@code limit} of these nodes in order. */
    List<JsonNode> firstOf(List<JsonNode> nodes) {
        List<JsonNode> sorted = new ArrayList<>(nodes);
        sorted.sort(order());
        return sorted.subList(0, Math.min(limit, sorted.size()));
    }

    /** The query string a peer is asked with for its part. */
    String forPeer() {
        StringBuilder query = new StringBuilder("scope=local&limit=").append(limit).append("&sort=").append(byScore ? "score" : "id")
                .append("&fields=").append(full ? "full" : "compact");
        if (state != null) {
            query.append("&state=").append(state);
        }
        if (after != null) {
            query.append("&after=").append(URLEncoder.encode(after, StandardCharsets.UTF_8));
        }
        return query.toString();
    }
}
