/*
 * pmig-init - a tiny, long-lived PID 1 for one migratable workload.
 *
 * Usage:
 *   pmig-init [options] -- command [args...]
 *
 * Options:
 *   --stdout FILE    workload (and init) stdout, opened O_WRONLY|O_CREAT|O_APPEND (default /dev/null)
 *   --stderr FILE    workload (and init) stderr, same flags                     (default /dev/null)
 *   --stdin FILE     stdin, opened O_RDONLY                                     (default /dev/null)
 *   --cwd DIR        working directory of the workload                         (default: inherited)
 *   --pidfile FILE   write the HOST pid of the init (the pid to `criu dump -t`) to FILE
 *   --status-file F  when the workload is finished the init writes "<code>\n" to F (tmp + rename)
 *                    just before exiting. Needed because `criu restore` (with or without -d) never
 *                    reports the restored task's exit status (measured: restore without -d waits
 *                    and returns 0 although the workload exited 7). F is resolved inside the
 *                    namespace (after --bind), so put it in the workload directory.
 *   --detach         the launcher exits as soon as the init runs in its set-up namespaces (prints
 *                    the host pid on stdout)
 *   --bind SRC:DST   (repeatable) bind-mount host path SRC onto DST inside the new mount
 *                    namespace before anything else; DST is created if missing. Lets each node keep
 *                    workloads in its own directory while the workload always sees the same path
 *                    (dump with --external mnt[DST]:KEY, restore with --external mnt[KEY]:NEWSRC).
 *                    --stdout/--stderr/--stdin/--cwd are resolved AFTER the binds (may use DST).
 *   --no-ns          do not create namespaces; run as-is (e.g. under
 *                    `unshare --pid --fork --mount-proc pmig-init --no-ns ...`)
 *
 * Default mode: the launcher process clones a child into NEW PID, MOUNT, IPC and UTS namespaces. That
 * child is PID 1 of the namespace (the "init"); it mounts a fresh /proc, a private tmpfs on /dev/shm
 * and the IPC namespace's own mqueue on /dev/mqueue, calls setsid(), reopens its
 * stdio, closes every other inherited descriptor, forks + execs the workload and then only reaps.
 * The launcher stays in the host namespaces, forwards TERM/INT/HUP/QUIT/USR1/USR2 to the init and
 * exits with the init's status (so a supervising JVM can hold it as a Process). With --detach the
 * launcher exits at once and the init is adopted by the host's init/subreaper - which is also what
 * a `criu restore -d` does with a restored init, so both cases then look alike.
 *
 * Why each step (all measured with CRIU 4.2.1 on kernel 6.18, see /work/shared/FACTS.md):
 *  - own PID namespace: CRIU restores tasks with their original PIDs; in the host namespace those
 *    PIDs may already be taken ("Can't fork for N: File exists"). In a private namespace the PIDs
 *    are always free on restore, because CRIU creates a fresh namespace.
 *  - a separate init instead of the workload as PID 1: a daemonizing workload (fork, parent exits)
 *    would otherwise kill the whole namespace when its PID 1 exits.
 *  - own mount namespace + own /proc: programs that read /proc/self or their own pid keep seeing
 *    namespace-local values that survive a restore; `criu restore --root /` needs it.
 *  - own IPC namespace: criu dumps SysV shared memory, semaphores and message queues only as part of
 *    an IPC namespace of the dumped tree ("Task N with SysVIPC shmem map ... doesn't live in IPC ns").
 *    Its mqueue filesystem is mounted on /dev/mqueue: criu resolves an mq_open() descriptor through a
 *    mount of it in the task's mount namespace ("Can't lookup mount=21 for fd=4 path=/mq-3-0").
 *  - own tmpfs on /dev/shm (replacing every inherited one): POSIX shm (shm_open) lives there. With the
 *    host's /dev/shm criu dumped that whole tmpfs - other programs' files travelled with the workload,
 *    dumps grew and failed ("Can't dump tmpfs content") - and the workload's segments stayed behind.
 *  - own UTS namespace: a workload may set its hostname; criu carries it, the node's stays untouched.
 *    It starts as a copy of the node's hostname and then keeps the one it had when it was launched.
 *  - setsid(): otherwise the session leader is outside the namespace and CRIU refuses to dump
 *    ("A session leader of N(1) is outside of its pid namespace").
 *  - stdio reopened to plain files, other fds closed: fds inherited from the launcher (pipes of the
 *    supervising JVM, a terminal, ...) point into the host mount namespace / other processes and
 *    cannot be dumped ("Can't lookup mount=N for fd=...").
 *  - cwd "/" for the init itself: the init's cwd is dumped too and must exist on the target.
 *  - re-exec of this binary (by path name) inside the new namespaces: mappings inherited through
 *    clone() reference the host mount namespace ("Can't lookup mount=27 for fd=-3 path=...").
 *
 * CRIU checks the size of every mapped file on restore ("File opt/pmig/bin/pmig-init has bad size
 * 699144 (expect 782256)"), so this binary - like the workload's own executables and libraries -
 * must be byte-identical at the same path on every node.
 *
 * Inside the namespace the init is PID 1 and the workload's main process is always PID 2. Its host
 * pid: the first entry of /proc/<init host pid>/task/<init host pid>/children (or the process whose
 * /proc/<pid>/status has "NSpid: <host> 2" and PPid = init). Both stay valid after a restore.
 *
 * The init exits only when the workload's main process has exited AND no other process remains
 * in the namespace (all children and adopted orphans reaped). Exit status: the main process's exit
 * code, or 128 + signal number if it was killed.
 *
 * Build: cc -O2 -static -Wall -Wextra -o pmig-init pmig-init.c   (static: works in any rootfs)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <limits.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

static const char *opt_stdout = "/dev/null";
static const char *opt_stderr = "/dev/null";
static const char *opt_stdin = "/dev/null";
static const char *opt_cwd = NULL;
static const char *opt_pidfile = NULL;
static const char *opt_status_file = NULL;
static int opt_detach = 0;
static int opt_no_ns = 0;
static char **workload_argv = NULL;
#define MAX_BINDS 16
static char *opt_bind[MAX_BINDS];
static int n_binds = 0;

/* Signals the launcher and the init pass on to the workload. */
static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
#define N_FORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

