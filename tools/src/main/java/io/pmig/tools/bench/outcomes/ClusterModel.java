package io.pmig.tools.bench.outcomes;

import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.ProcessSample;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The simulated cluster the outcome benchmark runs against, one step per second of its {@link ClusterTrace}:
 * each workload's demand comes from the trace and follows the workload to wherever it runs; a node's CPU is
 * its workloads' demand against its capacity (reported capped at 100 %, each workload then getting its share),
 * its memory their RSS. A migration freezes the workload for its outage - its CPU runs nowhere, its memory
 * stays on the source - and it resumes on the destination once the outage is over.
 *
 * <p>A node is <b>hot</b> in a second when its CPU demand is at least {@value #HOT_CPU} of capacity or its
 * memory at least {@value #HOT_MEM} (the training label's definition, {@code OverloadDefinition}), and
 * <b>overloaded</b> in the hot runs of at least {@value #SUSTAIN_SAMPLES} samples (3 s). Overload node-seconds
 * count those samples.
 */
final class ClusterModel {

    static final double HOT_CPU = 0.90;
    static final double HOT_MEM = 0.90;
    static final int SUSTAIN_SAMPLES = 4;
    static final int PING_PONG_S = 600;

    /** One migration as the cluster carried it out. */
    static final class Move {
        final int second;
        final int workload;
        final int source;
        final int destination;
        final double downtimeS;
        final int landAt;
        final boolean needless;
        boolean pingPong;
        String commandId;

        Move(int second, int workload, int source, int destination, double downtimeS, int landAt, boolean needless) {
            this.second = second;
            this.workload = workload;
            this.source = source;
            this.destination = destination;
            this.downtimeS = downtimeS;
            this.landAt = landAt;
            this.needless = needless;
        }
    }

    private final ClusterTrace trace;
    private final int horizonS;
    private final DowntimeModel downtime;
    private final List<ClusterTrace.Node> nodes;
    private final Map<String, Integer> nodeIndex = new HashMap<>();
    private final Map<String, Integer> workloadIndex = new HashMap<>();
    /** Node of each workload; -1 while it is frozen in a migration. */
    private final int[] location;
    /** For a frozen workload: where it comes from, goes to and when it lands. */
    private final int[] from;
    private final int[] to;
    private final int[] landAt;
    private final boolean[][] hot;
    /** What happened, per node and second: CPU demand (cores) and memory (bytes); per workload and second, its node (-1 frozen). */
    final double[][] demandLog;
    final long[][] rssLog;
    final int[][] placementLog;
    private final List<Move> moves = new ArrayList<>();
    /** Per workload, the nodes it left and when. */
    private final List<List<int[]>> departures = new ArrayList<>();
    private int now = -1;

    ClusterModel(ClusterTrace trace, int horizonS, DowntimeModel downtime) {
        this.trace = trace;
        this.horizonS = horizonS;
        this.downtime = downtime;
        this.nodes = trace.nodes();
        for (int i = 0; i < nodes.size(); i++) {
            nodeIndex.put(nodes.get(i).id(), i);
        }
        int n = trace.workloads().size();
        location = new int[n];
        from = new int[n];
        to = new int[n];
        landAt = new int[n];
        for (int w = 0; w < n; w++) {
            ClusterTrace.Workload workload = trace.workloads().get(w);
            workloadIndex.put(workload.id(), w);
            location[w] = nodeIndex.get(workload.homeNode());
            departures.add(new ArrayList<>());
        }
        hot = new boolean[nodes.size()][trace.seconds()];
        demandLog = new double[nodes.size()][trace.seconds()];
        rssLog = new long[nodes.size()][trace.seconds()];
        placementLog = new int[n][trace.seconds()];
    }

    ClusterTrace trace() {
        return trace;
    }

    DowntimeModel downtime() {
        return downtime;
    }

    int now() {
        return now;
    }

    List<ClusterTrace.Node> nodes() {
        return nodes;
    }

    List<Move> moves() {
        return moves;
    }

    /** Moves to second s: frozen workloads whose outage is over resume on their destination; returns those moves. */
    List<Move> advanceTo(int second) {
        now = second;
        List<Move> landed = new ArrayList<>();
        for (Move move : moves) {
            if (move.landAt == second && location[move.workload] < 0) {
                location[move.workload] = move.destination;
                landed.add(move);
                for (int[] left : departures.get(move.workload)) {
                    if (left[0] == move.destination && second - left[1] <= PING_PONG_S) {
                        move.pingPong = true;
                    }
                }
            }
        }
        return landed;
    }

    /** Every node's sample of the current second, as its agent would report it; records which nodes are hot. */
    List<NodeMetrics> samples() {
        List<NodeMetrics> samples = new ArrayList<>(nodes.size());
        for (int w = 0; w < location.length; w++) {
            placementLog[w][now] = location[w];
        }
        for (int n = 0; n < nodes.size(); n++) {
            ClusterTrace.Node node = nodes.get(n);
            double demand = 0;
            long rss = 0;
            for (int w = 0; w < location.length; w++) {
                if (location[w] == n) {
                    demand += trace.workloads().get(w).cpu(now);
                    rss += trace.workloads().get(w).rssBytes(now);
                } else if (location[w] < 0 && from[w] == n) {
                    rss += trace.workloads().get(w).rssBytes(now);
                }
            }
            double share = demand > node.cpus() ? node.cpus() / demand : 1.0;
            List<ProcessSample> processes = new ArrayList<>();
            for (int w = 0; w < location.length; w++) {
                ClusterTrace.Workload workload = trace.workloads().get(w);
                if (location[w] == n && workload.runsAt(now)) {
                    processes.add(ClusterTrace.process(workload, workload.cpu(now) * share, workload.rssBytes(now)));
                }
            }
            hot[n][now] = isHot(node, demand, rss);
            demandLog[n][now] = demand;
            rssLog[n][now] = rss;
            samples.add(ClusterTrace.sample(node, trace.startMs() + now * 1000L, now, Math.min(demand, node.cpus()), rss, processes));
        }
        return samples;
    }

    private static boolean isHot(ClusterTrace.Node node, double demand, long rss) {
        return demand >= HOT_CPU * node.cpus() || rss >= HOT_MEM * node.memBytes();
    }

    /**
     * Carries out a MIGRATE decided now: the workload freezes from the next second for the outage its size
     * costs. Returns null (the executor would answer FAILED) if it is not running on the source.
     */
    Move migrate(String workloadId, String sourceId, String destinationId) {
        Integer w = workloadIndex.get(workloadId);
        Integer source = nodeIndex.get(sourceId);
        Integer destination = nodeIndex.get(destinationId);
        if (w == null || source == null || destination == null || location[w] != source || source.equals(destination)) {
            return null;
        }
        boolean needless = !overloadedWithin(source, now, now + horizonS, -1, 0);
        double downtimeS = downtime.seconds(trace.workloads().get(w).rssBytes(now));
        Move move = new Move(now, w, source, destination, downtimeS, now + 1 + (int) Math.ceil(downtimeS), needless);
        location[w] = -1;
        from[w] = source;
        to[w] = destination;
        landAt[w] = move.landAt;
        departures.get(w).add(new int[] {source, now});
        moves.add(move);
        return move;
    }

    /**
     * The oracle: the node will be overloaded at some second of [now, now + horizon] if nothing moves, and moving
     * one of its migratable workloads (frozen from the next second, off it once landed) would leave no overload
     * on it after the landing within that horizon.
     */
    boolean oracleWouldMove(String nodeId) {
        return oracleWouldMove(nodeId, horizonS, false);
    }

    /**
     * The oracle, looking {@code lookaheadS} ahead; with {@code partial}, a move that only shortens the coming overload
     * (fewer overloaded seconds from its landing to the lookahead) counts too. For sizing what the oracle leaves.
     */
    boolean oracleWouldMove(String nodeId, int lookaheadS, boolean partial) {
        int n = nodeIndex.get(nodeId);
        int last = now + lookaheadS;
        int without = overloadedSeconds(n, now, last, -1, 0);
        if (without == 0) {
            return false;
        }
        for (int w = 0; w < location.length; w++) {
            ClusterTrace.Workload workload = trace.workloads().get(w);
            if (location[w] != n || !workload.migratable() || !workload.runsAt(now)) {
                continue;
            }
            int land = now + 1 + (int) Math.ceil(downtime.seconds(workload.rssBytes(now)));
            if (land > last) {
                continue;
            }
            int with = overloadedSeconds(n, land, last, w, land);
            if (with == 0 || partial && with < overloadedSeconds(n, land, last, -1, 0)) {
                return true;
            }
        }
        return false;
    }

    private boolean overloadedWithin(int n, int first, int last, int excluded, int excludedFrom) {
        return overloadedSeconds(n, first, last, excluded, excludedFrom) > 0;
    }

    /**
     * How many seconds of [first, last] node n is in an overload, with today's placement and no further decisions
     * (frozen workloads landing as planned; workload {@code excluded} gone from second {@code excludedFrom}).
     * Seconds before now are what happened.
     */
    private int overloadedSeconds(int n, int first, int last, int excluded, int excludedFrom) {
        int lo = Math.max(0, first - SUSTAIN_SAMPLES + 1);
        int hi = Math.min(trace.seconds() - 1, last + SUSTAIN_SAMPLES - 1);
        if (hi < lo) {
            return 0;
        }
        boolean[] h = new boolean[hi - lo + 1];
        ClusterTrace.Node node = nodes.get(n);
        for (int s = lo; s <= hi; s++) {
            if (s < now) {
                h[s - lo] = hot[n][s];
                continue;
            }
            double demand = 0;
            long rss = 0;
            for (int w = 0; w < location.length; w++) {
                ClusterTrace.Workload workload = trace.workloads().get(w);
                boolean here;
                boolean frozen = false;
                if (location[w] >= 0) {
                    here = location[w] == n;
                } else {
                    here = s >= landAt[w] ? to[w] == n : from[w] == n;
                    frozen = s < landAt[w];
                }
                if (!here) {
                    continue;
                }
                if (w == excluded && s >= excludedFrom) {
                    continue;
                }
                boolean freezing = w == excluded && s > now; // frozen from the next second until it lands
                if (!frozen && !freezing) {
                    demand += workload.cpu(s);
                }
                rss += workload.rssBytes(s);
            }
            h[s - lo] = isHot(node, demand, rss);
        }
        int seconds = 0;
        int run = 0;
        for (int i = 0; i <= h.length; i++) {
            if (i < h.length && h[i]) {
                run++;
                continue;
            }
            if (run >= SUSTAIN_SAMPLES) {
                for (int k = i - run; k < i; k++) {
                    if (lo + k >= first && lo + k <= last) {
                        seconds++;
                    }
                }
            }
            run = 0;
        }
        return seconds;
    }

    /** Per node, the seconds that belong to an overload (hot runs of at least 3 s) in what happened. */
    boolean[][] overloadSeconds() {
        boolean[][] overloaded = new boolean[nodes.size()][trace.seconds()];
        for (int n = 0; n < nodes.size(); n++) {
            int run = 0;
            for (int s = 0; s <= trace.seconds(); s++) {
                if (s < trace.seconds() && hot[n][s]) {
                    run++;
                    continue;
                }
                if (run >= SUSTAIN_SAMPLES) {
                    for (int k = s - run; k < s; k++) {
                        overloaded[n][k] = true;
                    }
                }
                run = 0;
            }
        }
        return overloaded;
    }

    String nodeId(int n) {
        return nodes.get(n).id();
    }

    String workloadId(int w) {
        return trace.workloads().get(w).id();
    }

    int horizonS() {
        return horizonS;
    }
}
