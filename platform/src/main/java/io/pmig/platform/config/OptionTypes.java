package io.pmig.platform.config;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import picocli.CommandLine;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.TypeConversionException;

/**
 * The picocli converters every pmig command uses for sizes, durations and endpoints, so an option's value means the
 * same in every command ({@link Sizes}, {@link Durations}, {@link HostPort} do the parsing). A duration option names
 * its converter by the unit a bare number keeps ({@code converter = OptionTypes.Seconds.class}), so old spellings such
 * as {@code --timeout-s 30} still work. {@link #install} makes a bad value one line naming the option, exit 2.
 */
public final class OptionTypes {

    private OptionTypes() {
    }

    /** A duration whose bare number is in seconds. */
    public static final class Seconds implements ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            return duration(value, ChronoUnit.SECONDS);
        }
    }

    /** A duration whose bare number is in milliseconds. */
    public static final class Millis implements ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            return duration(value, ChronoUnit.MILLIS);
        }
    }

    /** One HOST:PORT. */
    public static final class Endpoint implements ITypeConverter<HostPort> {
        @Override
        public HostPort convert(String value) {
            try {
                return HostPort.parse("", value);
            } catch (ConfigException e) {
                throw new TypeConversionException(e.problem());
            }
        }
    }

    /** A comma-separated list of HOST:PORT (Kafka's bootstrap servers), checked and kept as written. */
    public static final class EndpointList implements ITypeConverter<String> {
        @Override
        public String convert(String value) {
            try {
                HostPort.parseList("", value);
                return value;
            } catch (ConfigException e) {
                throw new TypeConversionException(e.problem());
            }
        }
    }

    /** A size in bytes ({@link Sizes}). */
    public static final class Size implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            try {
                return Sizes.parse("", value);
            } catch (ConfigException e) {
                throw new TypeConversionException(e.problem());
            }
        }
    }

    /**
     * pmig's conventions on a command line and its subcommands: a HostPort option needs no converter of its own, and a
     * value an option cannot take is one line naming the option and what it accepts (exit 2), not the usage text.
     */
    public static CommandLine install(CommandLine commandLine) {
        commandLine.registerConverter(HostPort.class, new Endpoint());
        commandLine.setCaseInsensitiveEnumValuesAllowed(true);
        CommandLine.IParameterExceptionHandler usage = commandLine.getParameterExceptionHandler();
        commandLine.setParameterExceptionHandler((e, args) -> {
            if (!(e.getCause() instanceof TypeConversionException) || !(e.getArgSpec() instanceof OptionSpec option)) {
                return usage.handleParseException(e, args);
            }
            CommandLine cmd = e.getCommandLine();
            String command = cmd.getCommandSpec().qualifiedName();
            String typed = typedName(option, args);
            cmd.getErr().println(command + ": " + (typed != null ? typed : option.longestName()) + ": " + e.getCause().getMessage()
                    + " (see " + command + " --help)");
            return cmd.getCommandSpec().exitCodeOnInvalidInput();
        });
        return commandLine;
    }

    /**
     * The name an option was given under on this command line ({@code --timeout} or its alias {@code --timeout-s}), so
     * an error names what the operator typed; {@code anyName} if it was not given.
     */
    public static String givenName(CommandSpec spec, String anyName) {
        OptionSpec option = spec.findOption(anyName);
        if (option == null || spec.commandLine() == null || spec.commandLine().getParseResult() == null) {
            return anyName;
        }
        String typed = typedName(option, spec.commandLine().getParseResult().originalArgs().toArray(String[]::new));
        return typed != null ? typed : anyName;
    }

    /** The first of the option's names on the command line; null if none is. */
    private static String typedName(OptionSpec option, String[] args) {
        for (String arg : args) {
            for (String name : option.names()) {
                if (arg.equals(name) || arg.startsWith(name + "=")) {
                    return name;
                }
            }
        }
        return null;
    }

    private static Duration duration(String value, ChronoUnit bareUnit) {
        try {
            return Durations.parse("", value, bareUnit);
        } catch (ConfigException e) {
            throw new TypeConversionException(e.problem());
        }
    }
}
