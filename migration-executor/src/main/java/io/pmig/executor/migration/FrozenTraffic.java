package io.pmig.executor.migration;

import io.pmig.executor.network.UnreachableAnswers;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The network step of the source's driver: what the clients of a workload meet while it is frozen on this node, from
 * before its dump starts ({@link #hold}) until COMMIT or rollback ({@link #release}). Either criu's network lock alone
 * drops their packets ({@link #DROPPED}: each client's TCP backs off, 0.2, 0.6, 1.4, 3.0 s...), or the node also
 * answers their non-SYN TCP with ICMP host-unreachable ({@link AnsweredUnreachable}), which keeps their
 * retransmissions about one RTO apart, so they see the resume about one RTO after it (NETWORK-IDENTITY.md).
 * Neither may fail a migration: a rule that cannot be installed leaves the plain drop.
 */
public interface FrozenTraffic {

    /** Before the dump starts. */
    void hold();

    /** At COMMIT or rollback, before the frozen copy is resumed or killed; also what recovery does. */
    void release();

    /** What it does, for the log and the DUMPED event. */
    String describe();

    /** criu's lock alone: packets are dropped inside the frozen workload's namespace. */
    FrozenTraffic DROPPED = new FrozenTraffic() {
        @Override
        public void hold() {
        }

        @Override
        public void release() {
        }

        @Override
        public String describe() {
            return "clients' packets dropped";
        }
    };

    /** criu's lock, and the node answers non-SYN TCP to {@code workloadIp} with ICMP host-unreachable. */
    record AnsweredUnreachable(UnreachableAnswers answers, String workloadIp, String nodeAddress) implements FrozenTraffic {
        private static final Logger log = LoggerFactory.getLogger(FrozenTraffic.class);

        @Override
        public void hold() {
            try {
                answers.install(workloadIp);
            } catch (IOException e) {
                log.warn("cannot answer the clients of {} with ICMP host-unreachable while it is frozen (plain drop"
                        + " instead): {}", workloadIp, e.getMessage());
            }
        }

        @Override
        public void release() {
            try {
                answers.remove();
            } catch (IOException e) {
                log.warn("cannot remove nft tables {} (clients of {} would go on getting ICMP host-unreachable): {}",
                        answers.table(), workloadIp, e.getMessage());
            }
        }

        @Override
        public String describe() {
            return "clients' TCP answered with ICMP host-unreachable from " + nodeAddress;
        }
    }
}
