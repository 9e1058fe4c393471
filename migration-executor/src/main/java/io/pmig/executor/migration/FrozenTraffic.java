package io.pmig.executor.migration;

import io.pmig.executor.network.FrozenClientRules;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The network step of the source's driver: what the clients of a workload meet while it is frozen on this node, from
 * just before its dump ({@link #hold}) until its destination has restored it ({@link #releaseSoon}) or a rollback
 * ({@link #release}). Either criu's network lock alone
 * drops their packets ({@link #DROPPED}: each client's TCP backs off, 0.2, 0.6, 1.4, 3.0 s...), or, for a workload with
 * its own address, the node holds new connections from before the freeze and may also answer TCP segments that carry
 * data with ICMP host-unreachable, which keeps their retransmissions about one RTO apart, so they see the resume about
 * one RTO after it ({@link HeldClients}, NETWORK-IDENTITY.md). None may fail a migration: a rule that cannot be
 * installed leaves the plain drop.
 */
public interface FrozenTraffic {

    /** Just before the dump into {@code images} starts; may wait briefly (bounded) for the workload to get ready. */
    void hold(Path images) throws InterruptedException;

    /** At COMMIT or rollback, before the frozen copy is resumed or killed; also what recovery does. */
    void release();

    /**
     * Starts {@link #release} in the background, once the destination has restored and announced the workload: its
     * kernel takes the clients' packets from then on (and queues them until the COMMIT resumes it), so nothing here
     * must answer them any longer. A later {@link #release} waits for it.
     */
    default void releaseSoon() {
    }

    /** What it does, for the log. */
    String describe();

    /** criu's lock alone: packets are dropped inside the frozen workload's namespace. */
    FrozenTraffic DROPPED = new FrozenTraffic() {
        @Override
        public void hold(Path images) {
        }

        @Override
        public void release() {
        }

        @Override
        public String describe() {
            return "clients' packets dropped";
        }
    };

    /**
     * New connections to {@code workloadIp} held from just before the freeze (their SYNs dropped at the node's bridge,
     * and connections the workload's kernel completed before that accepted first, so that criu finds no in-flight
     * connection to refuse), and, with a {@code nodeAddress} to answer from, TCP data answered with ICMP
     * host-unreachable once criu's lock is in place (its table appears in the workload's namespace; polled from
     * {@link #hold}). A request that reaches the workload between the freeze and the lock is still taken by its frozen
     * kernel (acknowledged, answered at the resume), as without answers; rules in place before the freeze would turn it
     * into a retransmission, and rules installed by a criu action script delay the lock while the frozen kernel still
     * completes handshakes (both measured: NETWORK-IDENTITY.md). A first transmission dropped before the answers are in
     * costs nothing: its retransmission, one RTO later, is answered.
     */
    final class HeldClients implements FrozenTraffic {
        private static final Logger log = LoggerFactory.getLogger(FrozenTraffic.class);
        private static final Duration POLL = Duration.ofMillis(10);
        private final FrozenClientRules rules;
        private final int initPid;
        private final String workloadIp;
        private final String nodeAddress;
        private final Duration handshakeWait;
        private volatile boolean released;
        private Thread poller;
        private Thread releasing;

        /**
         * {@code nodeAddress} null: new connections held, data only dropped by criu's lock. {@code handshakeWait}: how
         * long {@link #hold} waits at most for the workload's handshakes to settle (not downtime: it still runs).
         */
        HeldClients(FrozenClientRules rules, int initPid, String workloadIp, String nodeAddress, Duration handshakeWait) {
            this.rules = rules;
            this.initPid = initPid;
            this.workloadIp = workloadIp;
            this.nodeAddress = nodeAddress;
            this.handshakeWait = handshakeWait;
        }

        @Override
        public void hold(Path images) throws InterruptedException {
            try {
                rules.holdNewConnections(workloadIp); // also replaces what a migration whose executor died left
            } catch (IOException e) {
                log.warn("cannot hold new connections to {} while it is frozen (a handshake completed during the freeze"
                        + " fails the dump): {}", workloadIp, e.getMessage());
                return;
            }
            // no SYN gets through now: what is half-done finishes (one RTT, or a SYN-ACK retransmission) and is accepted
            FrozenClientRules.Handshakes pending = FrozenClientRules.handshakes(initPid);
            if (!pending.settled() && !handshakeWait.isZero()) {
                log.info("before freezing {}: waiting up to {} ms for {} half-done handshake(s) and {} unaccepted"
                        + " connection(s)", workloadIp, handshakeWait.toMillis(), pending.halfOpen(), pending.unaccepted());
            }
            FrozenClientRules.Handshakes left = FrozenClientRules.awaitHandshakes(initPid, handshakeWait,
                    FrozenClientRules.Handshakes::settled);
            if (left.halfOpen() > 0) {
                log.warn("{} handshake(s) with {} not finished within {} ms: criu does not carry them, their clients will"
                        + " be reset where the workload resumes", left.halfOpen(), workloadIp, handshakeWait.toMillis());
            }
            if (left.unaccepted() > 0) {
                log.info("{} has not accepted every connection its kernel completed within {} ms; criu will refuse"
                        + " to dump them", workloadIp, handshakeWait.toMillis());
            }
            log.debug("holding new connections to {}; before the dump: {}", workloadIp, left);
            if (nodeAddress == null) {
                return;
            }
            poller = new Thread(() -> {
                try {
                    while (!released) {
                        if (rules.lockedByCriu(initPid)) {
                            log.debug("criu's lock is in place for {}: {}", workloadIp, FrozenClientRules.handshakes(initPid));
                            rules.answerUnreachable(workloadIp);
                            log.debug("answering the clients of {}", workloadIp);
                            return;
                        }
                        Thread.sleep(POLL.toMillis());
                    }
                } catch (IOException e) {
                    log.warn("cannot answer the clients of {} with ICMP host-unreachable while it is frozen (plain drop"
                            + " instead): {}", workloadIp, e.getMessage());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "pmig-frozen-" + workloadIp);
            poller.setDaemon(true);
            poller.start();
        }

        @Override
        public synchronized void releaseSoon() {
            if (releasing == null) {
                releasing = new Thread(this::release, "pmig-frozen-release-" + workloadIp);
                releasing.setDaemon(true);
                releasing.start();
            }
        }

        @Override
        public synchronized void release() {
            released = true;
            log.debug("releasing the clients of {}", workloadIp);
            try {
                if (poller != null) {
                    poller.join(Duration.ofSeconds(30).toMillis()); // an install under way ends before the removal
                }
                rules.remove();
            } catch (IOException e) {
                log.warn("cannot remove nft tables {} (clients of {} would stay held or answered): {}",
                        rules.table(), workloadIp, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public String describe() {
            return "new connections held from before the freeze, clients' TCP data " + (nodeAddress == null
                    ? "dropped" : "answered with ICMP host-unreachable from " + nodeAddress + " from the lock on");
        }
    }
}
