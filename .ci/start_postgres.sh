#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for enact's test suite / CI.
#
# Usage (from .ci/run or a shell):
#   out="$(bash .ci/start_postgres.sh)" || exit 1
#   eval "$(printf '%s\n' "$out" | tail -n 1)"
#   export ENACT_TEST_POSTGRES_DSN
#   ...
#   bash .ci/stop_postgres.sh
#
# The LAST line of stdout is
#   ENACT_TEST_POSTGRES_DSN=postgresql://postgres@127.0.0.1:PORT/enact_test
# Everything else (progress, errors) goes to stderr.
#
# - Installs Debian's PostgreSQL server (apt) only if initdb/pg_ctl are missing.
# - Data lives in a fresh `mktemp -d` directory under /tmp, owned by the
#   `postgres` system user when run as root (the server refuses to run as root).
# - Listens on 127.0.0.1 only (trust auth, loopback only); the unix socket is
#   inside the temp dir, so it never clashes with a system cluster.
# - Port: $ENACT_PG_PORT (default 54329); if taken, the next ones are tried.
# - Each started server's temp dir is appended to $ENACT_PG_STATE_FILE
#   (default /tmp/enact-test-postgres.state); stop_postgres.sh reads it.
#   Running start twice gives two independent servers on two ports.
#
# Environment knobs (all optional):
#   ENACT_PG_PORT        first port to try (default 54329)
#   ENACT_PG_PORT_TRIES  how many consecutive ports to try (default 20)
#   ENACT_PG_STATE_FILE  state file path (default /tmp/enact-test-postgres.state)
#   ENACT_PG_DB          database name (default enact_test)
#   ENACT_PG_WAIT        seconds to wait for readiness (default 30)
set -euo pipefail

PORT_BASE="${ENACT_PG_PORT:-54329}"
PORT_TRIES="${ENACT_PG_PORT_TRIES:-20}"
STATE_FILE="${ENACT_PG_STATE_FILE:-/tmp/enact-test-postgres.state}"
DB_NAME="${ENACT_PG_DB:-enact_test}"
WAIT_SECS="${ENACT_PG_WAIT:-30}"
PG_SUPERUSER=postgres   # role name inside the cluster (initdb -U), independent of the OS user