static void msg(const char *fmt, ...)
{
    va_list ap;
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "pmig-init[%d]: ", (int)getpid());
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
    va_end(ap);
    /* One write() so lines from several processes do not interleave. */
    size_t len = strlen(buf);
    if (len < sizeof(buf) - 1) { buf[len++] = '\n'; }
    ssize_t r = write(STDERR_FILENO, buf, len);
    (void)r;
}

/*
 * --tcp-repair-off PID...: takes the TCP sockets of these processes out of repair mode, as `criu dump` does itself
 * when the dumped tree is to run on (network_unlock -> libsoccr_resume) but not with --leave-stopped. A tree that was
 * left stopped and is then resumed with SIGCONT (a rollback, a periodic checkpoint) would otherwise find its
 * connections in repair mode: every send fails with EINVAL and the application drops its clients (measured: a
 * redis client reset after a rollback). Repair mode is recognised by SO_REUSEADDR reading SK_FORCE_REUSE (2), a value
 * only TCP_REPAIR sets; it is set back to 0 (what TCP_REPAIR off leaves; established connections never bind again).
 * Each socket is reached through pidfd_getfd(2). Prints how many sockets it resumed; exit 0 unless a process could
 * not be read.
 */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef TCP_REPAIR
#define TCP_REPAIR 19
#endif
#define SK_FORCE_REUSE_VALUE 2

