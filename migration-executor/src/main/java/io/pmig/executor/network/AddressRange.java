package io.pmig.executor.network;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The cluster's workload range (IPv4 CIDR, the same on every node): the addresses workloads with their own network
 * identity get. The range is one L2 segment: the network and broadcast addresses and the first host address (left to
 * a router or the nodes' bridges) are never handed out.
 */
public record AddressRange(int network, int prefixLength) {

    private static final Pattern CIDR = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})/(\\d{1,2})");
    private static final Pattern ADDRESS = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})");

    public AddressRange {
        if (prefixLength < 8 || prefixLength > 29) {
            throw new IllegalArgumentException("a workload range needs a prefix length of 8 to 29, got /" + prefixLength);
        }
        if ((network & ~mask(prefixLength)) != 0) {
            throw new IllegalArgumentException(format(network) + "/" + prefixLength + " is not a network address (host"
                    + " bits set); did you mean " + format(network & mask(prefixLength)) + "/" + prefixLength + "?");
        }
    }

    /** "10.213.0.0/16"; an error message says what is wrong with the text. */
    public static AddressRange parse(String cidr) {
        Matcher m = CIDR.matcher(cidr.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + cidr + "' is not an IPv4 range A.B.C.D/PREFIX");
        }
        return new AddressRange(octets(m), Integer.parseInt(m.group(5)));
    }

    /** "10.213.0.7" as an int, if it is a dotted IPv4 address. */
    public static Optional<Integer> parseAddress(String address) {
        Matcher m = ADDRESS.matcher(address.strip());
        if (!m.matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(octets(m));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** Host addresses handed out: all but the network, the first host (router/bridge) and the broadcast address. */
    public int size() {
        return (1 << (32 - prefixLength)) - 3;
    }

    /** The i-th address handed out, 0 ≤ i < {@link #size()}. */
    public int address(int i) {
        return network + 2 + Math.floorMod(i, size());
    }

    /** Why {@code address} cannot be handed out from this range, if it cannot. */
    public Optional<String> refusal(int address) {
        if ((address & mask(prefixLength)) != network) {
            return Optional.of(format(address) + " is outside the workload range " + this);
        }
        int offset = address - network;
        if (offset < 2 || offset == (1 << (32 - prefixLength)) - 1) {
            return Optional.of(format(address) + " is the network, router or broadcast address of " + this);
        }
        return Optional.empty();
    }

    /** address/prefix, as the workload's interface carries it. */
    public String withPrefix(int address) {
        return format(address) + "/" + prefixLength;
    }

    public static String format(int address) {
        return ((address >>> 24) & 255) + "." + ((address >>> 16) & 255) + "." + ((address >>> 8) & 255) + "." + (address & 255);
    }

    @Override
    public String toString() {
        return format(network) + "/" + prefixLength;
    }

    private static int mask(int prefixLength) {
        return prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
    }

    private static int octets(Matcher m) {
        int value = 0;
        for (int i = 1; i <= 4; i++) {
            int octet = Integer.parseInt(m.group(i));
            if (octet > 255) {
                throw new IllegalArgumentException("'" + m.group() + "': " + octet + " is not an octet");
            }
            value = value << 8 | octet;
        }
        return value;
    }
}
