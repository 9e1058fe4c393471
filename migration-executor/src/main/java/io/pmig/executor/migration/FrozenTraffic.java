package io.pmig.executor.migration;

import io.pmig.executor.network.UnreachableAnswers;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The network step of the source's driver: what the clients of a workload meet while it is frozen on this node, from
 * its dump ({@link #hold}, just before it starts) until COMMIT or rollback ({@link #release}). Either criu's network
 * lock alone drops their packets ({@link #DROPPED}: each client's TCP backs off, 0.2, 0.6, 1.4, 3.0 s...), or the node also
 * answers their TCP segments that carry data with ICMP host-unreachable ({@link AnsweredUnreachable}), which keeps
 * their retransmissions about one RTO apart, so they see the resume about one RTO after it (NETWORK-IDENTITY.md).
 * Neither may fail a migration: a rule that cannot be installed leaves the plain drop.
 */
public interface FrozenTraffic {

    /** Just before the dump into {@code images} starts. */
    void hold(Path images);

    /** At COMMIT or rollback, before the frozen copy is resumed or killed; also what recovery does. */
    void release();

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
     * criu's lock, and the node answers TCP data to {@code workloadIp} with ICMP host-unreachable once the lock is in
     * place (its table appears in the workload's namespace; polled from {@link #hold}). A request that reaches the
     * workload between the freeze and the lock is still taken by its frozen kernel (acknowledged, answered at the
     * resume), as without answers; rules in place before the freeze would turn it into a retransmission, and rules
     * installed by a criu action script delay the lock while the frozen kernel still completes handshakes (both
     * measured: NETWORK-IDENTITY.md). A first transmission dropped before the rules are in costs nothing: its
     * retransmission, one RTO later, is answered.
     */
    final class AnsweredUnreachable implements FrozenTraffic {
        private static final Logger log = LoggerFactory.getLogger(FrozenTraffic.class);
        private static final Duration POLL = Duration.ofMillis(10);
        private final UnreachableAnswers answers;
        private final int initPid;
        private final String workloadIp;
        private final String nodeAddress;
        private volatile boolean released;
        private Thread poller;

        AnsweredUnreachable(UnreachableAnswers answers, int initPid, String workloadIp, String nodeAddress) {
            this.answers = answers;
            this.initPid = initPid;
            this.workloadIp = workloadIp;
            this.nodeAddress = nodeAddress;
        }

        @Override
        public void hold(Path images) {
            try {
                answers.remove(); // left by a migration whose executor died
            } catch (IOException e) {
                log.warn("cannot remove nft tables {}: {}", answers.table(), e.getMessage());
            }
            poller = new Thread(() -> {
                try {
                    while (!released) {
                        if (answers.lockedByCriu(initPid)) {
                            answers.install(workloadIp);
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
            }, "pmig-unreach-" + workloadIp);
            poller.setDaemon(true);
            poller.start();
        }

        @Override
        public void release() {
            released = true;
            try {
                if (poller != null) {
                    poller.join(Duration.ofSeconds(30).toMillis()); // an install under way ends before the removal
                }
                answers.remove();
            } catch (IOException e) {
                log.warn("cannot remove nft tables {} (clients of {} would go on getting ICMP host-unreachable): {}",
                        answers.table(), workloadIp, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public String describe() {
            return "clients' TCP data answered with ICMP host-unreachable from " + nodeAddress + " from the lock on";
        }
    }
}