static int tcp_repair_off(int argc, char **argv)
{
    int resumed = 0, failed = 0;
    for (int i = 0; i < argc; i++) {
        pid_t pid = (pid_t)atoi(argv[i]);
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pid <= 0 || pidfd < 0) {
            msg("pidfd_open %s: %s", argv[i], strerror(errno));
            failed++;
            continue;
        }
        char dir[64];
        snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
        DIR *d = opendir(dir);
        if (!d) {
            msg("opendir %s: %s", dir, strerror(errno));
            close(pidfd);
            failed++;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char link[PATH_MAX], target[64];
            snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
            ssize_t n = readlink(link, target, sizeof target - 1);
            if (n <= 0) continue;
            target[n] = '\0';
            if (strncmp(target, "socket:", 7) != 0) continue;
            int fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0);
            if (fd < 0) continue;
            int protocol = 0, reuse = 0;
            socklen_t len = sizeof protocol;
            if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) == 0 && protocol == IPPROTO_TCP) {
                len = sizeof reuse;
                if (getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, &len) == 0 && reuse == SK_FORCE_REUSE_VALUE) {
                    int off = 0;
                    if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof off) == 0) {
                        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &off, sizeof off);
                        resumed++;
                    } else {
                        msg("pid %d fd %s: TCP_REPAIR off: %s", (int)pid, e->d_name, strerror(errno));
                    }
                }
            }
            close(fd);
        }
        closedir(d);
        close(pidfd);
    }
    printf("%d\n", resumed);
    return failed == 0 ? 0 : 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: pmig-init [--stdout FILE] [--stderr FILE] [--stdin FILE] [--cwd DIR]\n"
            "                 [--pidfile FILE] [--status-file FILE] [--bind SRC:DST]... [--detach] [--no-ns] -- command [args...]\n"
            "       pmig-init --tcp-repair-off PID...\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) { i++; break; }
        if (strcmp(a, "--detach") == 0) { opt_detach = 1; continue; }
        if (strcmp(a, "--no-ns") == 0) { opt_no_ns = 1; continue; }
        if (i + 1 >= argc) usage();
        if (strcmp(a, "--stdout") == 0) opt_stdout = argv[++i];
        else if (strcmp(a, "--stderr") == 0) opt_stderr = argv[++i];
        else if (strcmp(a, "--stdin") == 0) opt_stdin = argv[++i];
        else if (strcmp(a, "--cwd") == 0) opt_cwd = argv[++i];
        else if (strcmp(a, "--pidfile") == 0) opt_pidfile = argv[++i];
        else if (strcmp(a, "--status-file") == 0) opt_status_file = argv[++i];
        else if (strcmp(a, "--bind") == 0) {
            if (n_binds >= MAX_BINDS || !strchr(argv[i + 1], ':')) usage();
            opt_bind[n_binds++] = argv[++i];
        }
        else usage();
    }
    if (i >= argc) usage();
    workload_argv = &argv[i];
}

/* Write "<n>\n" to path atomically (tmp + rename) so a reader never sees a partial number. */
static int write_pidfile(const char *path, pid_t pid)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
    if (write(fd, buf, n) != n) { close(fd); unlink(tmp); return -1; }
    close(fd);
    if (rename(tmp, path) < 0) { unlink(tmp); return -1; }
    return 0;
}

/* Open path and move it onto target_fd. */
static int reopen_fd(int target_fd, const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    if (fd != target_fd) {
        /* dup2 clears O_CLOEXEC on the new descriptor, as wanted for stdio. */
        if (dup2(fd, target_fd) < 0) { int e = errno; close(fd); errno = e; return -1; }
        close(fd);
    } else {
        fcntl(fd, F_SETFD, 0);
    }
    return 0;
}

/* Close every descriptor >= 3. close_range() (Linux 5.9+) first, /proc/self/fd as fallback. */
static void close_other_fds(void)
{
    if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        int dfd = dirfd(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            int fd = atoi(e->d_name);
            if (fd > 2 && fd != dfd) close(fd);
        }
        closedir(d);
        return;
    }
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 1 << 20) max = 1 << 20;
    for (long fd = 3; fd < max; fd++) close((int)fd);
}

