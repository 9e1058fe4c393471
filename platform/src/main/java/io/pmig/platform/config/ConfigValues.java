package io.pmig.platform.config;

import java.util.Locale;

/**
 * The value parsers the roles' key-based configs share (ExecutorConfig, AnalyticsConfig): each reads text, returns the
 * typed value, and refuses anything else with a {@link ConfigException} naming the key and saying what it takes.
 * Sizes, durations and endpoints have their own: {@link Sizes}, {@link Durations}, {@link HostPort}.
 */
public final class ConfigValues {

    private ConfigValues() {
    }

    public static String nonEmpty(String key, String text) {
        if (text.isEmpty()) {
            throw new ConfigException(key, "must not be empty");
        }
        return text;
    }

    public static long longAtLeast(String key, String text, long min) {
        long value;
        try {
            value = Long.parseLong(text.replace("_", ""));
        } catch (NumberFormatException e) {
            throw new ConfigException(key, "'" + text + "' is not a whole number");
        }
        if (value < min) {
            throw new ConfigException(key, value + " is below the minimum " + min);
        }
        return value;
    }

    public static int intAtLeast(String key, String text, int min) {
        return intBetween(key, text, min, Integer.MAX_VALUE);
    }

    public static int intBetween(String key, String text, int min, int max) {
        long value = longAtLeast(key, text, min);
        if (value > max) {
            throw new ConfigException(key, value + (max == Integer.MAX_VALUE ? " is too large" : " is above the maximum " + max));
        }
        return (int) value;
    }

    /** A TCP port, 0 (any free one) to 65535. */
    public static int port(String key, String text) {
        long port = longAtLeast(key, text, 0);
        if (port > 65535) {
            throw new ConfigException(key, port + " is not a port (0 to 65535)");
        }
        return (int) port;
    }

    public static double doubleAtLeast(String key, String text, double min) {
        double value = number(key, text);
        if (!(value >= min) || Double.isInfinite(value)) {
            throw new ConfigException(key, text + " is below the minimum " + min);
        }
        return value;
    }

    public static double doubleBetween(String key, String text, double min, double max) {
        double value = number(key, text);
        if (!(value >= min && value <= max)) {
            throw new ConfigException(key, text + " is outside [" + min + ", " + max + "]");
        }
        return value;
    }

    public static boolean bool(String key, String text) {
        return switch (text.toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new ConfigException(key, "'" + text + "' is not true or false");
        };
    }

    private static double number(String key, String text) {
        try {
            return Double.parseDouble(text);
        } catch (NumberFormatException e) {
            throw new ConfigException(key, "'" + text + "' is not a number");
        }
    }
}
