package io.pmig.executor.network;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's side of workloads with their own network identity (NETWORK-IDENTITY.md): each such workload has its own
 * network namespace with one veth, {@link #INTERFACE}, holding its address; the other end (the "host side") sits in
 * the executor's namespace, enslaved to the node's workload bridge, which carries the cluster's workload segment.
 * criu dumps the workload's namespace, veth included, with no option; a restore re-creates the host side on this
 * node's bridge ({@link #restoreOptions}). As the address lives in the workload's namespace, a frozen source and its
 * restored copy can coexist on one host: the source only takes its host side down ({@link #withdraw}) so that its
 * frozen kernel stops answering ARP for the address.
 */
public final class WorkloadNetwork {

    /** The workload's interface inside its namespace, on every node. */
    public static final String INTERFACE = "eth0";
    /** Beside the images: the dumped workload had its own network namespace (criu dumped it, with its veth). */
    public static final String IMAGE_MARKER = "workload-network.properties";
    private static final Pattern PEER_INDEX = Pattern.compile(INTERFACE + "@if(\\d+)");
    private static final Pattern INET = Pattern.compile("inet (\\d+\\.\\d+\\.\\d+\\.\\d+/\\d+)");
    private static final Pattern MAC = Pattern.compile("link/ether ([0-9a-f:]{17})");
    private static final Pattern MAC_ADDRESS = Pattern.compile("[0-9a-f]{2}(:[0-9a-f]{2}){5}");
    private static final Logger log = LoggerFactory.getLogger(WorkloadNetwork.class);
    /** What {@code executor.workload.handshake.wait.ms} defaults to. */
    public static final Duration DEFAULT_HANDSHAKE_WAIT = Duration.ofSeconds(2);

    private final String node;
    private final String bridge;
    private final AddressRange range;
    private final boolean answerUnreachable;
    private final Duration handshakeWait;

    /** This node's workload network: host sides attach to {@code bridge} in the executor's network namespace. */
    public WorkloadNetwork(String node, String bridge, AddressRange range) {
        this(node, bridge, range, true, DEFAULT_HANDSHAKE_WAIT);
    }

    /**
     * As {@link #WorkloadNetwork(String, String, AddressRange)}; {@code answerUnreachable}: whether clients of a
     * workload frozen here for a migration are answered with ICMP host-unreachable ({@link FrozenClientRules});
     * {@code handshakeWait}: how long, once new connections are held, a freeze waits at most for the workload's
     * handshakes to settle ({@link FrozenClientRules#handshakes}).
     */
    public WorkloadNetwork(String node, String bridge, AddressRange range, boolean answerUnreachable, Duration handshakeWait) {
        this.node = node;
        this.bridge = bridge;
        this.range = range;
        this.answerUnreachable = answerUnreachable;
        this.handshakeWait = handshakeWait;
    }

    public boolean answersUnreachable() {
        return answerUnreachable;
    }

    public Duration handshakeWait() {
        return handshakeWait;
    }

    /** The rules answering the clients of {@code workloadId} while it is frozen here, written with {@code nft}. */
    public FrozenClientRules frozenClientRules(String workloadId, Path nft) {
        return new FrozenClientRules(nft, bridge, hostSide(workloadId));
    }

    public String bridge() {
        return bridge;
    }

    public AddressRange range() {
        return range;
    }

    /** Why this node cannot attach workloads now (the bridge is missing or down), if it cannot. */
    public Optional<String> problem() {
        Path dev = Path.of("/sys/class/net", bridge);
        if (!Files.isDirectory(dev.resolve("bridge"))) {
            return Optional.of("the workload bridge " + bridge + " (executor.workload.bridge) is not a bridge in the"
                    + " executor's network namespace" + (Files.exists(dev) ? "" : ": no such device"));
        }
        try {
            String state = Files.readString(dev.resolve("operstate")).strip();
            if (!(state.equals("up") || state.equals("unknown"))) {
                return Optional.of("the workload bridge " + bridge + " is " + state + " (ip link set " + bridge + " up)");
            }
        } catch (IOException e) {
            return Optional.of("cannot read the state of " + bridge + ": " + e.getMessage());
        }
        return Optional.empty();
    }

    /** The host side's name for a workload on this node: unique per node and workload, at most 15 characters. */
    public String hostSide(String workloadId) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest((node + "/" + workloadId).getBytes(StandardCharsets.UTF_8));
            return "pw" + HexFormat.of().formatHex(h).substring(0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A new network namespace for a workload, wired: the veth pair, the host side up on the bridge, {@code cidr}
     * (address/prefix) on {@link #INTERFACE}. A holder process keeps the namespace until the workload's init is in
     * it ({@link Prepared#close}). Launch the init through {@link Prepared#enter}.
     */
    public Prepared prepare(String workloadId, String cidr) throws IOException {
        String host = hostSide(workloadId);
        delete(host); // a leftover of a launch that died half-way
        // `unshare` rather than `ip netns add`: a named namespace is an nsfs mount the workload's mounts would copy
        Process holder = new ProcessBuilder("unshare", "--net", "sleep", "600")
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        Prepared prepared = new Prepared(holder, host);
        try {
            String ns = "/proc/" + holder.pid() + "/ns/net";
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!hasOwnNamespace((int) holder.pid())) {
                if (System.nanoTime() > deadline || !holder.isAlive()) {
                    throw new IOException("unshare --net did not make a network namespace");
                }
                Thread.sleep(5);
            }
            run("ip", "link", "add", host, "type", "veth", "peer", "name", INTERFACE, "netns", String.valueOf(holder.pid()));
            run("ip", "link", "set", host, "master", bridge, "up");
            // arp_notify: the kernel announces the address whenever the link comes up or its MAC is set (announce)
            run("nsenter", "--net=" + ns, "sh", "-c", "ip link set lo up && echo 1 > /proc/sys/net/ipv4/conf/" + INTERFACE
                    + "/arp_notify && ip addr add \"$0\" dev " + INTERFACE + " && ip link set " + INTERFACE + " up", cidr);
            return prepared;
        } catch (IOException | RuntimeException e) {
            prepared.close();
            delete(host);
            throw e;
        } catch (InterruptedException e) {
            prepared.close();
            delete(host);
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while preparing the network of " + workloadId, e);
        }
    }

    /**
     * A namespace for a migrated workload, built before its source freezes it (NETWORK-IDENTITY.md, "The namespace
     * built by the destination"): the veth with the workload's MAC, {@code cidr} on {@link #INTERFACE}, arp_notify, as
     * {@link #prepare} does; its host side stays down and off the bridge until the restore succeeded ({@link #attach}),
     * so nothing on the segment reaches it while the source still runs. The holder lives at most {@code holdFor}.
     */
    public Prepared prepareForRestore(String workloadId, String cidr, String mac, Duration holdFor) throws IOException {
        String host = hostSide(workloadId);
        delete(host); // left by a copy that died here, or by an earlier attempt
        Process holder = new ProcessBuilder("unshare", "--net", "sleep", String.valueOf(Math.max(1, holdFor.toSeconds())))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        Prepared prepared = new Prepared(holder, host);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!hasOwnNamespace((int) holder.pid())) {
                if (System.nanoTime() > deadline || !holder.isAlive()) {
                    throw new IOException("unshare --net did not make a network namespace");
                }
                Thread.sleep(2);
            }
            run("ip", "link", "add", host, "type", "veth", "peer", "name", INTERFACE, "address", mac,
                    "netns", String.valueOf(holder.pid()));
            run("nsenter", "--net=" + prepared.namespace(), "sh", "-c", "ip link set lo up && echo 1 >"
                    + " /proc/sys/net/ipv4/conf/" + INTERFACE + "/arp_notify && ip addr add \"$0\" dev " + INTERFACE
                    + " && ip link set " + INTERFACE + " up", cidr);
            return prepared;
        } catch (IOException | RuntimeException e) {
            prepared.discard();
            throw e;
        } catch (InterruptedException e) {
            prepared.discard();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while preparing the network of " + workloadId, e);
        }
    }

    /** A wired namespace waiting for its workload. */
    public static final class Prepared implements AutoCloseable {
        private final Process holder;
        private final String hostSide;
        private boolean handedOver;

        Prepared(Process holder, String hostSide) {
            this.holder = holder;
            this.hostSide = hostSide;
        }

        /** The command prefix that runs a program in the namespace. */
        public List<String> enter() {
            return List.of("nsenter", "--net=" + namespace());
        }

        /** The namespace's file (criu restores into it through a descriptor opened on it). */
        public String namespace() {
            return "/proc/" + holder.pid() + "/ns/net";
        }

        /** The holder's pid: its network namespace is the prepared one. */
        public int pid() {
            return (int) holder.pid();
        }

        public String hostSide() {
            return hostSide;
        }

        /** Ends the holder: from now on the workload's processes keep the namespace (and its veth) alive. */
        @Override
        public void close() {
            holder.destroyForcibly();
        }

        /** A restored workload is in the namespace: it keeps it (and its veth) from now on. */
        public synchronized void handOver() {
            handedOver = true;
            close();
        }

        /** Unless a workload was restored into it: the holder ends and the veth goes (nothing else is in it). */
        public synchronized void discard() {
            if (!handedOver) {
                close();
                delete(hostSide);
            }
        }
    }

    /** True if the process is in a network namespace other than the executor's. */
    public static boolean hasOwnNamespace(int pid) {
        try {
            return !Files.readSymbolicLink(Path.of("/proc", String.valueOf(pid), "ns", "net"))
                    .equals(Files.readSymbolicLink(Path.of("/proc/self/ns/net")));
        } catch (IOException e) {
            return false;
        }
    }

    /** The workload's own address (address/prefix on {@link #INTERFACE}), if it has its own namespace. */
    public static Optional<String> addressOf(int initPid) {
        if (!hasOwnNamespace(initPid)) {
            return Optional.empty();
        }
        try {
            Matcher m = INET.matcher(output("nsenter", "--net=/proc/" + initPid + "/ns/net", "ip", "-o", "-4", "addr",
                    "show", "dev", INTERFACE));
            return m.find() ? Optional.of(m.group(1)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** The MAC of the workload's {@link #INTERFACE}, if it has its own namespace. */
    public static Optional<String> macOf(int initPid) {
        if (!hasOwnNamespace(initPid)) {
            return Optional.empty();
        }
        try {
            Matcher m = MAC.matcher(output("nsenter", "--net=/proc/" + initPid + "/ns/net", "ip", "-o", "link", "show",
                    "dev", INTERFACE));
            return m.find() ? Optional.of(m.group(1)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * Records beside a dump's images that the workload had its own namespace (read by {@link #dumpedOwnNamespace});
     * {@code external}: criu left the namespace out ({@code --external net[...]}), a restore needs one built for it
     * from the address and MAC recorded here ({@link #dumpedNamespaceExternal}).
     */
    public static void recordDump(int initPid, Path imagesDir, boolean external) throws IOException {
        Files.deleteIfExists(imagesDir.resolve(IMAGE_MARKER));
        if (hasOwnNamespace(initPid)) {
            Files.createDirectories(imagesDir);
            Files.writeString(imagesDir.resolve(IMAGE_MARKER), "interface=" + INTERFACE + "\naddress="
                    + addressOf(initPid).orElse("") + "\nmac=" + macOf(initPid).orElse("")
                    + "\nnamespace=" + (external ? "external" : "dumped") + "\n");
        }
    }

    public static boolean dumpedOwnNamespace(Path imagesDir) {
        return Files.exists(imagesDir.resolve(IMAGE_MARKER));
    }

    /** The dump left the namespace out: its address and MAC, from which a restore builds one; else empty. */
    public static Optional<Map.Entry<String, String>> dumpedNamespaceExternal(Path imagesDir) throws IOException {
        if (!dumpedOwnNamespace(imagesDir)) {
            return Optional.empty();
        }
        java.util.Properties marker = new java.util.Properties();
        try (var in = Files.newBufferedReader(imagesDir.resolve(IMAGE_MARKER))) {
            marker.load(in);
        }
        if (!"external".equals(marker.getProperty("namespace"))) {
            return Optional.empty();
        }
        return Optional.of(Map.entry(marker.getProperty("address", ""), marker.getProperty("mac", "")));
    }

    /**
     * criu restore options re-creating the host side of the workload's veth, not yet on the bridge: a restore that
     * fails half-way must never reach the segment (its namespace, address up and no sockets yet, would answer the
     * clients' packets with resets). {@link #attach} plugs it in once the restore succeeded.
     */
    public List<String> restoreOptions(String workloadId) {
        return List.of("--external", "veth[" + INTERFACE + "]:" + hostSide(workloadId));
    }

    /** A restored workload's host side onto this node's bridge, up; then its address is announced ({@link #announce}). */
    public void attach(String workloadId, int initPid) throws IOException {
        attach(workloadId, initPid, Optional.empty());
    }

    /**
     * As {@link #attach(String, int)}; {@code mac}: the MAC of the workload's {@link #INTERFACE} when pmig built its
     * namespace itself ({@link #prepareForRestore}), which the announcement then need not read first.
     */
    public void attach(String workloadId, int initPid, Optional<String> mac) throws IOException {
        String host = hostSide(workloadId);
        run("ip", "link", "set", host, "master", bridge, "up");
        announceOnceForwarding(workloadId, initPid, mac);
    }

    /**
     * Announces the address of {@code workloadId}, whose init is {@code nsPid}, once its port on this node's bridge
     * forwards, and twice more in the background: an announcement sent before the port forwards is lost, and the
     * segment would go on delivering the address's frames to its old place - a migrated workload's source, or the MAC
     * of a workload that held the address before this one was launched with it - until the switches and the clients'
     * neighbour caches forget it (up to minutes). The kernel's own announcement at link-up (arp_notify) can be that
     * early.
     */
    public void announceOnceForwarding(String workloadId, int nsPid) throws IOException {
        announceOnceForwarding(workloadId, nsPid, Optional.empty());
    }

    private void announceOnceForwarding(String workloadId, int nsPid, Optional<String> mac) throws IOException {
        awaitCarrier(hostSide(workloadId), Duration.ofSeconds(2));
        announce(nsPid, mac);
        Thread again = new Thread(() -> {
            for (long delayMs : new long[] {200, 1000}) {
                try {
                    Thread.sleep(delayMs);
                    announce(nsPid, mac);
                } catch (IOException | InterruptedException e) {
                    return; // the workload is gone (rolled back, failed to start) or the executor stops
                }
            }
        }, "pmig-announce-" + workloadId);
        again.setDaemon(true);
        again.start();
    }

    private static void awaitCarrier(String device, Duration timeout) throws IOException {
        Path operstate = Path.of("/sys/class/net", device, "operstate");
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!Files.readString(operstate).strip().equals("up") && System.nanoTime() < deadline) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Makes the address known at its new port before the workload resumes: setting the interface's own MAC again
     * makes the kernel send a gratuitous ARP (arp_notify=1), which moves the bridges' forwarding entries and the
     * neighbours' caches. No route or address changes (a link flap would drop the workload's routes). The MAC is read
     * with {@code ip} (netlink, in the workload's namespace): /sys under {@code nsenter --net} still shows the
     * executor's namespace, whose own eth0 it would have copied onto the workload.
     */
    public static void announce(int initPid) throws IOException {
        announce(initPid, Optional.empty());
    }

    /**
     * As {@link #announce(int)}, with the interface's MAC when it is known (a namespace pmig built: it is the MAC pmig
     * gave it), which saves reading it first - two processes fewer while the workload is frozen.
     */
    static void announce(int initPid, Optional<String> knownMac) throws IOException {
        if (knownMac.isPresent() && MAC_ADDRESS.matcher(knownMac.get()).matches()) {
            run("nsenter", "--net=/proc/" + initPid + "/ns/net", "sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/" + INTERFACE
                    + "/arp_notify && exec ip link set " + INTERFACE + " address \"$0\"", knownMac.get());
            return;
        }
        run("nsenter", "--net=/proc/" + initPid + "/ns/net", "sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/" + INTERFACE
                + "/arp_notify && mac=\"$(ip -o link show " + INTERFACE + " | sed -n 's|.* link/ether \\([0-9a-f:]*\\) .*|\\1|p')\""
                + " && [ -n \"$mac\" ] && ip link set " + INTERFACE + " address \"$mac\"");
    }

    /** The host side, in this namespace, of the workload's veth (found by the peer's interface index). */
    public static Optional<String> hostSideOf(int initPid) {
        if (!hasOwnNamespace(initPid)) {
            return Optional.empty(); // the node's own interfaces are never a workload's
        }
        try {
            String inside = output("nsenter", "--net=/proc/" + initPid + "/ns/net", "ip", "-o", "link", "show", INTERFACE);
            Matcher m = PEER_INDEX.matcher(inside);
            if (!m.find()) {
                return Optional.empty();
            }
            for (String line : output("ip", "-o", "link", "show").lines().toList()) {
                if (line.startsWith(m.group(1) + ": ")) {
                    String name = line.split(":\\s+")[1];
                    int at = name.indexOf('@');
                    return Optional.of(at < 0 ? name : name.substring(0, at));
                }
            }
        } catch (IOException e) {
            log.warn("cannot find the host side of workload {}'s {}: {}", initPid, INTERFACE, e.getMessage());
        }
        return Optional.empty();
    }

    /**
     * The source withdraws the address after its dump: its frozen kernel would keep answering ARP for it.
     * {@code hostSide}: {@link #hostSideOf} the workload, looked up before the freeze.
     */
    public static void withdraw(String hostSide) {
        quietly("ip", "link", "set", hostSide, "down");
    }

    /** Rollback: the source's host side up again, and the address announced again (a copy may have announced it). */
    public static void reinstate(int initPid) {
        hostSideOf(initPid).ifPresent(h -> quietly("ip", "link", "set", h, "up"));
        try {
            announce(initPid);
        } catch (IOException e) {
            log.warn("cannot announce workload {}'s address again: {}", initPid, e.getMessage());
        }
    }

    /** Deletes a host side (and so the pair): at commit, before the source's frozen tree is killed. */
    public static void delete(String hostSide) {
        if (Files.exists(Path.of("/sys/class/net", hostSide))) {
            quietly("ip", "link", "del", hostSide);
        }
    }

    /** Runs a command in the network namespace of {@code pid} (the node's if it has none of its own). */
    public static List<String> inNamespaceOf(int pid, List<String> command) {
        if (!hasOwnNamespace(pid)) {
            return command;
        }
        List<String> argv = new java.util.ArrayList<>(List.of("nsenter", "--net=/proc/" + pid + "/ns/net"));
        argv.addAll(command);
        return argv;
    }

    private static void quietly(String... cmd) {
        try {
            run(cmd);
        } catch (IOException e) {
            log.info("{}: {}", String.join(" ", cmd), e.getMessage());
        }
    }

    private static void run(String... cmd) throws IOException {
        output(cmd);
    }

    private static String output(String... cmd) throws IOException {
        return HostCommand.output(cmd);
    }
}
