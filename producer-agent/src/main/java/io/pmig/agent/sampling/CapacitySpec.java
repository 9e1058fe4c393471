package io.pmig.agent.sampling;

import io.pmig.platform.config.ConfigException;
import io.pmig.platform.config.Sizes;
import io.pmig.schemas.NodeCapacity;

/**
 * Parses a node capacity such as {@code cpus=2,mem=4GiB}. Memory is a size as every pmig command takes one
 * ({@link Sizes}: 4GiB, 4G, 4096M or bytes; "GB" is refused rather than guessed). A key left out takes the host's figure.
 */
public final class CapacitySpec {

    public static final String OPTION = "--capacity";


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
        long bytes = Sizes.parse(OPTION, value);
        if (bytes < 1) {
            throw new ConfigException(OPTION, "mem must be at least 1 byte, got '" + value + "'");
        }
        return bytes;
    }
}
