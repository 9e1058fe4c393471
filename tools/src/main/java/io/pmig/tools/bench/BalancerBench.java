package io.pmig.tools.bench;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.balancer.CellBalancer;
import io.pmig.analytics.balancer.CellGrant;
import io.pmig.analytics.decisions.CellSummaries;
import io.pmig.analytics.decisions.NodeView;
import io.pmig.analytics.windows.NodeReport;
import io.pmig.analytics.windows.WorkloadLoad;
import io.pmig.platform.config.ConfigException;
import io.pmig.schemas.CellSummary;
import io.pmig.schemas.NodeRoom;
import io.pmig.schemas.NodeState;
import io.pmig.schemas.RoomNeed;
import io.pmig.schemas.serde.AvroSerde;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code pmig bench balancer}: what the global balancer costs on a synthetic fleet. N nodes in C cells; a share of the
 * cells is hot (every node above the destination limit, 1 % of its nodes stuck: no room inside), the others have room.
 * Each repeat measures, in this order and alternating:
 * <ul>
 *   <li><b>baseline</b>: a cluster-wide balancer over every node (what one decision point sees without cells): one pass
 *       over the N nodes for the least loaded ones, then the same greedy matching;</li>
 *   <li><b>summaries</b>: every cell summarised by {@link CellSummaries} as its task does (in the app spread over the
 *       decision tasks; here all of them, in one thread);</li>
 *   <li><b>round</b>: one {@link CellBalancer} round over the C summaries: what the single balancer task pays.</li>
 * </ul>
 * Memory: the heap the N node views take (what a cluster-wide balancer would hold) against the C summaries' encoded bytes
 * (what the balancer holds, and what crosses pmig.cells per round).
 */
@Command(name = "balancer", mixinStandardHelpOptions = true,
        description = "Cost of the global balancer's round on synthetic node summaries, against a cluster-wide balancer in the same run.")
public final class BalancerBench implements Callable<Integer> {

    @Option(names = "--nodes", defaultValue = "1000000", description = "Synthetic nodes (default: ${DEFAULT-VALUE}).")
    int nodes;

    @Option(names = "--cells", defaultValue = "1000", description = "Cells they are divided into (default: ${DEFAULT-VALUE}).")
    int cells;

    @Option(names = "--hot-cells", defaultValue = "0.2", description = "Share of cells with no room (default: ${DEFAULT-VALUE}).")
    double hotCells;

    @Option(names = "--repeats", defaultValue = "5", description = "Alternating repeats of baseline and balancer (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the synthetic fleet (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", description = "End with one JSON line: nodes, cells, round_ms_median, summaries_ms_median,"
            + " baseline_ms_median, round_ratio, heap_nodes_mib, summary_bytes_per_round, grants, …")
    boolean json;

