package io.pmig.executor.migration;

import io.pmig.executor.network.NamespaceBlueprint;
import io.pmig.executor.transfer.TransferCredentials;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What source and destination tell each other over the authenticated connection before anything is frozen
 * (the HELLO exchange): the kind of workload and the version of its checkpoint format (criu's, or the Docker
 * engine's), kernel, which network namespace they are in, and the TLS certificate criu must pin for the memory pages. The destination's reply is MACed with the migration's key, so neither a page
 * address nor a certificate can be swapped on the way.
 *
 * @param network  boot id + network-namespace inode: equal only when both run in one network namespace of one host
 * @param tlsCert  PEM certificate, or null when the mode moves no memory over criu's own connections
 * @param pages    the destination's page server (PAGE_SERVER), else null
 * @param ownNetwork the source's workload has its own network identity: the destination must have a workload bridge
 * @param namespace  from the source: the workload's namespace, for the destination to build an equal one before the
 *                   freeze; from the destination: the one it built (the source then leaves it out of the dump); or null
 */
record NodeFacts(String kind, String criuVersion, String kernel, String network, long bytesNeeded, boolean holdsAddresses,
                 String tlsCert, String pages, boolean ownNetwork, NamespaceBlueprint namespace) {

    static NodeFacts ofThisNode(String kind, String criuVersion, long bytesNeeded, boolean holdsAddresses, String tlsCert,
                                String pages) {
        return new NodeFacts(kind, criuVersion, thisKernel(), thisNetwork(), bytesNeeded, holdsAddresses, tlsCert, pages,
                false, null);
    }

    NodeFacts withOwnNetwork(boolean own) {
        return new NodeFacts(kind, criuVersion, kernel, network, bytesNeeded, holdsAddresses, tlsCert, pages, own, namespace);
    }

    NodeFacts withNamespace(NamespaceBlueprint ns) {
        return new NodeFacts(kind, criuVersion, kernel, network, bytesNeeded, holdsAddresses, tlsCert, pages, ownNetwork, ns);
    }

    /**
     * Whether the source must dump locally and let go of its frozen tree before the restore: the two nodes share one
     * network namespace and the workload holds addresses in it (see {@link SourceMigration}). Both sides decide
     * it from the same facts, so the destination starts no page server that would never be used.
     */
    static boolean releaseBeforeRestore(NodeFacts source, String destinationNetwork) {
        return source.holdsAddresses() && source.network().equals(destinationNetwork);
    }

    Map<String, String> toArguments() {
        Map<String, String> args = new LinkedHashMap<>();
        args.put("kind", kind);
        args.put("criu", criuVersion);
        args.put("kernel", kernel);
        args.put("network", network);
        args.put("bytes", String.valueOf(bytesNeeded));
        args.put("addresses", String.valueOf(holdsAddresses));
        if (ownNetwork) {
            args.put("ownNetwork", "true");
        }
        if (tlsCert != null) {
            args.put("tlsCert", Base64.getEncoder().encodeToString(tlsCert.getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
        }
        if (pages != null) {
            args.put("pages", pages);
        }
        if (namespace != null) {
            args.put("nsAddress", namespace.address());
            args.put("nsMac", namespace.mac());
            args.put("nsDigest", namespace.digest());
        }
        return args;
    }

    static NodeFacts fromArguments(Map<String, String> args) {
        String cert = args.get("tlsCert");
        long bytes;
        try {
            bytes = Long.parseLong(args.getOrDefault("bytes", "0"));
        } catch (NumberFormatException e) {
            bytes = 0;
        }
        return new NodeFacts(args.getOrDefault("kind", "process"), args.getOrDefault("criu", "0.0"), args.getOrDefault("kernel", "?"),
                args.getOrDefault("network", "?"), bytes, Boolean.parseBoolean(args.get("addresses")),
                cert == null ? null : new String(Base64.getDecoder().decode(cert), java.nio.charset.StandardCharsets.US_ASCII),
                args.get("pages"), Boolean.parseBoolean(args.get("ownNetwork")),
                namespaceOf(args));
    }

    private static NamespaceBlueprint namespaceOf(Map<String, String> args) {
        if (!args.containsKey("nsDigest")) {
            return null;
        }
        try {
            return new NamespaceBlueprint(args.getOrDefault("nsAddress", ""), args.getOrDefault("nsMac", ""), args.get("nsDigest"));
        } catch (IllegalArgumentException e) {
            return null; // criu dumps the namespace then, as before
        }
    }

    /** The destination's reply: its facts, MACed. */
    String signedReply(TransferCredentials credentials, String migrationId) {
        StringBuilder reply = new StringBuilder();
        toArguments().forEach((k, v) -> reply.append(k).append('=').append(v).append(';'));
        String body = reply.toString();
        return body + "mac=" + credentials.sign(migrationId, body);
    }

    /** Reads and checks a {@link #signedReply}; throws if it was not made with this migration's key. */
    static NodeFacts verifiedReply(String reply, TransferCredentials credentials, String migrationId) {
        int at = reply.lastIndexOf("mac=");
        if (at < 0 || !credentials.verify(migrationId, reply.substring(0, at), reply.substring(at + 4).strip())) {
            throw new IllegalArgumentException("the destination's HELLO reply failed its MAC check");
        }
        return fromArguments(SourceMigration.parseReply(reply.substring(0, at)));
    }

    static String thisKernel() {
        return read(Path.of("/proc/sys/kernel/osrelease"));
    }

    static String thisNetwork() {
        try {
            return read(Path.of("/proc/sys/kernel/random/boot_id")) + "/"
                    + Files.readSymbolicLink(Path.of("/proc/self/ns/net"));
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file).strip();
        } catch (IOException e) {
            return "unknown";
        }
    }
}
