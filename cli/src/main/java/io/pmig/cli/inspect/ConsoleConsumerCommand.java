package io.pmig.cli.inspect;

import io.pmig.platform.inspect.PmigMessageFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.kafka.tools.consumer.ConsoleConsumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code pmig console-consumer}: Kafka's own ConsoleConsumer with pmig's JSON formatter preset. Every flag
 * is passed through to the stock tool, so its documentation applies unchanged.
 */
@Command(name = "console-consumer", mixinStandardHelpOptions = false,
        description = {"Run Kafka's stock console consumer with pmig's JSON formatter preset.",
                "Takes the stock tool's flags: --topic, --from-beginning, --max-messages, --timeout-ms,",
                "--formatter-property print.offset=true, --consumer.config FILE, ... (--bootstrap-server defaults to 127.0.0.1:9092).",
                "Example: pmig console-consumer --topic pmig.events --from-beginning"})
public final class ConsoleConsumerCommand implements Callable<Integer> {

    /** Everything after the command name, in order; see {@link #register}. */
    @Parameters(paramLabel = "STOCK-FLAGS", description = "Flags of Kafka's kafka-console-consumer.sh.")
    List<String> stockArgs = new ArrayList<>();

    @picocli.CommandLine.Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and the stock tool's flags.")
    boolean help;

    /** The stock tool's flags are unknown to picocli: keep them as positional parameters, in order. */
    public static void register(picocli.CommandLine parent) {
        parent.getSubcommands().get("console-consumer").setUnmatchedOptionsArePositionalParams(true);
    }

    @Override
    public Integer call() throws Exception {
        ConsoleConsumer.main(stockArguments(stockArgs).toArray(String[]::new));
        return 0;
    }

    /**
     * The stock tool's arguments: {@code --flag=value} split in two (so that a given {@code --bootstrap-server=...}
     * is seen, instead of a second default being added and the stock tool dying on the duplicate), then pmig's
     * defaults for the bootstrap server, the formatter and read_committed where none is given.
     */
    static List<String> stockArguments(List<String> given) {
        List<String> args = new ArrayList<>();
        for (String arg : given) {
            int eq = arg.indexOf('=');
            if (arg.startsWith("--") && eq > 2) {
                args.add(arg.substring(0, eq));
                args.add(arg.substring(eq + 1));
            } else {
                args.add(arg);
            }
        }
        if (!args.contains("--bootstrap-server")) {
            args.add("--bootstrap-server");
            args.add("127.0.0.1:9092");
        }
        if (!args.contains("--formatter")) {
            args.add("--formatter");
            args.add(PmigMessageFormatter.class.getName());
        }
        if (!args.contains("--isolation-level") && args.stream().noneMatch(a -> a.contains("isolation.level"))) {
            // what pmig's readers see: a COMPLETED whose transaction was aborted never happened
            args.add("--isolation-level");
            args.add("read_committed");
        }
        return args;
    }
}
