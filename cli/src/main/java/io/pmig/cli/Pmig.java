package io.pmig.cli;

import io.pmig.cli.broker.BrokerCommand;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.config.OptionTypes;
import io.pmig.agent.AgentCommand;
import io.pmig.analytics.AnalyticsCommand;
import io.pmig.analytics.training.TrainCommand;
import io.pmig.cli.dashboard.DashboardCommand;
import io.pmig.cli.demo.DemoCommand;
import io.pmig.cli.fault.FaultCommand;
import io.pmig.cli.operator.OperatorCommands;
import io.pmig.cli.trace.RecordTraceCommand;
import io.pmig.executor.ExecutorCommand;
import io.pmig.cli.inspect.ConsoleConsumerCommand;
import io.pmig.schemas.serde.SchemaCatalog;
import java.util.ServiceLoader;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code pmig} command: every role of the system as a subcommand, listed in pipeline order. */
@Command(name = "pmig", mixinStandardHelpOptions = true, version = "pmig 0.1.0",
        description = "Kafka-driven, ML-scored live process migration for Linux.",
        subcommands = {
                DemoCommand.class,
                // the pipeline, stage by stage
                BrokerCommand.class,
                AgentCommand.class,
                AnalyticsCommand.class,
                ExecutorCommand.class,
                io.pmig.executor.SecretCommand.class,
                // the model
                RecordTraceCommand.class,
                TrainCommand.class,
                io.pmig.analytics.training.PublishModelCommand.class,
                // operating and watching
                DashboardCommand.class,
                OperatorCommands.Nodes.class,
                OperatorCommands.Ps.class,
                OperatorCommands.Launch.class,
                OperatorCommands.Migrate.class,
                OperatorCommands.Kill.class,
                OperatorCommands.Forget.class,
                OperatorCommands.Events.class,
                ConsoleConsumerCommand.class,
                FaultCommand.class,
                // chaos and bench: the tools jar's, listed when it is on the class path (CommandPlugin)
        })
public final class Pmig {

    /** The tools jar's commands (CommandPlugin), named here only to say where they are when that jar is absent. */
    private static final java.util.Set<String> TOOLS = java.util.Set.of("bench", "chaos");

    public static void main(String[] args) {
        SchemaCatalog.trustPmigClasses(); // before any record is built, not only before the first decode
        System.exit(run(args));
    }

    public static int run(String... args) {
        return run(commandLine(), null, args);
    }

    /** Every command: the built-in ones, then those of the plugins on the class path (the tools jar's bench, chaos). */
    public static CommandLine commandLine() {
        CommandLine commandLine = new CommandLine(new Pmig());
        for (CommandPlugin plugin : ServiceLoader.load(CommandPlugin.class)) {
            plugin.commands().forEach(commandLine::addSubcommand);
        }
        return commandLine;
    }

    static int run(CommandLine commandLine, java.io.PrintWriter err, String... args) {
        if (err != null) {
            commandLine.setErr(err);
        }
        if (args.length > 0 && TOOLS.contains(args[0]) && !commandLine.getSubcommands().containsKey(args[0])) {
            commandLine.getErr().println("pmig " + args[0] + ": not in this jar: bench and chaos are in the tools jar"
                    + " (tools/target/pmig-tools.jar); run them with bin/pmig, which puts it beside pmig.jar");
            return 2;
        }
        ConsoleConsumerCommand.register(commandLine);
        // one set of conventions: sizes, durations, HOST:PORT and modes (any case) read alike by every command, and a
        // value an option cannot take is one line naming the option
        OptionTypes.install(commandLine);
        commandLine.setExecutionExceptionHandler((e, cmd, parsed) -> {
            // Bad configuration is the operator's to fix: name the key, skip the stack trace.
            Throwable cause = e;
            while (cause != null && !(cause instanceof ConfigException)) {
                cause = cause.getCause();
            }
            if (cause != null) {
                cmd.getErr().println("pmig " + cmd.getCommandName() + ": bad configuration: " + cause.getMessage());
                return 2;
            }
            cmd.getErr().println("pmig " + cmd.getCommandName() + ": " + e);
            e.printStackTrace(cmd.getErr());
            return 1;
        });
        return commandLine.execute(args);
    }
}
