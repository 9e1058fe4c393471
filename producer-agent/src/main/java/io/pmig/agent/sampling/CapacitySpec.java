package io.pmig.agent.sampling;

import io.pmig.platform.config.ConfigException;
import io.pmig.schemas.NodeCapacity;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses a node capacity such as {@code cpus=2,mem=4GiB}. Memory takes binary units (KiB, MiB, GiB, TiB) or
 * plain bytes; decimal units like "GB" are refused rather than guessed. A key left out takes the host's figure.
 */
public final class CapacitySpec {

    public static final String OPTION = "--capacity";

    private static final Pattern MEMORY = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([A-Za-z]*)");

    private CapacitySpec() {
    }

    public static NodeCapacity parse(String spec, NodeCapacity hostDefaults) {
        if (spec == null || spec.isBlank()) {
            throw new ConfigException(OPTION, "is empty; expected e.g. cpus=2,mem=4GiB");
        }
        Double cpus = null;
        Long memBytes = null;
        for (String part : spec.split(",")) {
            String[] keyValue = part.split("=", 2);
            if (keyValue.length != 2 || keyValue[1].isBlank()) {
                throw new ConfigException(OPTION, "'" + part.strip() + "' is not KEY=VALUE; expected e.g. cpus=2,mem=4GiB");
            }
            String key = keyValue[0].strip();
            String value = keyValue[1].strip();
            switch (key) {
                case "cpus" -> {
                    if (cpus != null) {
                        throw new ConfigException(OPTION, "cpus given twice");
                    }
                    cpus = parseCpus(value);
                }
                case "mem" -> {
                    if (memBytes != null) {
                        throw new ConfigException(OPTION, "mem given twice");
                    }
                    memBytes = parseMemory(value);
                }
                default -> throw new ConfigException(OPTION, "unknown key '" + key + "'; known keys: cpus, mem");
            }
        }
        return new NodeCapacity(cpus != null ? cpus : hostDefaults.getCpus(),
                memBytes != null ? memBytes : hostDefaults.getMemBytes());
    }

    private static double parseCpus(String value) {
        try {
            double cpus = Double.parseDouble(value);
            if (!(cpus > 0) || Double.isInfinite(cpus)) {
                throw new ConfigException(OPTION, "cpus must be a positive number, got '" + value + "'");
            }
            return cpus;
        } catch (NumberFormatException e) {
            throw new ConfigException(OPTION, "cpus must be a positive number, got '" + value + "'");
        }
    }

    static long parseMemory(String value) {
        Matcher m = MEMORY.matcher(value);
        if (!m.matches()) {
            throw new ConfigException(OPTION, "mem '" + value + "' is not a size; expected e.g. 4GiB, 512MiB or 1073741824");
        }
        String unit = m.group(2);
        long multiplier = switch (unit.toLowerCase(Locale.ROOT)) {
            case "" -> 1L;
            case "kib" -> 1L << 10;
            case "mib" -> 1L << 20;
            case "gib" -> 1L << 30;
            case "tib" -> 1L << 40;
            default -> throw new ConfigException(OPTION, "unknown memory unit '" + unit + "' in mem=" + value
                    + "; use KiB, MiB, GiB, TiB or plain bytes");
        };
        if (multiplier == 1 && m.group(1).contains(".")) {
            throw new ConfigException(OPTION, "mem '" + value + "' must be a whole number of bytes");
        }
        double bytes = Double.parseDouble(m.group(1)) * multiplier;
        if (bytes < 1 || bytes > Long.MAX_VALUE) {
            throw new ConfigException(OPTION, "mem '" + value + "' is out of range");
        }
        return (long) bytes;
    }
}
