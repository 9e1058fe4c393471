#!/usr/bin/env bash
# install-criu.sh - make sure a working CRIU >= 4.2 is available for pmig.
#
# Idempotent. Order of preference:
#   1. $PMIG_CRIU (if set), 2. `criu` on PATH, 3. a previous private install in $PMIG_CRIU_PREFIX.
# A candidate is accepted only if its version is >= 4.2 AND `criu check` passes.
# Otherwise CRIU is installed from Debian "forky" into a private prefix WITHOUT touching the
# system's apt/dpkg state (private sources dir, private lists/cache, empty dpkg status), by
# extracting the .debs of criu's dependency closure with `dpkg-deb -x`. A wrapper
# $PREFIX/bin/criu runs criu through the prefix's own dynamic loader, so forky's libc never
# meets the system's libc.
#
# Why not bookworm/trixie criu: 3.17 fails on kernel 6.18 (vDSO), 4.1.1 cannot dump TCP/UDP
# sockets on kernels >= 6.16 (fixed in 4.2.1). See /work/shared/FACTS.md.
#
# Also raises fs.pipe-max-size to 4 MiB (lazy-pages needs F_SETPIPE_SZ beyond the default
# 1 MiB and root here lacks CAP_SYS_RESOURCE to bypass the limit).
#
# Also installs `nft` (Debian nftables from the same suite) into the prefix with a wrapper
# $PREFIX/bin/nft: pmig always dumps with `--network-lock nftables` (the default iptables lock needs
# an iptables binary, absent here) and must delete leftover `table inet CRIU-*` lock tables after a
# failed restore. A working criu without $PREFIX/bin/nft (or nft on PATH) triggers an install of
# the prefix (unless PMIG_CRIU_NO_NFT=1).
#
# stdout: only the absolute path of the working criu (last and only line). Logs go to stderr.
#
# Environment:
#   PMIG_CRIU           explicit criu binary to try first
#   PMIG_CRIU_PREFIX    install prefix (default /opt/pmig/criu)
#   PMIG_CRIU_SUITE     Debian suite to take criu from (default forky)
#   PMIG_DEBIAN_MIRROR  Debian mirror (default http://deb.debian.org/debian)
#   PMIG_CRIU_NO_NFT=1  do not require/install nft
#   PMIG_CRIU_FORCE=1   reinstall into the prefix even if a working criu is found
set -euo pipefail

PREFIX="${PMIG_CRIU_PREFIX:-/opt/pmig/criu}"
SUITE="${PMIG_CRIU_SUITE:-forky}"
MIRROR="${PMIG_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
MIN_MAJOR=4
MIN_MINOR=2
PIPE_MAX=4194304

log() { echo "install-criu: $*" >&2; }
die() { echo "install-criu: ERROR: $*" >&2; exit 1; }

# Print "MAJOR MINOR PATCH" of a criu binary, or nothing.
criu_version() {
    "$1" --version 2>/dev/null | sed -n 's/^Version: *\([0-9][0-9]*\)\.\([0-9][0-9]*\)\.\{0,1\}\([0-9]*\).*/\1 \2 \3/p' | head -n1
}

version_ok() { # $1 = binary
    local v maj min
    v="$(criu_version "$1")"
    [ -n "$v" ] || return 1
    read -r maj min _ <<<"$v"
    [ "$maj" -gt "$MIN_MAJOR" ] || { [ "$maj" -eq "$MIN_MAJOR" ] && [ "$min" -ge "$MIN_MINOR" ]; }
}

# Succeeds if $1 is an executable criu >= 4.2 whose `criu check` passes.
criu_works() {
    local bin="$1" out
    [ -n "$bin" ] && [ -x "$bin" ] || return 1
    if ! version_ok "$bin"; then
        log "$bin: version '$("$bin" --version 2>/dev/null | head -n1)' is older than $MIN_MAJOR.$MIN_MINOR (or unknown)"
        return 1
    fi
    if ! out="$("$bin" check 2>&1)"; then
        log "$bin: 'criu check' failed:"
        printf '%s\n' "$out" | tail -n 5 | sed 's/^/    /' >&2
        return 1
    fi
    return 0
}