log() { printf '[start_postgres] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- locate (or install) the server binaries ---------------------------------
find_bindir() {
    local d best=""
    # highest version that has both initdb and pg_ctl
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
        if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
            best="$d"
        fi
    done
    if [[ -z "$best" ]] && command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        best="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
    fi
    printf '%s' "$best"
}

BINDIR="$(find_bindir)"
if [[ -z "$BINDIR" ]]; then
    [[ $EUID -eq 0 ]] || die "PostgreSQL server not installed and not root: install Debian package 'postgresql' first"
    log "PostgreSQL server not found; installing Debian package 'postgresql' (apt-get update + install)..."
    export DEBIAN_FRONTEND=noninteractive
    apt_log="$(mktemp /tmp/enact-pg-apt.XXXXXX.log)"
    if ! { apt-get update -qq &&
           apt-get install -y -qq --no-install-recommends \
               -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
               postgresql; } >"$apt_log" 2>&1; then
        tail -n 40 "$apt_log" >&2
        die "apt-get install postgresql failed (full log: $apt_log)"
    fi
    rm -f "$apt_log"
    BINDIR="$(find_bindir)"
    [[ -n "$BINDIR" ]] || die "installed 'postgresql' but still no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
fi

pick_tool() {  # prefer the server's own version of a client tool
    if [[ -x "$BINDIR/$1" ]]; then printf '%s' "$BINDIR/$1"
    elif command -v "$1" >/dev/null 2>&1; then command -v "$1"
    else die "$1 not found"; fi
}
PG_ISREADY="$(pick_tool pg_isready)"
PSQL="$(pick_tool psql)"

# --- OS user that owns and runs the server -----------------------------------
if [[ $EUID -eq 0 ]]; then
    RUN_USER=postgres
    if ! id -u "$RUN_USER" >/dev/null 2>&1; then
        log "system user '$RUN_USER' missing; creating it"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$RUN_USER"
    fi
else
    RUN_USER="$(id -un)"
fi

ROOT="$(mktemp -d /tmp/enact-pg.XXXXXX)"
DATA="$ROOT/data"
SOCK="$ROOT/sock"
LOGFILE="$ROOT/server.log"
touch "$ROOT/.enact-test-postgres"   # marker: stop_postgres.sh only deletes dirs carrying it
mkdir -p "$SOCK"
if [[ $EUID -eq 0 ]]; then chown -R "$RUN_USER:" "$ROOT"; fi
chmod 700 "$ROOT"

# Run a command as the server user, from a directory it can read (PostgreSQL
# tools fail with "could not identify current directory" when cwd is e.g. /root).
as_pg() {
    if [[ $EUID -eq 0 ]]; then
        (cd "$ROOT" && runuser -u "$RUN_USER" -- "$@")
    else
        (cd "$ROOT" && "$@")
    fi
}

STARTED=""
cleanup_on_error() {
    local rc=$?
    if [[ $rc -ne 0 ]]; then
        if [[ -n "$STARTED" ]]; then
            as_pg "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
        fi
        if [[ -f "$LOGFILE" ]]; then log "--- server log ---"; tail -n 30 "$LOGFILE" >&2 || true; fi
        rm -rf -- "$ROOT"
        log "failed (exit $rc); removed $ROOT"
    fi
}
trap cleanup_on_error EXIT

# --- initdb -------------------------------------------------------------------
if ! as_pg "$BINDIR/initdb" -D "$DATA" -U "$PG_SUPERUSER" -E UTF8 --no-locale \
        --auth=trust --no-sync >"$ROOT/initdb.log" 2>&1; then
    cat "$ROOT/initdb.log" >&2
    die "initdb failed"
fi
# trust, loopback only (unix socket lives in our private 0700 dir)
cat >"$DATA/pg_hba.conf" <<'EOF'
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   trust
host    all       all   ::1/128        trust
EOF
cat >>"$DATA/postgresql.conf" <<EOF

# --- enact throw-away test server ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCK'
EOF
if [[ $EUID -eq 0 ]]; then chown "$RUN_USER:" "$DATA/pg_hba.conf"; fi

# --- start on a free port -----------------------------------------------------
port_busy() {  # something already accepts connections on 127.0.0.1:$1
    timeout 2 bash -c ": >/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

PORT=""
for ((i = 0; i < PORT_TRIES; i++)); do
    p=$((PORT_BASE + i))
    if port_busy "$p"; then continue; fi
    : >"$LOGFILE"; if [[ $EUID -eq 0 ]]; then chown "$RUN_USER:" "$LOGFILE"; fi
    as_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$LOGFILE" -o "-p $p" -W start >/dev/null 2>&1 \
        || die "pg_ctl start failed"
    STARTED=1
    deadline=$((SECONDS + WAIT_SECS))
    state=waiting
    while ((SECONDS < deadline)); do
        if "$PG_ISREADY" -q -h 127.0.0.1 -p "$p" -t 1; then state=ready; break; fi
        # postmaster gone? (e.g. lost a race for the port)
        if ! as_pg "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
            sleep 0.2
            as_pg "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1 || { state=dead; break; }
        fi
        sleep 0.1
    done
    if [[ $state == ready ]]; then PORT="$p"; break; fi
    if [[ $state == dead ]] && grep -qiE 'could not (bind|create listen)|address already in use' "$LOGFILE"; then
        log "port $p taken, trying next"
        STARTED=""
        continue
    fi
    [[ $state == dead ]] && die "server exited during startup (server log follows)"
    die "server not ready after ${WAIT_SECS}s on port $p"
done
[[ -n "$PORT" ]] || die "no free port in ${PORT_BASE}..$((PORT_BASE + PORT_TRIES - 1))"

# --- database -----------------------------------------------------------------
"$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$PG_SUPERUSER" -d postgres \
    -c "CREATE DATABASE \"$DB_NAME\"" >&2 || die "CREATE DATABASE $DB_NAME failed"

DSN="postgresql://${PG_SUPERUSER}@127.0.0.1:${PORT}/${DB_NAME}"
printf '%s\n' "$PORT" >"$ROOT/port"
printf '%s\n' "$DSN" >"$ROOT/dsn"
printf '%s\n' "$ROOT" >>"$STATE_FILE"
trap - EXIT

log "PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}') ready on 127.0.0.1:$PORT (dir $ROOT, state $STATE_FILE)"
printf 'ENACT_TEST_POSTGRES_DSN=%s\n' "$DSN"