static int status_to_code(int st)
{
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return 1;
}

/*
 * Runs as PID 1 of the workload's namespaces (or as plain process with --no-ns).
 * Never returns.
 */
/* With namespaces: the write end of the launcher's readiness pipe, told by the stage-2 argv; else -1. */
static int ready_fd = -1;

static void run_init(void)
{
    sigset_t all, empty;
    sigfillset(&all);
    sigemptyset(&empty);

    /*
     * Block every signal and take them synchronously with sigwaitinfo(): no async handlers, no
     * races between SIGCHLD and the bookkeeping below, and the blocked mask is plain task state
     * that CRIU saves and restores. (PID 1 of a namespace ignores signals it has no handler for
     * when they come from inside the namespace; blocked + sigwaitinfo still receives the ones
     * sent from the host, e.g. `kill -TERM <init host pid>`.)
     */
    sigprocmask(SIG_SETMASK, &all, NULL);

    if (getpid() != 1) {
        msg("warning: not PID 1 of a PID namespace (pid %d); orphans are not ours", (int)getpid());
        /* At least adopt orphans of our own subtree. */
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }

    /* Own session (and process group): CRIU requires the session leader inside the namespace. */
    if (setsid() < 0 && getsid(0) != getpid()) {
        msg("setsid: %s", strerror(errno));
        _exit(125);
    }

    /*
     * Reopen stdio. Errors are reported on the ORIGINAL stderr (still the launcher's), so open the
     * new stderr last. Append mode: several writers (init, workload, daemons) share the files and
     * a restored process continues at the end of the copied file.
     */
    if (reopen_fd(STDIN_FILENO, opt_stdin, O_RDONLY) < 0) {
        msg("open stdin %s: %s", opt_stdin, strerror(errno));
        _exit(125);
    }
    if (reopen_fd(STDOUT_FILENO, opt_stdout, O_WRONLY | O_CREAT | O_APPEND) < 0) {
        msg("open stdout %s: %s", opt_stdout, strerror(errno));
        _exit(125);
    }
    if (reopen_fd(STDERR_FILENO, opt_stderr, O_WRONLY | O_CREAT | O_APPEND) < 0) {
        msg("open stderr %s: %s", opt_stderr, strerror(errno));
        _exit(125);
    }
    if (ready_fd >= 0) {
        /* set up: the launcher may hand out our pid now (one byte: a close alone means we failed) */
        while (write(ready_fd, "r", 1) < 0 && errno == EINTR) {
        }
    }
    close_other_fds();

    /* The init's own cwd must exist on every node; "/" always does. */
    if (chdir("/") < 0) { msg("chdir /: %s", strerror(errno)); _exit(125); }

    pid_t main_pid = fork();
    if (main_pid < 0) { msg("fork: %s", strerror(errno)); _exit(125); }
    if (main_pid == 0) {
        /* Workload: default dispositions and an empty mask, as if started by a normal shell. */
        for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
        sigprocmask(SIG_SETMASK, &empty, NULL);
        if (opt_cwd && chdir(opt_cwd) < 0) {
            msg("chdir %s: %s", opt_cwd, strerror(errno));
            _exit(126);
        }
        execvp(workload_argv[0], workload_argv);
        msg("exec %s: %s", workload_argv[0], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }

    int main_alive = 1, main_code = 0;
    for (;;) {
        /* Reap everything that is ready: the workload and any orphan re-parented to us. */
        for (;;) {
            int st;
            pid_t p = waitpid(-1, &st, WNOHANG);
            if (p > 0) {
                if (p == main_pid) { main_alive = 0; main_code = status_to_code(st); }
                continue;
            }
            if (p < 0 && errno == EINTR) continue;
            if (p < 0 && errno == ECHILD && !main_alive) {
                /* Main process gone and nothing left to reap: the workload is finished. */
                if (opt_status_file && write_pidfile(opt_status_file, (pid_t)main_code) < 0)
                    msg("write status file %s: %s", opt_status_file, strerror(errno));
                _exit(main_code);
            }
            break; /* p == 0: children alive, none exited; or ECHILD while main still alive (impossible) */
        }

        siginfo_t si;
        int sig = sigwaitinfo(&all, &si);
        if (sig < 0) continue; /* EINTR, e.g. after a CRIU restore: just loop */
        if (sig == SIGCHLD) continue;
        for (size_t i = 0; i < N_FORWARDED; i++) {
            if (forwarded[i] != sig) continue;
            /* To the main process while it lives; afterwards to whatever remains (daemons). */
            if (main_alive) kill(main_pid, sig);
            else kill(-1, sig);
            break;
        }
        /* Anything else (SIGPIPE, SIGALRM, ...) is ignored by the init. */
    }
}

/* mkdir -p (mode 0755). */
static int mkdir_p(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) { errno = ENAMETOOLONG; return -1; }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -1;
    return 0;
}