    @Override
    public Integer call() {
        if (nodes < 1 || cells < 1 || cells > nodes) {
            throw new ConfigException("--cells", "need 1 <= cells <= nodes (" + cells + " cells, " + nodes + " nodes)");
        }
        if (repeats < 3) {
            throw new ConfigException("--repeats", repeats + " is too few: at least 3, the median needs them");
        }
        AnalyticsConfig config = AnalyticsConfig.of(Map.of(AnalyticsConfig.CELLS, String.valueOf(cells)));
        long now = System.currentTimeMillis();
        long heap0 = usedHeap();
        Map<String, List<NodeView>> fleet = fleet(config, now);
        long heapNodes = usedHeap() - heap0;
        Map<String, Map<String, WorkloadLoad>> stuck = stuck(fleet);
        System.out.printf(Locale.ROOT, "balancer: %,d nodes in %,d cells (%.0f %% hot), %d repeats%n", nodes, cells, hotCells * 100, repeats);

        CellSummaries summarizer = new CellSummaries(config);
        CellBalancer balancer = new CellBalancer(config.destinationCpuLimit(), config.destinationMemLimit(), config.maxInPerNode(),
                config.balancerGrantTtlMs());
        List<Double> baselineMs = new ArrayList<>();
        List<Double> summariesMs = new ArrayList<>();
        List<Double> roundMs = new ArrayList<>();
        List<CellSummary> summaries = List.of();
        List<CellGrant> grants = List.of();
        int baselineGrants = 0;
        for (int i = 0; i < repeats; i++) {
            long t0 = System.nanoTime();
            baselineGrants = clusterWide(config, fleet, stuck);
            long t1 = System.nanoTime();
            List<CellSummary> built = new ArrayList<>(cells);
            fleet.forEach((cell, views) -> built.add(summarizer.summarize(cell, views, List.of(), stuck.getOrDefault(cell, Map.of()), now)));
            long t2 = System.nanoTime();
            grants = balancer.round(built, now);
            long t3 = System.nanoTime();
            summaries = built;
            baselineMs.add((t1 - t0) / 1e6);
            summariesMs.add((t2 - t1) / 1e6);
            roundMs.add((t3 - t2) / 1e6);
            System.out.printf(Locale.ROOT, "  repeat %d: baseline (cluster-wide) %.1f ms, summaries (all cells) %.1f ms, balancer round %.2f ms%n",
                    i + 1, baselineMs.get(i), summariesMs.get(i), roundMs.get(i));
        }
        AvroSerde<CellSummary> serde = AvroSerde.of(CellSummary.class);
        long bytes = summaries.stream().mapToLong(summary -> serde.encode(summary).length).sum();
        int stuckCount = stuck.values().stream().mapToInt(Map::size).sum();
        int granted = grants.stream().mapToInt(CellGrant::quota).sum();
        double round = Stats.percentile(roundMs, 0.5);
        double baseline = Stats.percentile(baselineMs, 0.5);
        System.out.printf(Locale.ROOT, "result: balancer round median %.2f ms (min %.2f, max %.2f) vs cluster-wide %.1f ms: ratio %.4f;"
                        + " summarising every cell %.1f ms in all%n",
                round, roundMs.stream().mapToDouble(d -> d).min().orElse(0), roundMs.stream().mapToDouble(d -> d).max().orElse(0),
                baseline, Stats.ratio(round, baseline), Stats.percentile(summariesMs, 0.5));
        System.out.printf(Locale.ROOT, "        %,d stuck nodes, %,d moves granted in %,d grants (cluster-wide: %,d); heap: node views %.0f MiB"
                        + " (what a cluster-wide balancer holds); the balancer holds the summaries: %,d bytes encoded, per round on pmig.cells%n",
                stuckCount, granted, grants.size(), baselineGrants, heapNodes / 1048576.0, bytes);
        if (json) {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("nodes", nodes);
            result.put("cells", cells);
            result.put("repeats", repeats);
            result.put("stuck_nodes", stuckCount);
            result.put("moves_granted", granted);
            result.put("grants", grants.size());
            result.put("baseline_moves_granted", baselineGrants);
            result.put("round_ms_median", Stats.round(round, 3));
            result.put("round_ms", roundMs.stream().map(d -> Stats.round(d, 3)).toList());
            result.put("summaries_ms_median", Stats.round(Stats.percentile(summariesMs, 0.5), 1));
            result.put("baseline_ms_median", Stats.round(baseline, 1));
            result.put("baseline_ms", baselineMs.stream().map(d -> Stats.round(d, 1)).toList());
            result.put("round_ratio", Stats.round(Stats.ratio(round, baseline), 5));
            result.put("heap_nodes_mib", Stats.round(heapNodes / 1048576.0, 1));
            result.put("summary_bytes_per_round", bytes);
            System.out.println(JsonLine.of(result));
        }
        return 0;
    }

