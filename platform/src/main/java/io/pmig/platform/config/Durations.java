package io.pmig.platform.config;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every duration pmig takes, one way: a whole number with a unit {@code ms}, {@code s}, {@code m} or {@code h}, in any
 * case ({@code 500ms}, {@code 30s}, {@code 2m}, {@code 1h}). A bare number keeps the unit its option or key always had
 * ({@code --timeout-s 30} is 30 s, {@code executor.prepare.timeout.ms=30000} is 30 s), so old spellings keep working.
 */
public final class Durations {

    private static final Pattern DURATION = Pattern.compile("(\\d[\\d_]*)\\s*(ms|s|m|h)?", Pattern.CASE_INSENSITIVE);

    private Durations() {
    }

    /** The duration {@code text} names, a bare number in {@code bareUnit}; a {@link ConfigException} naming {@code key} if none. */
    public static Duration parse(String key, String text, ChronoUnit bareUnit) {
        Matcher m = DURATION.matcher(text.strip());
        if (!m.matches() || m.group(1).endsWith("_")) {
            throw new ConfigException(key, "'" + text + "' is not a duration: a whole number with ms, s, m or h"
                    + " (e.g. 500ms, 30s, 2m), or a bare number of " + unitName(bareUnit));
        }
        ChronoUnit unit = m.group(2) == null ? bareUnit : switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "ms" -> ChronoUnit.MILLIS;
            case "s" -> ChronoUnit.SECONDS;
            case "m" -> ChronoUnit.MINUTES;
            default -> ChronoUnit.HOURS;
        };
        try {
            Duration duration = Duration.of(Long.parseLong(m.group(1).replace("_", "")), unit);
            duration.toMillis(); // every user of a duration reads it in ms at most
            return duration;
        } catch (ArithmeticException | NumberFormatException e) {
            throw new ConfigException(key, "'" + text + "' is out of range");
        }
    }

    /** For a key in ms: the duration in ms, at least {@code minMs}. */
    public static long millisAtLeast(String key, String text, long minMs) {
        long ms = parse(key, text, ChronoUnit.MILLIS).toMillis();
        if (ms < minMs) {
            throw new ConfigException(key, text + " is below the minimum " + minMs + " ms");
        }
        return ms;
    }

    /** How a duration reads in messages and help: the largest unit that divides it ({@code 30s}, {@code 1500ms}). */
    public static String format(Duration duration) {
        long ms = duration.toMillis();
        if (ms != 0 && ms % 3_600_000 == 0) {
            return ms / 3_600_000 + "h";
        }
        if (ms != 0 && ms % 60_000 == 0) {
            return ms / 60_000 + "m";
        }
        return ms % 1000 == 0 ? ms / 1000 + "s" : ms + "ms";
    }

    static String unitName(ChronoUnit unit) {
        return switch (unit) {
            case MILLIS -> "milliseconds";
            case SECONDS -> "seconds";
            case MINUTES -> "minutes";
            case HOURS -> "hours";
            default -> unit.toString().toLowerCase(Locale.ROOT);
        };
    }
}
