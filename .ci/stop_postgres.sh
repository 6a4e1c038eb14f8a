#!/usr/bin/env bash
# Stop throw-away PostgreSQL server(s) started by .ci/start_postgres.sh and
# delete their temp dirs. Idempotent: nothing to stop -> exit 0.
#
#   bash .ci/stop_postgres.sh            # stop every server listed in the state file
#   bash .ci/stop_postgres.sh DIR...     # stop only these (temp dirs from the state file)
#
# State file: $ENACT_PG_STATE_FILE (default /tmp/enact-test-postgres.state).
set -euo pipefail

STATE_FILE="${ENACT_PG_STATE_FILE:-/tmp/enact-test-postgres.state}"

log() { printf '[stop_postgres] %s\n' "$*" >&2; }

find_pg_ctl() {
    local d best=""
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
        [[ -x "$d/pg_ctl" ]] && best="$d/pg_ctl"
    done
    [[ -z "$best" ]] && best="$(command -v pg_ctl 2>/dev/null || true)"
    printf '%s' "$best"
}
PG_CTL="$(find_pg_ctl)"

stop_one() {
    local root="$1" data pid owner
    root="${root%/}"
    [[ -n "$root" ]] || return 0
    if [[ ! -d "$root" ]]; then return 0; fi
    # Safety: only ever delete directories that start_postgres.sh created.
    if [[ ! -f "$root/.enact-test-postgres" ]]; then
        log "skipping $root: not an enact test-postgres dir (no marker file)"
        return 0
    fi
    data="$root/data"
    if [[ -f "$data/postmaster.pid" ]]; then
        owner="$(stat -c %U "$data")"
        if [[ -n "$PG_CTL" ]]; then
            if [[ $EUID -eq 0 && "$owner" != root ]]; then
                (cd "$root" && runuser -u "$owner" -- "$PG_CTL" -D "$data" -m fast -w -t 20 stop) >/dev/null 2>&1 || true
            else
                (cd "$root" && "$PG_CTL" -D "$data" -m fast -w -t 20 stop) >/dev/null 2>&1 || true
            fi
        fi
        # Still there (pg_ctl missing/failed)? Kill that postmaster by its pid.
        if [[ -f "$data/postmaster.pid" ]]; then
            pid="$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)"
            if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
                    && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres* ]]; then
                log "pg_ctl stop failed; sending SIGQUIT to postmaster $pid"
                kill -QUIT "$pid" 2>/dev/null || true
                for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
                kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
    fi
    rm -rf -- "$root"
    log "stopped and removed $root"
}

remove_from_state() {  # drop one line from the state file
    local root="$1" tmp
    [[ -f "$STATE_FILE" ]] || return 0
    tmp="$(mktemp "${STATE_FILE}.XXXXXX")"
    grep -vxF -- "$root" "$STATE_FILE" >"$tmp" || true
    if [[ -s "$tmp" ]]; then mv -f -- "$tmp" "$STATE_FILE"; else rm -f -- "$tmp" "$STATE_FILE"; fi
}

if [[ $# -gt 0 ]]; then
    for root in "$@"; do
        stop_one "$root"
        remove_from_state "$root"
    done
    exit 0
fi

if [[ ! -f "$STATE_FILE" ]]; then
    log "nothing to stop ($STATE_FILE absent)"
    exit 0
fi
while IFS= read -r root; do
    stop_one "$root"
done <"$STATE_FILE"
rm -f -- "$STATE_FILE"
