package io.pmig.executor.events;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The executor's own series (README, Metrics), read off the events it publishes: every migration phase and outcome
 * this node reports already goes through {@link EventPublisher}, with the durations the drivers measured, so the
 * counters cannot disagree with pmig.events. Counted once the broker took the event (progress events once sent).
 *
 * <ul>
 *   <li>{@code pmig_executor_events_total{phase}}: every event this node published.</li>
 *   <li>{@code pmig_executor_migrations_total{mode,outcome,side}}: migrations that ended COMPLETED, ROLLED_BACK or
 *       FAILED, counted by the node that said so ({@code side}: source or destination). A COMPLETED comes from the
 *       destination; a source's ROLLED_BACK and a destination's (it gave up its copy) may both report one migration.</li>
 *   <li>{@code pmig_executor_migration_phase_seconds{mode,phase}}: freeze, dump, transfer, restore, downtime and total
 *       of every COMPLETED migration, as histograms.</li>
 *   <li>{@code pmig_executor_rollbacks_total{mode,reason}}: ROLLED_BACK by how far the migration got (below).</li>
 *   <li>{@code pmig_executor_reader_outages_total{reader}}, {@code pmig_executor_reader_failing{reader}}: the outages
 *       of its command and peer-event readers ({@link #reader}).</li>
 *   <li>{@code pmig_executor_recoveries_declined_total}: NODE_DOWN reports of a node whose checkpoints are held here but
 *       whose executor was alive by the node registry, so nothing was restored.</li>
 * </ul>
 */
public final class ExecutorMeters {

    private static final Duration[] PHASE_BUCKETS = {ms(5), ms(10), ms(25), ms(50), ms(100), ms(250), ms(500),
            ms(1_000), ms(2_500), ms(5_000), ms(10_000), ms(30_000), ms(60_000)};
    private static final Map<Phase, String> OUTCOMES = Map.of(
            Phase.COMPLETED, "COMPLETED", Phase.ROLLED_BACK, "ROLLED_BACK", Phase.FAILED, "FAILED");

    private final MeterRegistry registry;

    public ExecutorMeters(MeterRegistry registry) {
        this.registry = registry;
        for (MigrationMode mode : MigrationMode.values()) {
            for (String outcome : OUTCOMES.values()) {
                for (String side : new String[] {"source", "destination"}) {
                    migrations(mode.name(), outcome, side); // at 0 from the start, so rate() has a series
                }
            }
        }
    }

    public MeterRegistry registry() {
        return registry;
    }

    /**
     * A Kafka reader of this executor ({@code reader}: commands, events): {@code pmig_executor_reader_outages_total}
     * counts its outages, {@code pmig_executor_reader_failing} is 1 while it cannot read - alert on that: the node
     * heartbeats meanwhile but does not act on its commands, or its migrations wait for peer events.
     */
    public void reader(String reader, ReaderOutages outages) {
        FunctionCounter.builder("pmig.executor.reader.outages", outages, ReaderOutages::outages)
                .description("Outages of the executor's Kafka readers: runs of failed reads it waited out")
                .tag("reader", reader).register(registry);
        Gauge.builder("pmig.executor.reader.failing", outages, o -> o.failing() ? 1 : 0)
                .description("1 while the reader cannot read (the node is deaf to its commands or its peers' events)")
                .tag("reader", reader).register(registry);
    }

    /** A NODE_DOWN not acted on: the node's executor was alive by the node registry, so its workloads were not restored here. */
    public void recoveryDeclined() {
        Counter.builder("pmig.executor.recoveries.declined")
                .description("NODE_DOWN reports not acted on because the node's executor was alive by the node registry")
                .register(registry).increment();
    }

    /** An event this node published (or, for a progress event, sent). */
    public void published(MigrationEvent event) {
        Counter.builder("pmig.executor.events").description("Events this node published on pmig.events, by phase")
                .tag("phase", event.getPhase().name()).register(registry).increment();
        String outcome = OUTCOMES.get(event.getPhase());
        if (outcome == null || event.getMode() == null) {
            return; // not the end of a migration (LAUNCHED, KILLED, a refused LAUNCH, ...)
        }
        String mode = event.getMode().name();
        boolean destination = event.getDestinationNode() != null
                && event.getNode().toString().equals(event.getDestinationNode().toString());
        migrations(mode, outcome, destination ? "destination" : "source").increment();
        if (event.getPhase() == Phase.COMPLETED) {
            PhaseTimings timings = event.getTimings();
            phase(mode, "freeze", timings.getFreezeMs());
            phase(mode, "dump", timings.getDumpMs());
            phase(mode, "transfer", timings.getTransferMs());
            phase(mode, "restore", timings.getRestoreMs());
            phase(mode, "downtime", timings.getDowntimeMs());
            phase(mode, "total", timings.getTotalMs());
            DistributionSummary.builder("pmig.executor.migration.bytes").baseUnit("bytes")
                    .description("Bytes moved by each COMPLETED migration (images, pages, the workload's files)")
                    .tag("mode", mode).register(registry).record(event.getBytesMoved());
        } else if (event.getPhase() == Phase.ROLLED_BACK) {
            Counter.builder("pmig.executor.rollbacks").description("Migrations rolled back, by how far they got")
                    .tag("mode", mode).tag("reason", rollbackReason(event, destination)).register(registry).increment();
        }
    }

    /**
     * How far a rolled-back migration got, from its event: {@code executor_restart} (recovery after a restart),
     * {@code commit_unconfirmed} (the destination's COMPLETED was never committed, it dropped its copy),
     * {@code before_freeze} (refused in HELLO or preflight, nothing stopped), {@code dump}, {@code transfer},
     * {@code restore}, {@code commit} (the first phase whose duration the source had not measured yet).
     */
    static String rollbackReason(MigrationEvent event, boolean fromDestination) {
        String error = event.getError() == null ? "" : event.getError().toString().toLowerCase(Locale.ROOT);
        PhaseTimings timings = event.getTimings();
        if (error.startsWith("executor restarted")) {
            return "executor_restart";
        }
        if (fromDestination) {
            return "commit_unconfirmed";
        }
        if (timings.getDumpMs() == 0) {
            return error.startsWith("checkpoint failed") ? "dump" : "before_freeze";
        }
        if (timings.getTransferMs() == 0) {
            return "transfer";
        }
        if (timings.getRestoreMs() == 0) {
            return "restore";
        }
        return "commit";
    }

    private Counter migrations(String mode, String outcome, String side) {
        return Counter.builder("pmig.executor.migrations")
                .description("Migrations ended, by mode, outcome and the side that reported it")
                .tag("mode", mode).tag("outcome", outcome).tag("side", side).register(registry);
    }

    private void phase(String mode, String phase, long millis) {
        Timer.builder("pmig.executor.migration.phase")
                .description("Durations of the phases of COMPLETED migrations (downtime: frozen until resumed)")
                .serviceLevelObjectives(PHASE_BUCKETS).tag("mode", mode).tag("phase", phase).register(registry)
                .record(millis, TimeUnit.MILLISECONDS);
    }

    private static Duration ms(long millis) {
        return Duration.ofMillis(millis);
    }
}
