package io.pmig.executor.migration;

import io.pmig.executor.criu.BackgroundCriu;
import io.pmig.executor.criu.CriuException;
import io.pmig.executor.criu.PageServer;
import io.pmig.executor.criu.PageServerAddress;
import io.pmig.executor.network.NamespaceBlueprint;
import io.pmig.executor.network.WorkloadNetwork;
import io.pmig.executor.transfer.TransferConnection;
import io.pmig.executor.transfer.TransferException;
import io.pmig.executor.workload.WorkloadIdentity;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Everything a migration does to a workload, behind one interface - one engine per kind of workload, as P.Haul has
 * one per kind of task tree: the drivers ({@link SourceMigration}, {@link DestinationMigration}) and
 * {@link MigrationRecovery} decide what happens, in which order, and what is journaled and published; the engine
 * checks, freezes, dumps, restores, resumes and kills. {@link CriuEngine} does it for process trees with criu and
 * signals, {@code ContainerEngine} for Docker containers with the engine's checkpoint API; the executor's tests also
 * drive the protocol against a fake.
 */
public interface CheckpointEngine {

    /** The kind of workload this engine moves, as journals and HELLO name it ({@code process}, {@code container}). */
    String kind();

    /**
     * Whether memory can travel apart from the other images (PAGE_SERVER, LAZY); an engine that cannot moves every
     * mode as one local checkpoint sent as files.
     */
    boolean carriesMemoryApart();

    // ---- what this node can do (exchanged in HELLO)

    /** The checkpoint format this node writes (criu's version). */
    String version();

    /** Whether this node can restore images written by {@code version}. */
    boolean restoresImagesOf(String version);

    /** Why LAZY mode cannot run on this node, if it cannot. */
    Optional<String> lazyPagesProblem();

    // ---- the workload before the freeze

    /** Whether that very process (pid, start time, pid namespace) still exists, running or stopped. */
    boolean isPresent(WorkloadIdentity init);

    /**
     * Before the freeze, over the authenticated connection: whatever the destination needs that does not change while
     * the workload runs (a container's image). {@code staging} is the migration's own directory.
     */
    default void beforeFreeze(TransferConnection connection, int initPid, Path staging)
            throws TransferException, IOException {
    }

    /** A control request of this engine's own, answered on the destination ({@link #beforeFreeze}'s counterpart). */
    default String control(String verb, Map<String, String> args, Path sessionDir) throws Exception {
        throw new IllegalArgumentException("unknown control request " + verb);
    }

    /** Why the workload cannot be checkpointed here, one sentence each; empty if nothing is known to stop it. */
    List<String> refusals(int initPid);

    /** Namespace-local pids of the workload's tasks that are stopped now (they stay stopped after a migration). */
    Set<Integer> stoppedTasks(int initPid);

    /** The memory the images will need at most: the resident set of every task. */
    long residentBytes(int initPid);

    /** Whether the workload holds addresses in this node's network namespace (inet or abstract unix sockets). */
    boolean holdsNetworkAddresses(int initPid);

    /** Whether the workload has a network identity of its own, which its destination must be able to host. */
    default boolean hasOwnNetwork(int initPid) {
        return false;
    }

    /**
     * The workload's own network namespace, for the destination to build an equal one before the freeze (the dump
     * then leaves it out: {@link #withNamespaceBuiltByDestination}); empty where the dump must carry it.
     */
    default Optional<NamespaceBlueprint> namespaceBlueprint(int initPid) {
        return Optional.empty();
    }

    /** This engine, whose migration dumps leave the workload's own network namespace out: the destination built it. */
    default CheckpointEngine withNamespaceBuiltByDestination() {
        return this;
    }

    // ---- source: freeze + dump, one strategy per mode; the frozen copy

    /** PLAIN: a full local checkpoint, tree left stopped. */
    CheckpointStrategy localDump();

    /** PAGE_SERVER: memory straight to the destination's page server over TLS, tree left stopped. */
    CheckpointStrategy pageServerDump(PageServerAddress pageServer, List<String> tls);

    /** LAZY: everything but the memory, which is served from here until the destination holds it. */
    CheckpointStrategy lazyDump(PageServerAddress serveAt, List<String> tls);

    /**
     * The network step of a migration's freeze on this node ({@link FrozenTraffic}): what the workload's clients meet
     * from before its dump until COMMIT or rollback. The plain drop of criu's lock unless the engine knows better.
     */
    default FrozenTraffic frozenTraffic(String workloadId, int initPid) {
        return FrozenTraffic.DROPPED;
    }

    /** Whether the frozen copy is still there to resume (or release). */
    boolean isPresent(FrozenSource frozen);

    /**
     * Lets the frozen copy run again where it was (not the tasks stopped before); returns the host pid of its init
     * now, 0 if it is gone.
     */
    int resume(FrozenSource frozen);

    /** Ends a frozen tree after the destination committed (or before a restore that needs its addresses). */
    void release(FrozenSource frozen);

    // ---- destination (and a source restoring its own images)

    /** Starts a page server receiving a PAGE_SERVER dump into {@code images}. */
    PageServer startPageServer(Path images, PageServerAddress at, List<String> tls, Duration readyTimeout)
            throws CriuException;

    /** Starts the daemon that pulls a LAZY dump's pages from the source while the restored copy runs. */
    BackgroundCriu startLazyPages(Path images, PageServerAddress source, List<String> tls, Duration readyTimeout)
            throws CriuException;

    /** Restores the images with the workload directory at {@code workloadDir}; returns the new init's host pid. */
    int restore(Path images, Path workloadDir, boolean leaveStopped, boolean lazy, String logName) throws CriuException;

    /** As above, into {@code network}, the namespace built for the workload beforehand (discarded unless restored into). */
    default int restore(Path images, Path workloadDir, boolean leaveStopped, boolean lazy, String logName,
                        WorkloadNetwork.Prepared network) throws CriuException {
        if (network != null) {
            network.discard();
        }
        return restore(images, workloadDir, leaveStopped, lazy, logName);
    }

    /** Whether the process exists and is not a zombie. */
    boolean isAlive(int pid);

    /** Lets a restored, stopped copy run (all its tasks but {@code keepStopped}, namespace-local pids). */
    void resumeCopy(int initPid, Set<Integer> keepStopped);

    /** Kills the workload's whole tree (its pid namespace) and waits until its init is gone. */
    void kill(int initPid);

    /** What still holds back the network of the connections of a checkpoint in {@code images}, if anything. */
    Optional<String> networkLock(Path images);

    /** Drops such a lock: the connections' packets flow again (or, with no socket left, are answered with resets). */
    void unlockNetwork(String lock);

    // ---- recovery: what an engine left running when its executor died

    /**
     * Before a restarted source decides: lets a dump that outlived the executor finish, or stops one whose
     * destination will never restore (a LAZY dump serving pages for a restore that was never asked for).
     */
    void settleSource(MigrationJournal journal) throws InterruptedException;

    /**
     * Before a restarted destination decides: stops what serves a copy that will never run and lets a restore that
     * outlived the executor finish. Returns the host pid of the init that restore made, 0 if none.
     */
    int settleDestination(MigrationJournal journal) throws InterruptedException;
}
