package io.pmig.executor.migration;

import io.pmig.executor.ExecutorConfig;
import io.pmig.executor.container.ContainerEngine;
import io.pmig.executor.container.ContainerWorkloads;
import io.pmig.executor.events.EventHistory;
import io.pmig.executor.events.EventPublisher;
import io.pmig.executor.events.PeerEvents;
import io.pmig.executor.transfer.TransferServer;
import io.pmig.executor.workload.ExitWatcher;
import io.pmig.executor.workload.NodeWorkloads;

/** What a migration uses of its node: config, checkpoint engine, workloads, the event streams and the transfer endpoint. */
public record NodeServices(ExecutorConfig config, CheckpointEngine engine, NodeWorkloads workloads, ExitWatcher exits, EventPublisher events,
                           PeerEvents peers, EventHistory history, TransferServer transfer) {

    /** The engine of the workload's kind: a Docker container's, else this node's process engine. */
    public CheckpointEngine engineFor(String workloadId) {
        return ContainerWorkloads.isContainer(this, workloadId) ? new ContainerEngine(this) : engine;
    }

    /** The engine of a kind a journal or a HELLO names (none: a process tree, as before kinds were recorded). */
    public CheckpointEngine engineForKind(String kind) {
        if (kind == null || kind.equals(engine.kind())) {
            return engine;
        }
        if (kind.equals(ContainerEngine.KIND)) {
            return new ContainerEngine(this);
        }
        throw new IllegalArgumentException("no checkpoint engine for workloads of kind '" + kind + "' here");
    }

    /** The transfer endpoint peers are told to use: --advertise, else the address actually bound. */
    public java.net.InetSocketAddress advertised() {
        return config.advertise() != null ? config.advertise() : transfer.address();
    }

    /** Where this node's criu page servers listen: the listen host, or the advertised one for a wildcard (criu wants an IP). */
    public java.net.InetAddress pageServerHost() throws java.io.IOException {
        return config.listen().getAddress().isAnyLocalAddress()
                ? java.net.InetAddress.getByName(advertised().getHostString()) : config.listen().getAddress();
    }

    /** A free port on host for criu to bind right after (a tiny, harmless race). */
    static int freePort(java.net.InetAddress host) throws java.io.IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, host)) {
            return s.getLocalPort();
        }
    }
}
