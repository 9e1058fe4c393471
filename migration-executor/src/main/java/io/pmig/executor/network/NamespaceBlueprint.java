package io.pmig.executor.network;

import java.util.regex.Pattern;

/**
 * What a destination needs to build a workload's own network namespace before its source freezes it: the address
 * (with its prefix) and MAC of its interface, and the {@link NamespaceContents#digest} of everything criu would carry of
 * it, to which the built one must be equal.
 */
public record NamespaceBlueprint(String address, String mac, String digest) {

    private static final Pattern ADDRESS = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}");
    private static final Pattern MAC = Pattern.compile("[0-9a-f]{2}(:[0-9a-f]{2}){5}");

    /** Refuses values that are not an IPv4 address/prefix and a MAC (they end up as arguments of {@code ip}). */
    public NamespaceBlueprint {
        if (!ADDRESS.matcher(address).matches() || !MAC.matcher(mac).matches() || digest.isBlank()) {
            throw new IllegalArgumentException("not a workload namespace: address " + address + ", MAC " + mac);
        }
    }
}
