package io.pmig.schemas.fuzz;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Feeds one decoder a stream of random and mutated inputs and checks each one: it must either be accepted or be
 * refused with one of the decoder's documented exception types (anything else, an Error included, is a crash);
 * it must finish within the per-input bound (a watchdog thread, not a timing assertion: an input that never
 * finishes is reported with its bytes); and the decoding thread must not allocate more than the bound for it.
 *
 * <p>Size: {@code -Dpmig.fuzz.iterations=N} inputs per decoder (default 50,000, a few seconds); slow targets
 * (a TCP connection per input) take a fraction. {@code -Dpmig.fuzz.seed=S} reproduces a run.
 */
public final class FuzzCampaign {

    /** One decoder under test. Returning is acceptance; throwing a documented type is a refusal. */
    @FunctionalInterface
    public interface Target {
        void decode(byte[] input) throws Exception;
    }

    public static final int DEFAULT_ITERATIONS = 50_000;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private final String name;
    private int inputs = DEFAULT_ITERATIONS;
    private long seed = Long.getLong("pmig.fuzz.seed", 20_240_901L);
    private Duration perInputBound = Duration.ofSeconds(10);
    private long maxAllocatedBytes = Long.MAX_VALUE;
    private final List<Class<? extends Throwable>> documented = new ArrayList<>();

    private FuzzCampaign(String name) {
        this.name = name;
    }

    public static FuzzCampaign of(String name) {
        return new FuzzCampaign(name);
    }

    /** The configured input count divided by {@code divisor} (for targets that cost a connection per input). */
    public static int iterations(int divisor) {
        return Math.max(1, Integer.getInteger("pmig.fuzz.iterations", DEFAULT_ITERATIONS) / divisor);
    }

    public FuzzCampaign inputs(int count) {
        this.inputs = count;
        return this;
    }

    public FuzzCampaign perInputBound(Duration bound) {
        this.perInputBound = bound;
        return this;
    }

    /** Bytes the decoding thread may allocate for one input (measured with the JVM's per-thread counter). */
    public FuzzCampaign maxAllocatedBytesPerInput(long bytes) {
        this.maxAllocatedBytes = bytes;
        return this;
    }

    @SafeVarargs
    public final FuzzCampaign documenting(Class<? extends Throwable>... types) {
        documented.addAll(List.of(types));
        return this;
    }

    public long seed() {
        return seed;
    }

    /** Runs the campaign; the report lists every failure (and is printed as one FUZZ line). */
    public FuzzReport run(List<byte[]> corpus, int maxRandomLength, Target target) throws InterruptedException {
        Mutator mutator = new Mutator(corpus, new Random(seed ^ name.hashCode()), maxRandomLength);
        State state = new State();
        Thread worker = new Thread(() -> feed(mutator, target, state), "fuzz-" + name);
        worker.setDaemon(true); // a hung input must not keep the JVM alive
        long started = System.nanoTime();
        worker.start();
        while (worker.isAlive()) {
            worker.join(100);
            long since = state.inputStartedNanos;
            if (since != 0 && System.nanoTime() - since > perInputBound.toNanos() && worker.isAlive()) {
                state.fail("hang: input " + state.current + " (" + state.kind + ") still running after " + perInputBound
                        + ": " + hex(state.input));
                worker.interrupt();
                break;
            }
        }
        FuzzReport report = new FuzzReport(name, seed, state.done.get(), state.accepted, state.refused, state.byKind,
                state.worstAllocated, state.worstAllocatedInput, state.slowestNanos,
                Duration.ofNanos(System.nanoTime() - started), state.failureCount.get(), List.copyOf(state.failures));
        System.out.println(report.line());
        return report;
    }

    private void feed(Mutator mutator, Target target, State state) {
        long thread = Thread.currentThread().getId();
        for (int i = 0; i < inputs && !Thread.currentThread().isInterrupted(); i++) {
            Mutator.Kind kind = mutator.nextKind();
            byte[] input = mutator.make(kind);
            state.current = i;
            state.kind = kind;
            state.input = input;
            long allocatedBefore = THREADS.getThreadAllocatedBytes(thread);
            long start = System.nanoTime();
            state.inputStartedNanos = start;
            try {
                target.decode(input);
                state.accepted++;
            } catch (Throwable t) {
                if (documented.stream().anyMatch(type -> type.isInstance(t))) {
                    state.refused++;
                } else {
                    state.fail("crash: input " + i + " (" + kind + ") threw " + t + ": " + hex(input));
                }
            }
            long took = System.nanoTime() - start;
            state.inputStartedNanos = 0;
            long allocated = THREADS.getThreadAllocatedBytes(thread) - allocatedBefore;
            if (allocated > state.worstAllocated) {
                state.worstAllocated = allocated;
                state.worstAllocatedInput = kind + " " + input.length + " bytes";
            }
            if (allocated > maxAllocatedBytes) {
                state.fail("memory: input " + i + " (" + kind + ", " + input.length + " bytes) made the decoder allocate "
                        + allocated + " bytes: " + hex(input));
            }
            state.slowestNanos = Math.max(state.slowestNanos, took);
            state.byKind.merge(kind, 1L, Long::sum);
            state.done.incrementAndGet();
        }
    }

    private static String hex(byte[] input) {
        byte[] shown = input.length > 256 ? java.util.Arrays.copyOf(input, 256) : input;
        return HexFormat.of().formatHex(shown) + (input.length > 256 ? "..." : "");
    }

    private static final class State {
        final AtomicLong done = new AtomicLong();
        final Map<Mutator.Kind, Long> byKind = new EnumMap<>(Mutator.Kind.class);
        final List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        long accepted;
        long refused;
        long worstAllocated;
        String worstAllocatedInput = "";
        long slowestNanos;
        volatile long inputStartedNanos;
        volatile int current;
        volatile Mutator.Kind kind;
        volatile byte[] input;

        final AtomicLong failureCount = new AtomicLong();

        void fail(String failure) {
            if (failureCount.incrementAndGet() <= 20) {
                failures.add(failure);
            }
        }
    }
}
