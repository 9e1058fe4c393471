package io.pmig.tools.bench;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The injected overload onsets of {@code bench load} and the wall-clock times at which each one's decision passed the
 * pipeline's stages, read from the records themselves: the onset sample acknowledged by the broker, the deciding window's
 * score readable on pmig.scores (the window task's transaction committed; the same transaction carries the report to the
 * decision topic), the MIGRATE appended to pmig.commands (the broker's LogAppendTime) and readable there (the decision
 * task's transaction committed). The latency from the onset to the readable MIGRATE is exactly the sum of
 * <ul>
 *   <li><b>window</b>: from the onset to the end plus grace of the first window holding it - what the window definition
 *       imposes (uniform in [grace, advance + grace));</li>
 *   <li><b>deferred</b>: the advances from that window to the deciding one (hysteresis, a cap or a cooldown that held
 *       the first one back, or a report that arrived too late for it);</li>
 *   <li><b>close</b>: from the deciding window's end plus grace until its score is readable (the metrics lag, closing it,
 *       the window task's commit);</li>
 *   <li><b>decide</b>: until the MIGRATE is appended (the decision topic's hop, waiting for the window's other reports,
 *       planning);</li>
 *   <li><b>deliver</b>: until it is readable (the decision task's commit, the reader's fetch).</li>
 * </ul>
 * A stage whose record was not seen is -1, and so is the next one.
 */
final class OnsetTimeline {

    /** One answered onset, in ms; {@code sendMs} (onset to broker acknowledgement) lies inside window and close. */
    record Stages(String onset, long totalMs, long windowMs, long deferredMs, long closeMs, long decideMs, long deliverMs,
                  long sendMs) {

        static final List<String> NAMES = List.of("window", "deferred", "close", "decide", "deliver", "send");

        long get(String name) {
            return switch (name) {
                case "window" -> windowMs;
                case "deferred" -> deferredMs;
                case "close" -> closeMs;
                case "decide" -> decideMs;
                case "deliver" -> deliverMs;
                case "send" -> sendMs;
                default -> throw new IllegalArgumentException(name);
            };
        }
    }

    private static final class Onset {
        final String node;
        final long onsetMs;
        volatile long ackedMs = -1;
        volatile long windowEndMs = -1;
        volatile long commandAppendedMs = -1;
        volatile long commandSeenMs = -1;

        Onset(String node, long onsetMs) {
            this.node = node;
            this.onsetMs = onsetMs;
        }
    }

    private final long windowSizeMs;
    private final long advanceMs;
    private final long graceMs;
    /** Each node's latest onset. */
    private final Map<String, Onset> latest = new ConcurrentHashMap<>();
    private final List<Onset> all = new ArrayList<>();
    /** "node@windowEnd" -> when that score became readable, kept only for nodes whose latest onset is unanswered. */
    private final Map<String, Long> scoreReadableMs = new ConcurrentHashMap<>();

    OnsetTimeline(long windowSizeMs, long advanceMs, long graceMs) {
        this.windowSizeMs = windowSizeMs;
        this.advanceMs = advanceMs;
        this.graceMs = graceMs;
    }

    /** The start of the node's latest overload, or {@link Long#MIN_VALUE}. */
    long latestOnsetMs(String node) {
        Onset onset = latest.get(node);
        return onset == null ? Long.MIN_VALUE : onset.onsetMs;
    }

    /** A node's first overloaded sample, taken at {@code onsetMs}; returns what to call {@link #acked} with. */
    Object onset(String node, long onsetMs) {
        Onset onset = new Onset(node, onsetMs);
        synchronized (all) {
            all.add(onset);
        }
        latest.put(node, onset);
        return onset;
    }

    void acked(Object onset, long wallMs) {
        ((Onset) onset).ackedMs = wallMs;
    }

    /** A score record read from pmig.scores: kept if it may be the deciding window of its node's pending onset. */
    void scoreReadable(String node, long windowEndMs, long wallMs) {
        Onset onset = latest.get(node);
        if (onset != null && onset.commandSeenMs < 0 && windowEndMs > onset.onsetMs) {
            scoreReadableMs.putIfAbsent(node + "@" + windowEndMs, wallMs);
        }
    }

    /**
     * A MIGRATE off {@code node} read from pmig.commands: it answers the node's latest onset if that is still unanswered
     * and the command's window ends after it.
     *
     * @param appendedMs the record's LogAppendTime, or -1 if the topic does not stamp append times
     */
    void commandReadable(String node, long issuedAtMs, long appendedMs, long wallMs) {
        Onset onset = latest.get(node);
        if (onset == null || onset.commandSeenMs >= 0 || issuedAtMs <= onset.onsetMs) {
            return;
        }
        onset.windowEndMs = issuedAtMs;
        onset.commandAppendedMs = appendedMs;
        onset.commandSeenMs = wallMs;
    }

    /** End of the first window that holds a sample taken at t: windows are [end - size, end), ends size apart by advance. */
    long firstWindowEndAfter(long t) {
        return Math.floorDiv(t - windowSizeMs, advanceMs) * advanceMs + advanceMs + windowSizeMs;
    }

    /** Onsets taken in [fromMs, toMs]. */
    int onsetsBetween(long fromMs, long toMs) {
        synchronized (all) {
            return (int) all.stream().filter(o -> o.onsetMs >= fromMs && o.onsetMs <= toMs).count();
        }
    }

    /** The answered onsets taken in [fromMs, toMs], in onset order. */
    List<Stages> answeredBetween(long fromMs, long toMs) {
        List<Onset> timed;
        synchronized (all) {
            timed = all.stream().filter(o -> o.onsetMs >= fromMs && o.onsetMs <= toMs && o.commandSeenMs >= 0).toList();
        }
        List<Stages> stages = new ArrayList<>();
        for (Onset o : timed) {
            long firstEnd = firstWindowEndAfter(o.onsetMs);
            long window = firstEnd + graceMs - o.onsetMs;
            long deferred = o.windowEndMs - firstEnd;
            Long scored = scoreReadableMs.get(o.node + "@" + o.windowEndMs);
            long close = scored == null ? -1 : scored - (o.windowEndMs + graceMs);
            long decide = scored == null || o.commandAppendedMs < 0 ? -1 : o.commandAppendedMs - scored;
            long deliver = o.commandAppendedMs < 0 ? -1 : o.commandSeenMs - o.commandAppendedMs;
            stages.add(new Stages(o.node + "@" + o.onsetMs, o.commandSeenMs - o.onsetMs, window, deferred, close, decide,
                    deliver, o.ackedMs < 0 ? -1 : o.ackedMs - o.onsetMs));
        }
        return stages;
    }

    /** Per stage, p50 / p99 / max over the onsets where it was seen, and how many those were. */
    static Map<String, Object> summary(List<Stages> stages) {
        Map<String, Object> summary = new LinkedHashMap<>();
        for (String name : Stages.NAMES) {
            List<Long> values = stages.stream().map(s -> s.get(name)).filter(v -> v >= 0).toList();
            Map<String, Object> one = new LinkedHashMap<>();
            one.put("p50", values.isEmpty() ? null : Math.round(Stats.percentile(values, 0.50)));
            one.put("p99", values.isEmpty() ? null : Math.round(Stats.percentile(values, 0.99)));
            one.put("max", values.stream().mapToLong(Long::longValue).max().stream().boxed().findFirst().orElse(null));
            one.put("n", values.size());
            summary.put(name, one);
        }
        return summary;
    }

    /** The {@code n} slowest onsets, slowest first. */
    static List<Stages> slowest(List<Stages> stages, int n) {
        return stages.stream().sorted(Comparator.comparingLong(Stages::totalMs).reversed()).limit(n).toList();
    }
}