/* Undoes mountinfo's octal escapes (\040 = space, ...) in place. */
static void unescape_mountinfo(char *s)
{
    char *out = s;
    for (char *in = s; *in; ) {
        if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' && in[3] <= '7') {
            *out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
            in += 4;
        } else {
            *out++ = *in++;
        }
    }
    *out = '\0';
}

/*
 * Detaches, from our private copy of the host's mount table, the mounts a workload never needs and that break
 * its checkpoints. The whole table is dumped and must exist again at restore (measured on a shared host):
 *  - nsfs mounts (`ip netns add`, docker): criu cannot dump them ("doesn't have a proper root mount");
 *  - overlay mounts (other containers' root filesystems) and anything mounted under /tmp or /var/tmp (test
 *    sandboxes, scratch): they come and go with other programs, and one that went away between dump and restore
 *    fails the restore - even the source's own rollback ("mnt-v2: Can't stat mountpoint .../tmp/x/proc").
 *  - bind mounts of single files (Docker's /etc/hosts, /etc/hostname, /etc/resolv.conf, mounted secrets when
 *    the node itself runs in a container): criu cannot dump them ("doesn't have a proper root mount") and they
 *    differ between node containers anyway; the workload sees the image's own copies instead;
 *  - other bind mounts of a subtree (mountinfo root other than "/", e.g. a container's /sys/fs/cgroup/systemd):
 *    the same criu refusal, and nothing a workload relies on.
 * The workload's own files reach it through its --bind, which is mounted after this.
 */
static void detach_foreign_mounts(void)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) return;
    char *points[256];
    int n = 0;
    char line[4096];
    while (n < 256 && fgets(line, sizeof line, f)) {
        char *sep = strstr(line, " - ");
        if (!sep) continue;
        int foreign_type = strncmp(sep + 3, "nsfs ", 5) == 0 || strncmp(sep + 3, "overlay ", 8) == 0;
        /* fields: id parent major:minor root mountpoint ... */
        char *save = NULL, *field = strtok_r(line, " ", &save);
        int subtree = 0;
        for (int i = 0; field && i < 4; i++) {
            field = strtok_r(NULL, " ", &save);
            if (i == 2 && field) subtree = strcmp(field, "/") != 0; /* root: a bind mount of part of a filesystem */
        }
        if (!field) continue;
        unescape_mountinfo(field);
        if (strcmp(field, "/") == 0) continue; /* in a container / itself may be an overlay */
        struct stat st;
        int file_bind = stat(field, &st) == 0 && !S_ISDIR(st.st_mode);
        if (!foreign_type && !file_bind && !subtree && strncmp(field, "/tmp/", 5) != 0 && strncmp(field, "/var/tmp/", 9) != 0) continue;
        points[n] = strdup(field);
        if (points[n]) n++;
    }
    fclose(f);
    while (n-- > 0) { /* children before parents: the reverse of mount order */
        /* EINVAL/ENOENT: already gone with a detached parent */
        if (umount2(points[n], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) msg("detach foreign mount %s: %s", points[n], strerror(errno));
        free(points[n]);
    }
}

