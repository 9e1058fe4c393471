package io.pmig.tools.bench.outcomes;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one strategy achieved on the replayed trace.
 *
 * @param overloadNodeS         seconds nodes spent overloaded (hot runs of at least 3 s), summed over nodes
 * @param overloadEpisodes      those runs
 * @param migrations            migrations carried out
 * @param needlessMigrations    of those, moves whose source would not have been overloaded within the horizon without it
 * @param ineffectiveMigrations of the others, moves after whose landing the source was still overloaded within the horizon
 * @param pingPong              moves that brought a workload back to a node it had left within 10 min
 * @param outageS               the workloads' summed outage
 */
public record Outcome(long overloadNodeS, int overloadEpisodes, int migrations, int needlessMigrations,
                      int ineffectiveMigrations, int pingPong, double outageS) {

    static Outcome of(ClusterModel cluster) {
        boolean[][] overloaded = cluster.overloadSeconds();
        long seconds = 0;
        int episodes = 0;
        for (boolean[] node : overloaded) {
            for (int s = 0; s < node.length; s++) {
                if (node[s]) {
                    seconds++;
                    if (s == 0 || !node[s - 1]) {
                        episodes++;
                    }
                }
            }
        }
        int needless = 0;
        int ineffective = 0;
        int pingPong = 0;
        double outage = 0;
        for (ClusterModel.Move move : cluster.moves()) {
            outage += move.downtimeS;
            if (move.pingPong) {
                pingPong++;
            }
            if (move.needless) {
                needless++;
                continue;
            }
            boolean[] source = overloaded[move.source];
            int last = Math.min(source.length - 1, move.second + cluster.horizonS());
            for (int s = move.landAt; s <= last; s++) {
                if (source[s]) {
                    ineffective++;
                    break;
                }
            }
        }
        return new Outcome(seconds, episodes, cluster.moves().size(), needless, ineffective, pingPong, outage);
    }

    public Map<String, Object> toJson() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("overload_node_s", overloadNodeS);
        json.put("overload_episodes", overloadEpisodes);
        json.put("migrations", migrations);
        json.put("needless_migrations", needlessMigrations);
        json.put("ineffective_migrations", ineffectiveMigrations);
        json.put("ping_pong", pingPong);
        json.put("outage_s", Math.round(outageS * 10) / 10.0);
        return json;
    }
}
