package io.pmig.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.cli.Pmig;
import io.pmig.platform.config.OptionTypes;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The tools jar's commands as pmig lists them when that jar is on the class path, with pmig's conventions. */
class ToolCommandsTest {

    @Test
    void benchAndChaosJoinPmigAfterItsOwnCommands() {
        List<String> names = List.copyOf(Pmig.commandLine().getSubcommands().keySet());
        assertEquals(List.of("chaos", "bench"), names.subList(names.size() - 2, names.size()));
        for (String args : List.of("chaos", "bench", "bench pipeline", "bench migrate", "bench agent", "bench load", "bench outcomes")) {
            StringWriter out = new StringWriter();
            CommandLine cmd = Pmig.commandLine();
            cmd.setOut(new PrintWriter(out));
            assertEquals(0, cmd.execute((args + " --help").split(" ")), args + " --help");
            assertTrue(out.toString().contains("Usage: pmig " + args), args + " prints its usage:\n" + out);
        }
    }

    /** The same duration spelling means the same as in every other command; the old spellings are kept. */
    @Test
    void durationsAreReadAsEverywhere() {
        Duration twoMinutes = Duration.ofMinutes(2);
        assertEquals(twoMinutes, durationGiven("bench", "agent", "--warmup", "2m"));
        assertEquals(twoMinutes, durationGiven("bench", "load", "--episode", "2m"));
        assertEquals(twoMinutes, durationGiven("chaos", "--trial-timeout", "2m"));
        assertEquals(twoMinutes, durationGiven("bench", "agent", "--warmup-seconds", "120"));
        assertEquals(twoMinutes, durationGiven("bench", "load", "--episode-s", "120"));
        assertEquals(twoMinutes, durationGiven("bench", "pipeline", "--live-seconds", "120"));
    }

    /** The Duration the command's one duration option was given, as its converter read it. */
    static Duration durationGiven(String... args) {
        CommandLine.ParseResult parsed = OptionTypes.install(Pmig.commandLine()).parseArgs(args);
        while (parsed.hasSubcommand()) {
            parsed = parsed.subcommand();
        }
        List<Duration> durations = parsed.matchedOptions().stream().map(o -> o.getValue())
                .filter(Duration.class::isInstance).map(Duration.class::cast).toList();
        assertEquals(1, durations.size(), String.join(" ", args));
        return durations.get(0);
    }
}
