package io.pmig.analytics.balancer;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.decisions.DecisionInput;
import io.pmig.analytics.ingest.DecodeAttempt;
import io.pmig.schemas.CellSummary;
import java.time.Duration;
import io.pmig.schemas.RoomNeed;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The global balancer: reads every cell's summary from pmig.cells (one partition, so one task of the app holds it) and,
 * every {@value AnalyticsConfig#BALANCER_INTERVAL_MS}, runs a {@link CellBalancer} round over the fresh ones. Each grant
 * goes to the decision topic twice, keyed by the borrowing and by the lending cell, so it reaches both cells' tasks
 * through their input log (which keeps their decisions replayable). Its state is soft: the latest summaries, in memory;
 * a task that takes over has them all again within one summary interval.
 */
public final class BalancerProcessor implements Processor<byte[], DecodeAttempt<CellSummary>, String, DecisionInput> {

    private static final Logger log = LoggerFactory.getLogger(BalancerProcessor.class);

    private final AnalyticsConfig config;
    private final CellBalancer balancer;
    private final Map<String, CellSummary> latest = new HashMap<>();
    /** Stuck nodes this balancer granted room to, with when; a summary older than the grant does not know of it yet. */
    private final Map<String, Long> grantedAt = new HashMap<>();
    private ProcessorContext<String, DecisionInput> context;

    public BalancerProcessor(AnalyticsConfig config) {
        this.config = config;
        this.balancer = new CellBalancer(config.destinationCpuLimit(), config.destinationMemLimit(), config.maxInPerNode(),
                config.balancerGrantTtlMs());
    }

    @Override
    public void init(ProcessorContext<String, DecisionInput> context) {
        this.context = context;
        latest.clear();
        grantedAt.clear();
        context.schedule(Duration.ofMillis(config.balancerIntervalMs()), PunctuationType.WALL_CLOCK_TIME, this::round);
    }

    @Override
    public void process(Record<byte[], DecodeAttempt<CellSummary>> record) {
        CellSummary summary = record.value().value();
        // other analytics applications on the same cluster publish their own cells' summaries
        if (config.applicationId().equals(summary.getApplicationId().toString())) {
            latest.put(summary.getCell().toString(), summary);
        }
    }

    private void round(long wallNowMs) {
        long staleBeforeMs = wallNowMs - 3 * config.cellSummaryIntervalMs();
        latest.values().removeIf(summary -> summary.getPublishedAtMs() < staleBeforeMs);
        grantedAt.values().removeIf(at -> at < wallNowMs - config.balancerGrantTtlMs());
        List<CellSummary> current = new ArrayList<>();
        for (CellSummary summary : latest.values()) {
            // a node granted room less than a summary interval before its cell's summary was published is not stuck for
            // this round: the summary may not know of the grant yet (it travels through the decision topic)
            List<RoomNeed> needs = summary.getStuck().stream()
                    .filter(need -> !grantedAt.containsKey(need.getNodeId().toString())
                            || grantedAt.get(need.getNodeId().toString()) + config.cellSummaryIntervalMs() < summary.getPublishedAtMs())
                    .toList();
            current.add(needs.size() == summary.getStuck().size() ? summary : CellSummary.newBuilder(summary).setStuck(needs).build());
        }
        if (current.stream().allMatch(summary -> summary.getStuck().isEmpty())) {
            return;
        }
        List<CellGrant> grants = balancer.round(current, wallNowMs);
        for (CellGrant grant : grants) {
            grant.rooms().forEach(room -> grantedAt.put(room.forNode(), wallNowMs));
            log.info("grant {}: cell {} may send {} move(s) to cell {}: {}", grant.grantId(), grant.fromCell(), grant.quota(),
                    grant.toCell(), grant.rooms().stream().map(room -> room.forNode() + "->" + room.nodeId()).toList());
            context.forward(new Record<>(grant.fromCell(), DecisionInput.of(grant), wallNowMs));
            context.forward(new Record<>(grant.toCell(), DecisionInput.of(grant), wallNowMs));
        }
    }
}
