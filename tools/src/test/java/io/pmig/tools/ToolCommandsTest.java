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
        assertEquals(twoMinutes, durationGiven("bench", "outcomes", "--duration", "2m"));
        assertEquals(twoMinutes, durationGiven("bench", "outcomes", "--horizon", "2m"));
        assertEquals(twoMinutes, durationGiven("bench", "outcomes", "--duration-s", "120"));
        assertEquals(twoMinutes, durationGiven("bench", "outcomes", "--horizon-s", "120"));
    }

    /** A value an option cannot take is one line naming the option as typed, exit 2, as in every other command. */
    @Test
    void aBadDurationIsOneLineNamingTheOption() {
        for (String[] args : List.of(new String[] {"bench", "outcomes", "--horizon", "2 weeks"},
                new String[] {"bench", "outcomes", "--duration-s=-5"})) {
            StringWriter err = new StringWriter();
            CommandLine cmd = Pmig.commandLine();
            cmd.setErr(new PrintWriter(err));
            int status = OptionTypes.install(cmd).execute(args);
            String text = err.toString();
            String option = args[2].split("=")[0];
            assertEquals(2, status, text);
            assertEquals(1, text.strip().lines().count(), "one line:\n" + text);
            assertTrue(text.startsWith("pmig bench outcomes: " + option + ": ") && text.contains("is not a duration"), text);
        }
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