raise_pipe_max() {
    local cur
    cur="$(cat /proc/sys/fs/pipe-max-size 2>/dev/null || echo 0)"
    if [ "$cur" -ge "$PIPE_MAX" ]; then return 0; fi
    if { command -v sysctl >/dev/null && sysctl -q -w fs.pipe-max-size="$PIPE_MAX" >/dev/null 2>&1; } \
        || echo "$PIPE_MAX" > /proc/sys/fs/pipe-max-size 2>/dev/null; then
        log "set fs.pipe-max-size=$PIPE_MAX (was $cur; needed by lazy-pages)"
    else
        log "WARNING: could not raise fs.pipe-max-size to $PIPE_MAX (is $cur); criu lazy-pages will fail"
    fi
}

abspath() { readlink -f "$1"; }

finish() { # $1 = working criu
    raise_pipe_max
    log "using $1 ($("$1" --version 2>/dev/null | head -n1))"
    abspath "$1"
    exit 0
}

[ "$(id -u)" -eq 0 ] || die "must run as root (criu check/dump/restore need root; install writes to $PREFIX)"

nft_ok() { [ "${PMIG_CRIU_NO_NFT:-0}" = 1 ] || "$PREFIX/bin/nft" --version >/dev/null 2>&1 || command -v nft >/dev/null; }

# ---- 1. an existing criu --------------------------------------------------------------------
if [ "${PMIG_CRIU_FORCE:-0}" != 1 ]; then
    if [ -n "${PMIG_CRIU:-}" ]; then
        if criu_works "$PMIG_CRIU" && nft_ok; then finish "$PMIG_CRIU"; fi
        log "PMIG_CRIU=$PMIG_CRIU is not usable; trying others"
    fi
    if p="$(command -v criu 2>/dev/null)" && criu_works "$p" && nft_ok; then finish "$p"; fi
    if criu_works "$PREFIX/bin/criu" && nft_ok; then finish "$PREFIX/bin/criu"; fi
fi

# ---- 2. private install from Debian $SUITE ------------------------------------------------------
for tool in apt-get apt-cache dpkg-deb dpkg; do
    command -v "$tool" >/dev/null || die "'$tool' not found: this installer needs a Debian-like system"
done
[ -r "$KEYRING" ] || die "$KEYRING missing (install debian-archive-keyring)"

ARCH="$(dpkg --print-architecture)"
case "$ARCH" in
    amd64) TRIPLET=x86_64-linux-gnu;  LOADER=ld-linux-x86-64.so.2 ;;
    arm64) TRIPLET=aarch64-linux-gnu; LOADER=ld-linux-aarch64.so.1 ;;
    *) die "unsupported architecture '$ARCH' (supported: amd64, arm64)" ;;
esac

W="$(mktemp -d /tmp/pmig-criu-install.XXXXXX)"
STAGE="${PREFIX}.new.$$"
cleanup() { rm -rf "$W" "$STAGE"; }
trap cleanup EXIT

mkdir -p "$W/src" "$W/lists/partial" "$W/cache/archives/partial" "$W/debs"
cat > "$W/src/pmig-$SUITE.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE
Components: main
Signed-By: $KEYRING
EOF

# Every apt state path points into $W: the system's sources, lists, cache, preferences and dpkg
# status are neither read nor written (status=/dev/null makes apt resolve the full closure, as if
# nothing were installed - exactly what a self-contained prefix needs).
APT_OPTS=(
    -o "Dir::Etc::SourceList=/dev/null"
    -o "Dir::Etc::SourceParts=$W/src"
    -o "Dir::Etc::Preferences=/dev/null"
    -o "Dir::Etc::PreferencesParts=$W/src"
    -o "Dir::State::Lists=$W/lists"
    -o "Dir::Cache=$W/cache"
    -o "Dir::State::status=/dev/null"
    -o "Debug::NoLocking=1"
    -o "APT::Architecture=$ARCH"
    -o "APT::Architectures=$ARCH"
    -o "Acquire::Languages=none"
    -o "Acquire::Retries=2"
    -o "APT::Sandbox::User=root"
)

