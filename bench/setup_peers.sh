#!/usr/bin/env bash
# Creates the peer virtualenvs used only by bench/bench_peers.py:
#   bench/.peers-venv/dbos       dbos (SQLite system database)
#   bench/.peers-venv/langgraph  langgraph + langgraph-checkpoint-sqlite
#   bench/.peers-venv/enact      enact's own dependencies only (the checkout's src/ is put
#                                on PYTHONPATH): enact's cold-start processes start from a
#                                clean virtualenv of the same interpreter, as the peers' do
# Neither peer is a dependency of enact. Idempotent: an existing venv with the pinned
# versions is kept. Usage: bash bench/setup_peers.sh [--force]
# Env: PYTHON=/path/to/python3.11 to choose the interpreter.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$HERE/.peers-venv"
DBOS_PINS=("dbos==3.4.0")
LANGGRAPH_PINS=("langgraph==1.2.24" "langgraph-checkpoint-sqlite==3.1.2")
ENACT_PINS=("click==8.4.0" "rich==15.0.0")  # pyproject.toml's dependencies, as tested

if [[ "${1:-}" == "--force" ]]; then rm -rf "$ROOT"; fi
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  if command -v python3.11 >/dev/null 2>&1; then PY=python3.11; else PY=python3; fi
fi

make_venv() {  # name smoke-import pins...
  local name="$1" smoke="$2"; shift 2
  local venv="$ROOT/$name" log="$ROOT/$name.log"
  mkdir -p "$ROOT"
  if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -m pip show -q "${@%%==*}" >/dev/null 2>&1 \
     && "$venv/bin/python" - "$@" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
sys.exit(0 if all(version(p.split("==")[0]) == p.split("==")[1] for p in sys.argv[1:]) else 1)
PY
    echo "setup_peers.sh: $name venv OK ($*)"
    return 0
  fi
  rm -rf "$venv"
  if ! { "$PY" -m venv "$venv" && "$venv/bin/python" -m pip install \
         --disable-pip-version-check -q "$@"; } >"$log" 2>&1; then
    echo "setup_peers.sh: installing $* into $venv failed; last lines of $log:" >&2
    grep -v "is ignored: it is neither a file nor a directory" "$log" | tail -15 >&2
    exit 1
  fi
  if ! "$venv/bin/python" -c "$smoke" >>"$log" 2>&1; then
    echo "setup_peers.sh: $name installed but '$smoke' fails; see $log" >&2
    exit 1
  fi
  echo "setup_peers.sh: $name venv created ($*)"
}

make_venv dbos "from dbos import DBOS, SetWorkflowID" "${DBOS_PINS[@]}"
make_venv langgraph \
  "from langgraph.checkpoint.sqlite import SqliteSaver; from langgraph.types import interrupt" \
  "${LANGGRAPH_PINS[@]}"
make_venv enact "import click, rich" "${ENACT_PINS[@]}"
