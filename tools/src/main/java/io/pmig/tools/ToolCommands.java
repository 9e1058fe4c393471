package io.pmig.tools;

import io.pmig.cli.CommandPlugin;
import io.pmig.tools.bench.BenchCommand;
import io.pmig.tools.chaos.ChaosCommand;
import java.util.List;

/** The tools jar's commands, which pmig lists when this jar is on its class path: {@code chaos} and {@code bench}. */
public final class ToolCommands implements CommandPlugin {

    @Override
    public List<Class<?>> commands() {
        return List.of(ChaosCommand.class, BenchCommand.class);
    }
}