log "installing criu from Debian $SUITE ($MIRROR) into $PREFIX"
if ! out="$(apt-get "${APT_OPTS[@]}" -q update 2>&1)" || printf '%s' "$out" | grep -qE '^(W|E): (Failed|Some index)'; then
    printf '%s\n' "$out" | tail -n 5 | sed 's/^/    /' >&2
    die "apt-get update for $SUITE failed (no network access to $MIRROR? set PMIG_DEBIAN_MIRROR)"
fi

CAND="$(apt-cache "${APT_OPTS[@]}" policy criu 2>/dev/null | sed -n 's/^ *Candidate: *//p')"
[ -n "$CAND" ] && [ "$CAND" != "(none)" ] || die "no criu package in Debian $SUITE"
log "criu candidate in $SUITE: $CAND"

ROOTS=(criu)
[ "${PMIG_CRIU_NO_NFT:-0}" = 1 ] || ROOTS+=(nftables)
# Dependency closure (Depends/PreDepends only); virtual packages (<...>) are dropped.
mapfile -t PKGS < <(apt-cache "${APT_OPTS[@]}" depends --recurse --no-recommends --no-suggests \
    --no-conflicts --no-breaks --no-replaces --no-enhances "${ROOTS[@]}" 2>/dev/null | grep -E '^[a-z0-9]' | sort -u)
[ "${#PKGS[@]}" -gt 1 ] || die "could not resolve criu's dependencies in $SUITE"
log "downloading ${#PKGS[@]} packages: ${PKGS[*]}"
if ! out="$(cd "$W/debs" && apt-get "${APT_OPTS[@]}" -q download "${PKGS[@]}" 2>&1)"; then
    printf '%s\n' "$out" | tail -n 5 | sed 's/^/    /' >&2
    die "apt-get download failed (network?)"
fi

rm -rf "$STAGE"
mkdir -p "$STAGE/bin"
for deb in "$W"/debs/*.deb; do
    dpkg-deb -x "$deb" "$STAGE" || die "dpkg-deb -x $deb failed"
done
[ -x "$STAGE/usr/sbin/criu" ] || die "criu binary missing after extraction"
[ -e "$STAGE/usr/lib/$TRIPLET/$LOADER" ] || die "loader $LOADER missing after extraction"

# The wrapper locates its prefix from its own path so the prefix stays relocatable. It runs criu
# through the prefix's loader with an explicit --library-path instead of LD_LIBRARY_PATH, so
# programs criu spawns (action scripts, iptables, ...) keep using the system's libraries.
cat > "$STAGE/bin/criu" <<EOF
#!/bin/sh
# pmig private criu ($CAND from Debian $SUITE) - generated by install-criu.sh
P=\$(dirname "\$(dirname "\$(readlink -f "\$0")")")
exec "\$P/usr/lib/$TRIPLET/$LOADER" --library-path "\$P/usr/lib/$TRIPLET" "\$P/usr/sbin/criu" "\$@"
EOF
chmod 755 "$STAGE/bin/criu"
if [ -x "$STAGE/usr/sbin/nft" ]; then
    cat > "$STAGE/bin/nft" <<EOF
#!/bin/sh
# pmig private nft (Debian $SUITE) - generated by install-criu.sh; used to remove CRIU lock tables
P=\$(dirname "\$(dirname "\$(readlink -f "\$0")")")
exec "\$P/usr/lib/$TRIPLET/$LOADER" --library-path "\$P/usr/lib/$TRIPLET" "\$P/usr/sbin/nft" "\$@"
EOF
    chmod 755 "$STAGE/bin/nft"
fi
printf '%s\n' "$CAND" > "$STAGE/VERSION"

criu_works "$STAGE/bin/criu" || die "freshly extracted criu ($CAND) does not pass 'criu check' on this kernel"

# Swap the new prefix in (the old one, if any, was not working or FORCE was set).
mkdir -p "$(dirname "$PREFIX")"
if [ -e "$PREFIX" ]; then rm -rf "$PREFIX.old.$$"; mv "$PREFIX" "$PREFIX.old.$$"; fi
mv "$STAGE" "$PREFIX"
rm -rf "$PREFIX.old.$$"

criu_works "$PREFIX/bin/criu" || die "installed criu at $PREFIX/bin/criu does not work"
finish "$PREFIX/bin/criu"
