#!/usr/bin/env bash
# Creates the baseline virtualenv (bench/.baseline-venv) with the OLD PyPI
# release enact==0.4.12, used only as a speed baseline by
# bench/baseline_workloads.py. It is never imported by our project.
#
# Usage: bash bench/setup_baseline.sh [--force]   (--force recreates the venv)
# Env:   PYTHON=/path/to/python3.11 to choose the interpreter.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.baseline-venv"

if [[ "${1:-}" == "--force" ]]; then
  rm -rf "$VENV"
fi

PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  if command -v python3.11 >/dev/null 2>&1; then PY=python3.11; else PY=python3; fi
fi
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  echo "setup_baseline.sh: need Python 3.11, got: $("$PY" --version 2>&1)" >&2
  exit 1
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  "$PY" -m venv "$VENV"
fi

# wrapt must stay < 2: enact 0.4.12 calls wrapt.decorator(wrapper=..., ...)
# which wrapt 2.x rejects ("positional-only arguments passed as keyword"),
# breaking @enact.register on plain functions. `import enact` alone still
# works with wrapt 2.x, so the smoke test below registers a function.
"$VENV/bin/python" -m pip install --disable-pip-version-check -q \
  "enact==0.4.12" "wrapt==1.16.0"

"$VENV/bin/python" - <<'PY'
import enact
assert enact.__version__ == "0.4.12", enact.__version__

@enact.register
def _smoke_child(x: int) -> int:
  return x + 1

@enact.register
def _smoke_parent(n: int) -> int:
  return sum(_smoke_child(i) for i in range(n))

with enact.InMemoryStore():
  inv = enact.invoke(_smoke_parent, (3,))
  assert inv.get_output() == 6, inv.get_output()
  assert len(list(inv.get_children())) == 3
print(f"baseline venv OK: enact {enact.__version__} from {enact.__file__}")
PY
