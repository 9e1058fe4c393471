package io.pmig.tools.bench.outcomes;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * A seeded generator of multi-node demand traces with daily and bursty shapes, for the outcome benchmark.
 * Same nodes, seconds and seed, same trace, byte for byte.
 *
 * <p>Nodes have {@value #NODE_CPUS} cores and {@value #NODE_MEM_GIB} GiB and sit in three regions whose days are
 * a third of a day apart (time zones), so the cluster always has quiet nodes while some are at their peak. A day
 * is compressed into {@link #DAY_S} seconds. Each node runs:
 * <ul>
 *   <li>one pinned system process (0.15-0.3 cores, 512 MiB; not migratable);</li>
 *   <li>two or three <b>web</b> services: a daily curve with a morning and an evening peak (35-100 % of their
 *       peak demand, 0.3-0.8 cores), slow random drift, and <b>bursts</b> (a flash crowd: about one per
 *       service per 15 min, 1.8-3x over a 10-60 s run-up, held 30-180 s, then a 10-30 s decay); 300-900 MiB;</li>
 *   <li>up to two <b>batch</b> workloads: idle (0.02 cores, 100 MiB) between jobs that arrive about every 12 min,
 *       ramp up in 5-20 s to 0.8-2 cores and 1-3 GiB, run 1-6 min and stop at once;</li>
 *   <li>on about half the nodes a <b>cache</b>: 0.2-0.4 cores, memory growing 1-5 MiB/s from 2 GiB until it is
 *       restarted at 7-11 GiB (a slow leak with a run-up of minutes).</li>
 * </ul>
 * Nodes differ by a load factor of 0.8-1.25. Demand is written unthrottled: a node's CPU figure is capped at
 * 100 % as an agent's is, its processes' figures are what they would use.
 */
public final class ClusterTraceGenerator {

    static final double NODE_CPUS = 4.0;
    static final long NODE_MEM_GIB = 16;
    /** One compressed day. */
    static final int DAY_S = 1800;
    /** Second 0 of every generated trace: a fixed past instant, so samples are never "from the future". */
    static final long START_MS = Instant.parse("2026-11-01T00:00:00Z").toEpochMilli();

    private ClusterTraceGenerator() {
    }

    public static ClusterTrace generate(int nodeCount, int seconds, long seed) {
        if (nodeCount < 2) {
            throw new IllegalArgumentException("--nodes must be at least 2 (a move needs a destination)");
        }
        List<ClusterTrace.Node> nodes = new ArrayList<>();
        List<ClusterTrace.Workload> workloads = new ArrayList<>();
        Random cluster = new Random(seed);
        for (int n = 0; n < nodeCount; n++) {
            String node = String.format(Locale.ROOT, "node-%02d", n + 1);
            nodes.add(new ClusterTrace.Node(node, NODE_CPUS, NODE_MEM_GIB << 30));
            Random r = new Random(cluster.nextLong());
            double factor = 0.85 + 0.45 * r.nextDouble();
            int phase = (n % 3) * DAY_S / 3;
            workloads.add(system(node, seconds, r));
            int webs = 2 + r.nextInt(2);
            for (int i = 0; i < webs; i++) {
                workloads.add(web(node + "-web" + (i + 1), node, seconds, phase, factor, r));
            }
            int batches = r.nextInt(3);
            for (int i = 0; i < batches; i++) {
                workloads.add(batch(node + "-batch" + (i + 1), node, seconds, factor, r));
            }
            if (r.nextBoolean()) {
                workloads.add(cache(node + "-cache", node, seconds, r));
            }
        }
        return new ClusterTrace(START_MS, seconds, nodes, workloads);
    }

    private static ClusterTrace.Workload system(String node, int seconds, Random r) {
        float[] cpu = new float[seconds];
        float[] rss = new float[seconds];
        double base = 0.15 + 0.15 * r.nextDouble();
        for (int s = 0; s < seconds; s++) {
            cpu[s] = quantize(base * (0.9 + 0.2 * r.nextDouble()));
            rss[s] = 512;
        }
        return new ClusterTrace.Workload(node + "-system", node, "system", false, cpu, rss);
    }

    /** Daily curve: a morning peak and a higher evening one over a night floor, in [0.35, 1]. */
    static double daily(int second, int phase) {
        double x = ((second + phase) % DAY_S) / (double) DAY_S;
        double morning = Math.exp(-Math.pow((x - 0.38) / 0.09, 2));
        double evening = Math.exp(-Math.pow((x - 0.75) / 0.11, 2));
        return 0.35 + 0.65 * Math.max(0.8 * morning, evening);
    }

    private static ClusterTrace.Workload web(String id, String node, int seconds, int phase, double factor, Random r) {
        float[] cpu = new float[seconds];
        float[] rss = new float[seconds];
        double peak = (0.3 + 0.5 * r.nextDouble()) * factor;
        double baseRss = 300 + 600 * r.nextDouble();
        double drift = 0;
        double burst = 1;
        int nextBurst = (int) exponential(r, 600);
        int up = 0;
        int hold = 0;
        int down = 0;
        double top = 1;
        int burstAt = -1;
        for (int s = 0; s < seconds; s++) {
            if (s == nextBurst) {
                burstAt = s;
                top = 1.8 + 1.2 * r.nextDouble();
                up = 10 + r.nextInt(51);
                hold = 30 + r.nextInt(151);
                down = 10 + r.nextInt(21);
                nextBurst = s + up + hold + down + (int) exponential(r, 600);
            }
            if (burstAt >= 0) {
                int t = s - burstAt;
                if (t < up) {
                    burst = 1 + (top - 1) * t / up;
                } else if (t < up + hold) {
                    burst = top;
                } else if (t < up + hold + down) {
                    burst = top - (top - 1) * (t - up - hold) / down;
                } else {
                    burst = 1;
                    burstAt = -1;
                }
            }
            drift = 0.995 * drift + 0.01 * r.nextGaussian();
            double noise = 1 + drift + 0.05 * r.nextGaussian();
            cpu[s] = quantize(Math.max(0.01, peak * daily(s, phase) * burst * noise));
            rss[s] = (float) Math.round(baseRss + 150 * (burst - 1));
        }
        return new ClusterTrace.Workload(id, node, "web", true, cpu, rss);
    }

    private static ClusterTrace.Workload batch(String id, String node, int seconds, double factor, Random r) {
        float[] cpu = new float[seconds];
        float[] rss = new float[seconds];
        int next = (int) exponential(r, 720);
        int start = -1;
        int ramp = 0;
        int run = 0;
        double jobCpu = 0;
        double jobRss = 0;
        for (int s = 0; s < seconds; s++) {
            if (s == next) {
                start = s;
                ramp = 5 + r.nextInt(16);
                run = 60 + r.nextInt(301);
                jobCpu = (0.8 + 1.2 * r.nextDouble()) * factor;
                jobRss = 1024 + 2048 * r.nextDouble();
                next = s + ramp + run + (int) exponential(r, 720);
            }
            double c = 0.02;
            double m = 100;
            if (start >= 0 && s - start < ramp + run) {
                double share = Math.min(1.0, (s - start + 1) / (double) ramp);
                c = jobCpu * share * (0.95 + 0.1 * r.nextDouble());
                m = 100 + (jobRss - 100) * share;
            }
            cpu[s] = quantize(c);
            rss[s] = (float) Math.round(m);
        }
        return new ClusterTrace.Workload(id, node, "batch", true, cpu, rss);
    }

    private static ClusterTrace.Workload cache(String id, String node, int seconds, Random r) {
        float[] cpu = new float[seconds];
        float[] rss = new float[seconds];
        double base = 0.2 + 0.2 * r.nextDouble();
        double growth = 1 + 4 * r.nextDouble();
        double restartAt = 7168 + 4096 * r.nextDouble();
        double m = 2048 + 2048 * r.nextDouble();
        for (int s = 0; s < seconds; s++) {
            m += growth * (0.5 + r.nextDouble());
            if (m >= restartAt) {
                m = 2048;
                growth = 1 + 4 * r.nextDouble();
                restartAt = 7168 + 4096 * r.nextDouble();
            }
            cpu[s] = quantize(base * (0.9 + 0.2 * r.nextDouble()));
            rss[s] = (float) Math.round(m);
        }
        return new ClusterTrace.Workload(id, node, "cache", true, cpu, rss);
    }

    private static double exponential(Random r, double mean) {
        return -mean * Math.log(1 - r.nextDouble());
    }

    /** Thousandths of a core, as an agent's percent-of-a-core with one decimal: keeps the trace file small. */
    private static float quantize(double cores) {
        return (float) (Math.round(cores * 1000) / 1000.0);
    }
}