/* Detaches every mount stacked on path (a host may mount /dev/shm more than once). */
static void detach_all(const char *path)
{
    for (int i = 0; i < 64 && umount2(path, MNT_DETACH) == 0; i++) {
    }
}

/*
 * /dev/shm: a fresh tmpfs instead of the host's (see the header). /dev/mqueue: the mqueue filesystem of our new
 * IPC namespace (a mount made in it belongs to it). Both directories are created if the host lacks them; on a
 * devtmpfs /dev that leaves an empty /dev/mqueue on the host, where systemd would have mounted one anyway.
 */
static void mount_private_ipc_filesystems(void)
{
    detach_all("/dev/shm");
    if (mkdir_p("/dev/shm") < 0 || mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0) {
        msg("mount a private tmpfs on /dev/shm: %s", strerror(errno));
        _exit(125);
    }
    detach_all("/dev/mqueue");
    if (mkdir_p("/dev/mqueue") < 0 || mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
        msg("mount mqueue on /dev/mqueue: %s", strerror(errno));
        _exit(125);
    }
}

/*
 * First code in the cloned child (PID 1 of the new namespaces, still running the launcher's
 * image). Sets up the mount namespace and then re-executes this binary.
 *
 * Why re-exec: memory mappings (the executable itself, libc if dynamic) and descriptors inherited
 * through clone() still reference the HOST mount namespace's mounts. CRIU resolves every mapped or
 * open file through the dumped task's own mount namespace and fails with
 * "Can't lookup mount=N for fd=-3 path=/.../pmig-init" (measured). After execve() inside the new
 * namespace every mapping belongs to it. (cwd and root are switched by the kernel on CLONE_NEWNS.)
 * The exec must go through the path NAME: execv("/proc/self/exe") follows the magic link to the
 * old host mount and CRIU fails exactly as before (measured).
 */
static void ns_child_setup_and_reexec(const char *self_path, char **argv, int ready_write_fd)
{
    /*
     * Make every mount private first so the /proc mount below (and anything the workload mounts)
     * never propagates back into the host's mount namespace.
     */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        msg("make / private: %s", strerror(errno));
        _exit(125);
    }
    detach_foreign_mounts();
    /*
     * A /proc of our own PID namespace. Detach the inherited host /proc first rather than stacking
     * on top of it, so the namespace has a single clean proc mount to dump.
     */
    umount2("/proc", MNT_DETACH);
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
        msg("mount /proc: %s", strerror(errno));
        _exit(125);
    }
    mount_private_ipc_filesystems();
    for (int i = 0; i < n_binds; i++) {
        char *spec = strdup(opt_bind[i]);
        char *colon = spec ? strchr(spec, ':') : NULL;
        if (!colon) _exit(125);
        *colon = '\0';
        const char *src = spec, *dst = colon + 1;
        if (mkdir_p(dst) < 0) { msg("mkdir %s: %s", dst, strerror(errno)); _exit(125); }
        if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0) {
            msg("bind %s -> %s: %s", src, dst, strerror(errno));
            _exit(125);
        }
        free(spec);
    }
    if (chdir("/") < 0) { msg("chdir /: %s", strerror(errno)); _exit(125); }

    /* argv[0] is kept; "--ns-stage2 FD" tells the new image that the namespaces are ready, and where to say so. */
    int argc = 0;
    while (argv[argc]) argc++;
    char **nargv = calloc((size_t)argc + 3, sizeof(char *));
    char fd_arg[16];
    if (!nargv) _exit(125);
    snprintf(fd_arg, sizeof fd_arg, "%d", ready_write_fd);
    nargv[0] = argv[0];
    nargv[1] = "--ns-stage2";
    nargv[2] = fd_arg;
    for (int i = 1; i < argc; i++) nargv[i + 2] = argv[i];
    execv(self_path, nargv);
    msg("re-exec %s: %s", self_path, strerror(errno));
    _exit(125);
}

