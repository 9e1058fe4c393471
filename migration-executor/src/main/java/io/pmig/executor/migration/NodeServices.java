package io.pmig.executor.migration;

import io.pmig.executor.ExecutorConfig;
import io.pmig.executor.events.EventHistory;
import io.pmig.executor.events.EventPublisher;
import io.pmig.executor.events.PeerEvents;
import io.pmig.executor.transfer.TransferServer;
import io.pmig.executor.workload.ExitWatcher;
import io.pmig.executor.workload.NodeWorkloads;

/** What a migration uses of its node: config, workloads, the event streams and the transfer endpoint. */
public record NodeServices(ExecutorConfig config, NodeWorkloads workloads, ExitWatcher exits, EventPublisher events,
                           PeerEvents peers, EventHistory history, TransferServer transfer) {

    /** The transfer endpoint peers are told to use: --advertise, else the address actually bound. */
    public java.net.InetSocketAddress advertised() {
        return config.advertise() != null ? config.advertise() : transfer.address();
    }
}
