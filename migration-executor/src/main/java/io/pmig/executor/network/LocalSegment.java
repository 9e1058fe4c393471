package io.pmig.executor.network;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A workload segment for several nodes on one machine (tests, benchmarks), made of real kernel devices of its own:
 * one bridge per node (that node's workload bridge), each joined by a veth "cable" to a switch bridge, and a client in a
 * network namespace of its own plugged into the switch. A workload that moves from node a to node b moves from a's
 * bridge to b's, so the switch must learn its MAC on another port - as between hosts on one L2 segment. The segment is
 * a /24: workloads take their addresses from its lower half ({@link #range}), the client .1, nodes' bridges that are
 * given an address (to answer clients of frozen workloads, {@link FrozenClientRules}) .254 downwards. Only a node
 * bridge made with an address puts one in the node's namespace, so no other traffic leaves the segment;
 * {@link #close} removes every device.
 */
public final class LocalSegment implements AutoCloseable {

    private final String tag = "pn" + UUID.randomUUID().toString().substring(0, 5);
    private final AddressRange range;
    private final String clientAddress;
    private final String clientNamespace = tag + "cl";
    private final String switchBridge = tag + "sw";
    private final List<String> nodes = new ArrayList<>();
    private final List<String> nodeNamespaces = new ArrayList<>();
    private final int subnet;
    private String controlBridge;
    private int nodeAddresses;

    /**
     * A node that is a network namespace of its own: its address on the segment's control bridge (what its executor
     * listens on and reaches the broker and the other nodes through) and its workload bridge, made inside it and
     * cabled to the switch, holding {@code segmentAddress} (the node's own address on the workload segment). Run the
     * node's executor with {@link #launcher}.
     */
    public record NodeNamespace(String namespace, String address, String bridge, String segmentAddress) {
        /** A command prefix that runs its arguments in the node's namespace (with a /sys of that namespace). */
        public List<String> launcher() {
            return List.of("ip", "netns", "exec", namespace);
        }
    }

    /** A segment on a /24 of 10.213.0.0/16 picked at random; the client takes its router address (.1). */
    public LocalSegment() throws IOException {
        subnet = ThreadLocalRandom.current().nextInt(1, 255);
        range = AddressRange.parse("10.213." + subnet + ".0/25");
        clientAddress = "10.213." + subnet + ".1";
        sh(bridge(switchBridge)
                + " && ip netns add " + clientNamespace + " && ip -n " + clientNamespace + " link set lo up"
                + " && ip link add " + tag + "c type veth peer name eth0 netns " + clientNamespace
                + " && ip link set " + tag + "c master " + switchBridge + " up"
                + " && ip -n " + clientNamespace + " addr add " + clientAddress + "/24 dev eth0"
                + " && ip -n " + clientNamespace + " link set eth0 up");
    }

    /** The workload range to configure every node's executor with: the lower half of the segment's /24. */
    public AddressRange range() {
        return range;
    }

    /** Node {@code name}'s workload bridge, cabled to the switch; its name is what the executor is configured with. */
    public String nodeBridge(String name) throws IOException {
        return nodeBridge(name, false);
    }

    /**
     * {@link #nodeBridge(String)}, with an address of the node on the segment ({@link #nodeAddress}) if
     * {@code addressed}: in this namespace, so it adds a route to the segment here.
     */
    public String nodeBridge(String name, boolean addressed) throws IOException {
        String bridge = tag + "b" + name;
        sh(bridge(bridge) + (addressed ? " && ip addr add " + nextNodeAddress() + "/24 dev " + bridge : "")
                + " && ip link add " + tag + "u" + name + " type veth peer name " + tag + "s" + name
                + " && ip link set " + tag + "u" + name + " master " + bridge + " up"
                + " && ip link set " + tag + "s" + name + " master " + switchBridge + " up");
        nodes.add(name);
        return bridge;
    }

    /**
     * The address in this namespace through which node namespaces reach it (a broker for them listens there): the
     * control bridge's, 10.212.S.254 on a /24 of its own, made on first use.
     */
    public synchronized String controlAddress() throws IOException {
        if (controlBridge == null) {
            String bridge = tag + "ct";
            sh(bridge(bridge) + " && ip addr add 10.212." + subnet + ".254/24 dev " + bridge);
            controlBridge = bridge;
        }
        return "10.212." + subnet + ".254";
    }

    /**
     * Node {@code name} as a network namespace of its own (name: at most 7 characters): an address on the control
     * bridge and a workload bridge inside it with an address of the node on the segment, cabled to the switch like
     * {@link #nodeBridge}.
     */
    public synchronized NodeNamespace nodeNamespace(String name) throws IOException {
        controlAddress();
        String ns = tag + "n" + name;
        String address = "10.212." + subnet + "." + (nodeNamespaces.size() + 1);
        String bridge = "pmig-wl";
        String segmentAddress = nextNodeAddress();
        sh("ip netns add " + ns + " && ip -n " + ns + " link set lo up"
                + " && ip link add " + tag + "k" + name + " type veth peer name ctl netns " + ns
                + " && ip link set " + tag + "k" + name + " master " + controlBridge + " up"
                + " && ip -n " + ns + " addr add " + address + "/24 dev ctl && ip -n " + ns + " link set ctl up"
                + " && ip -n " + ns + " link add " + bridge + " type bridge forward_delay 0"
                + " && ip netns exec " + ns + " sysctl -qw net.ipv6.conf." + bridge + ".disable_ipv6=1"
                + " && ip -n " + ns + " addr add " + segmentAddress + "/24 dev " + bridge
                + " && ip -n " + ns + " link set " + bridge + " up"
                + " && ip link add " + tag + "s" + name + " type veth peer name upl netns " + ns
                + " && ip link set " + tag + "s" + name + " master " + switchBridge + " up"
                + " && ip -n " + ns + " link set upl master " + bridge + " up");
        nodeNamespaces.add(ns);
        return new NodeNamespace(ns, address, bridge, segmentAddress);
    }

    /** The next node address on the segment: .254, .253, ... (the upper half, outside {@link #range}). */
    private String nextNodeAddress() {
        return "10.213." + subnet + "." + (254 - nodeAddresses++);
    }

    /** argv, run in the client's namespace. */
    public List<String> inClient(List<String> argv) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", clientNamespace));
        cmd.addAll(argv);
        return cmd;
    }

    @Override
    public void close() throws IOException {
        StringBuilder script = new StringBuilder("ip netns del " + clientNamespace + "; ip link del " + switchBridge + ";");
        for (String ns : nodeNamespaces) {
            script.append(" ip netns del ").append(ns).append(";");
        }
        if (controlBridge != null) {
            script.append(" ip link del ").append(controlBridge).append(";");
        }
        for (String node : nodes) {
            script.append(" ip link del ").append(tag).append("b").append(node).append("; ip link del ")
                    .append(tag).append("u").append(node).append(";");
        }
        sh(script + " true");
    }

    /** A bridge that is up, forwards at once (no STP delay) and has no IPv6 of its own. */
    private static String bridge(String name) {
        return "ip link add " + name + " type bridge forward_delay 0 && sysctl -qw net.ipv6.conf." + name
                + ".disable_ipv6=1 && ip link set " + name + " up";
    }

    private static void sh(String script) throws IOException {
        Process p = new ProcessBuilder("sh", "-c", script).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException("cannot set up the local workload segment (needs root and iproute2): " + out.strip());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while setting up the local workload segment", e);
        }
    }
}
