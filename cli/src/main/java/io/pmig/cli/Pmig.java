package io.pmig.cli;

import io.pmig.platform.broker.BrokerCommand;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.inspect.ConsoleConsumerCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code pmig} command: every role of the system as a subcommand, listed in pipeline order. */
@Command(name = "pmig", mixinStandardHelpOptions = true, version = "pmig 0.1.0",
        description = "Kafka-driven, ML-scored live process migration for Linux.",
        subcommands = {
                BrokerCommand.class,
                ConsoleConsumerCommand.class,
        })
public final class Pmig {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        return run(new CommandLine(new Pmig()), null, args);
    }

    static int run(CommandLine commandLine, java.io.PrintWriter err, String... args) {
        if (err != null) {
            commandLine.setErr(err);
        }
        ConsoleConsumerCommand.register(commandLine);
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