/* Launcher side (host namespaces): forwarded signals go to the init. */
static volatile sig_atomic_t init_host_pid = 0;
static void forward_to_init(int sig)
{
    if (init_host_pid > 0) kill((pid_t)init_host_pid, sig);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--tcp-repair-off") == 0) {
        return tcp_repair_off(argc - 2, argv + 2);
    }
    if (argc > 2 && strcmp(argv[1], "--ns-stage2") == 0) {
        /* Re-executed inside the fresh namespaces by ns_child_setup_and_reexec(). */
        ready_fd = atoi(argv[2]);
        argv[2] = argv[0];
        parse_args(argc - 2, argv + 2);
        opt_no_ns = 0;
        run_init();
    }
    parse_args(argc, argv);

    if (opt_no_ns) {
        if (opt_pidfile && write_pidfile(opt_pidfile, getpid()) < 0) {
            msg("write pidfile %s: %s", opt_pidfile, strerror(errno));
            return 125;
        }
        run_init();
    }

    /* Our own path, resolved now through the host /proc; the same path is valid in the copy. */
    char self_path[4096];
    ssize_t sl = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
    if (sl <= 0 || sl >= (ssize_t)sizeof(self_path) - 1) {
        msg("readlink /proc/self/exe: %s", strerror(errno));
        return 125;
    }
    self_path[sl] = '\0';

    /*
     * clone() with new PID, mount, IPC and UTS namespaces used like fork(): the child is PID 1 of
     * a new PID namespace and has a private copy of the mount table, while this launcher stays in
     * the host namespaces (unshare(CLONE_NEWNS) here would move the launcher itself).
     */
    /*
     * Readiness: the child inherits the write end and keeps it across its re-exec; the init closes it
     * with every other inherited descriptor, after the namespace is set up. Until then its mount table is
     * still (part of) the host's - a checkpoint started on the pid we hand out before that dumped a
     * half-built namespace (measured: 5 of 50 launches on this kind of machine).
     */
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0 || fcntl(ready[1], F_SETFD, 0) < 0) {
        msg("pipe: %s", strerror(errno));
        return 125;
    }
    unsigned long ns_flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
    pid_t child = (pid_t)syscall(SYS_clone, ns_flags | SIGCHLD, NULL, NULL, NULL, NULL);
    if (child < 0) {
        msg("clone(CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWIPC|CLONE_NEWUTS): %s (must run as root)", strerror(errno));
        return 125;
    }
    if (child == 0) ns_child_setup_and_reexec(self_path, argv, ready[1]);

    init_host_pid = child;
    close(ready[1]);
    /* the pid file before the workload runs: a workload may rewrite it, and must find it written already */
    if (opt_pidfile && write_pidfile(opt_pidfile, child) < 0) {
        msg("write pidfile %s: %s", opt_pidfile, strerror(errno));
        kill(child, SIGKILL);
        return 125;
    }
    char said;
    ssize_t got;
    while ((got = read(ready[0], &said, 1)) < 0 && errno == EINTR) {
    }
    close(ready[0]);
    if (got != 1) {
        /* it failed while setting up (its message is on our stderr): nothing runs, say so in the status */
        int st;
        while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
        }
        if (opt_pidfile) unlink(opt_pidfile);
        return status_to_code(st) == 0 ? 125 : status_to_code(st);
    }
    if (opt_detach) {
        printf("%d\n", (int)child);
        return 0;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = forward_to_init;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_FORWARDED; i++) sigaction(forwarded[i], &sa, NULL);

    int st;
    for (;;) {
        pid_t p = waitpid(child, &st, 0);
        if (p == child) break;
        if (p < 0 && errno != EINTR) { msg("waitpid: %s", strerror(errno)); return 125; }
    }
    /*
     * If the init was dumped by CRIU (no --leave-running) it dies with SIGKILL: 137. The supervisor
     * knows it dumped the workload and must not treat that as a crash.
     */
    return status_to_code(st);
}
