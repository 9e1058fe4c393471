package io.pmig.platform.config;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every size pmig takes, one way: bytes, or a number with a unit K, M, G or T - also written KiB, MiB, GiB, TiB, in
 * any case - always powers of 1024 ({@code 4GiB}, {@code 4G} and {@code 4096M} are the same). "GB" and the like are
 * refused rather than guessed (powers of 1000 or 1024?).
 */
public final class Sizes {

    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]?)(i?b)?", Pattern.CASE_INSENSITIVE);

    private Sizes() {
    }

    /** The size in bytes; a {@link ConfigException} naming {@code key} if {@code text} is not one. */
    public static long parse(String key, String text) {
        Matcher m = SIZE.matcher(text.strip());
        if (!m.matches()) {
            throw new ConfigException(key, "'" + text + "' is not a size: bytes, or a number with K, M, G or T"
                    + " (or KiB, MiB, GiB, TiB: powers of 1024), e.g. 4GiB, 4G or 4096M");
        }
        long unit = switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "k" -> 1L << 10;
            case "m" -> 1L << 20;
            case "g" -> 1L << 30;
            case "t" -> 1L << 40;
            default -> 1L;
        };
        String suffix = m.group(3) == null ? "" : m.group(3).toLowerCase(Locale.ROOT);
        if (unit == 1 && suffix.equals("ib")) {
            throw new ConfigException(key, "'" + text + "' has no unit before 'iB'; e.g. 4GiB");
        }
        if (unit != 1 && suffix.equals("b")) {
            String unitText = m.group(2).toUpperCase(Locale.ROOT);
            throw new ConfigException(key, "'" + text + "': unit '" + m.group(2) + m.group(3) + "' is ambiguous (powers of"
                    + " 1000 or 1024?); write " + m.group(1) + unitText + " or " + m.group(1) + unitText + "iB - the units"
                    + " K, M, G or T (also KiB, MiB, GiB, TiB) are powers of 1024");
        }
        if (unit == 1 && m.group(1).contains(".")) {
            throw new ConfigException(key, "'" + text + "' must be a whole number of bytes");
        }
        double bytes = Double.parseDouble(m.group(1)) * unit;
        if (bytes >= Long.MAX_VALUE) {
            throw new ConfigException(key, "'" + text + "' is out of range");
        }
        return (long) bytes;
    }
}
