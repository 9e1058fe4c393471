package io.pmig.analytics.training;

import io.pmig.analytics.features.WindowFeatures;
import io.pmig.platform.config.ConfigException;
import io.pmig.schemas.NodeMetrics;
import java.util.ArrayList;
import java.util.List;

/**
 * What "overloaded" means for training labels, and the episodes it finds in one node's samples.
 *
 * <p>A sample is <b>hot</b> when the node's CPU ({@code cpuPercent}, percent of capacity) is at least
 * {@code cpuPercent} or its memory in use is at least {@code memFraction} of its capacity. An <b>overload
 * episode</b> is a maximal run of consecutive hot samples whose first and last sample are at least
 * {@code sustainS} seconds apart; a shorter run is a transient, not an overload. Its <b>onset</b> is the
 * time of its first sample, its end the time of its last.
 *
 * <p>A window ending at t is labelled <b>positive</b> when the node is overloaded at some instant of
 * {@code (t, t + horizonS]}: an episode starts in that interval (prediction) or one under way at t goes on
 * past t (the node stays overloaded, so moving a workload off it is still right). Windows whose
 * {@code (t, t + horizonS]} reaches past the node's last sample cannot be labelled and are left out.
 */
public record OverloadDefinition(double cpuPercent, double memFraction, double sustainS, int horizonS) {

    public static final double DEFAULT_CPU_PERCENT = 90.0;
    public static final double DEFAULT_MEM_FRACTION = 0.90;
    public static final double DEFAULT_SUSTAIN_S = 3.0;
    public static final int DEFAULT_HORIZON_S = 15;

    /** One overload episode of one node, sample times in epoch ms, both inclusive. */
    public record Episode(long onsetMs, long endMs) {
    }

    public OverloadDefinition {
        if (!(cpuPercent > 0 && cpuPercent <= 100)) {
            throw new ConfigException("--overload-cpu", cpuPercent + " is outside (0, 100]");
        }
        if (!(memFraction > 0 && memFraction <= 1)) {
            throw new ConfigException("--overload-mem", memFraction + " is outside (0, 1]");
        }
        if (!(sustainS >= 0)) {
            throw new ConfigException("--sustain", sustainS + " must not be negative");
        }
        if (horizonS < 1) {
            throw new ConfigException("--horizon", horizonS + " must be at least 1");
        }
    }

    public static OverloadDefinition defaults() {
        return new OverloadDefinition(DEFAULT_CPU_PERCENT, DEFAULT_MEM_FRACTION, DEFAULT_SUSTAIN_S, DEFAULT_HORIZON_S);
    }

    public OverloadDefinition withHorizon(int seconds) {
        return new OverloadDefinition(cpuPercent, memFraction, sustainS, seconds);
    }

    public long horizonMs() {
        return horizonS * 1000L;
    }

    public boolean isHot(NodeMetrics sample) {
        return sample.getCpuPercent() >= cpuPercent
                || (double) sample.getMemUsedBytes() / WindowFeatures.memCapacityBytes(sample) >= memFraction;
    }

    /** @param samples one node's samples in time order */
    public List<Episode> episodes(List<NodeMetrics> samples) {
        List<Episode> episodes = new ArrayList<>();
        long runStart = -1;
        long runEnd = -1;
        for (NodeMetrics sample : samples) {
            if (isHot(sample)) {
                if (runStart < 0) {
                    runStart = sample.getTimestampMs();
                }
                runEnd = sample.getTimestampMs();
            } else {
                addIfSustained(episodes, runStart, runEnd);
                runStart = -1;
            }
        }
        addIfSustained(episodes, runStart, runEnd);
        return episodes;
    }

    private void addIfSustained(List<Episode> episodes, long runStart, long runEnd) {
        if (runStart >= 0 && runEnd - runStart >= sustainS * 1000) {
            episodes.add(new Episode(runStart, runEnd));
        }
    }

    /** Whether the node is overloaded at some instant of (t, t + horizon]. */
    public boolean label(long windowEndMs, List<Episode> episodes) {
        for (Episode episode : episodes) {
            if (episode.onsetMs() <= windowEndMs + horizonMs() && episode.endMs() > windowEndMs) {
                return true;
            }
        }
        return false;
    }

    /** Whether the node is already in an episode at t: its onset is before t and it has not ended. */
    public static boolean overloadedAt(long timeMs, List<Episode> episodes) {
        for (Episode episode : episodes) {
            if (episode.onsetMs() < timeMs && episode.endMs() >= timeMs) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return "overloaded = cpu >= " + cpuPercent + " % or memory >= " + memFraction + " of capacity, sustained >= "
                + sustainS + " s; a window is positive if the node is overloaded within " + horizonS + " s after it";
    }
}