    /** Nodes of 4 cores and 8 GiB; a hot cell's above the destination limit, the others between 10 and 70 % CPU. */
    private Map<String, List<NodeView>> fleet(AnalyticsConfig config, long now) {
        Random random = new Random(seed);
        Map<String, List<NodeView>> fleet = new TreeMap<>();
        long gib = 1L << 30;
        for (int i = 0; i < nodes; i++) {
            String cell = "cell-" + (i % cells);
            boolean hot = (i % cells) < Math.round(hotCells * cells);
            double cpu = hot ? 0.80 + random.nextDouble() * 0.15 : 0.10 + random.nextDouble() * 0.60;
            boolean overloaded = hot && cpu >= 0.90;
            NodeReport report = new NodeReport("node-" + i, now - 10_000, now, overloaded ? NodeState.OVERLOADED : NodeState.UP,
                    overloaded ? 1.0 : 0.0, overloaded, "trend-rule", null, Map.of(), 4, 8 * gib, cpu * 4,
                    (long) ((0.2 + random.nextDouble() * 0.4) * 8 * gib), List.of());
            fleet.computeIfAbsent(cell, c -> new ArrayList<>()).add(new NodeView(report, overloaded ? 3 : 0, -1));
        }
        return fleet;
    }

    /** In a hot cell, 1 % of its nodes (its budget) overloaded with nowhere to go: a 1-core, 512 MiB workload each. */
    private static Map<String, Map<String, WorkloadLoad>> stuck(Map<String, List<NodeView>> fleet) {
        Map<String, Map<String, WorkloadLoad>> stuck = new TreeMap<>();
        fleet.forEach((cell, views) -> {
            int budget = Math.max(2, (int) Math.ceil(0.01 * views.size()));
            views.stream().filter(view -> view.report().overloaded()).limit(budget).forEach(view ->
                    stuck.computeIfAbsent(cell, c -> new TreeMap<>()).put(view.nodeId(),
                            new WorkloadLoad("w-" + view.nodeId(), 1.0, 512L << 20, true)));
        });
        return stuck;
    }

    /**
     * The cluster-wide baseline: one balancer reading every node (no summaries): the least loaded nodes of the whole
     * fleet by one pass, as many as there are stuck nodes times the offers a cell would make, then the same matching.
     */
    private int clusterWide(AnalyticsConfig config, Map<String, List<NodeView>> fleet, Map<String, Map<String, WorkloadLoad>> stuck) {
        int wanted = Math.max(1, config.cellOffers() * cells);
        PriorityQueue<NodeView> least = new PriorityQueue<>((a, b) -> Double.compare(load(b), load(a)));
        List<RoomNeed> needs = new ArrayList<>();
        fleet.forEach((cell, views) -> {
            for (NodeView view : views) {
                if (view.report().overloaded() || load(view) >= config.destinationCpuLimit()) {
                    continue;
                }
                least.add(view);
                if (least.size() > wanted) {
                    least.poll();
                }
            }
        });
        stuck.values().forEach(map -> map.forEach((node, workload) ->
                needs.add(new RoomNeed(node, workload.cpuCores(), workload.rssBytes()))));
        List<NodeRoom> offers = least.stream().map(view -> new NodeRoom(view.nodeId(), view.report().cpuCapacity(),
                view.report().memCapacityBytes(), view.report().cpuUsedCores(), view.report().memUsedBytes(),
                view.report().windowEndMs())).toList();
        // one pseudo-cell that offers everything, one that needs everything: the matching is the balancer's own
        CellSummary all = CellSummary.newBuilder().setCell("cluster").setApplicationId("bench").setPublishedAtMs(0).setWindowEndMs(0)
                .setNodesUp(0).setNodesOverloaded(0).setMigrationsInFlight(0).setBudget(0).setStuck(List.of()).setOffers(offers).build();
        CellSummary stuckAll = CellSummary.newBuilder(all).setCell("stuck").setStuck(needs).setOffers(List.of()).build();
        return new CellBalancer(config.destinationCpuLimit(), config.destinationMemLimit(), config.maxInPerNode(),
                config.balancerGrantTtlMs()).round(List.of(all, stuckAll), 0).stream().mapToInt(CellGrant::quota).sum();
    }

    private static double load(NodeView view) {
        return Math.max(view.report().cpuFraction(), view.report().memFraction());
    }

    private static long usedHeap() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
