package io.pmig.tools.bench;

import io.pmig.tools.bench.outcomes.OutcomesBench;
import picocli.CommandLine.Command;

/**
 * {@code pmig bench}: the benchmarks of issue 10. Each reports its figure next to a baseline measured in the
 * same run (bare Kafka Streams, raw CRIU), because absolute numbers on shared machines mean little.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks against baselines measured in the same run.",
        subcommands = {PipelineBench.class, MigrateBench.class, AgentBench.class, LoadBench.class, OutcomesBench.class, BalancerBench.class})
public final class BenchCommand {
}
