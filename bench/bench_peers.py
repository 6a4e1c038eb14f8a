"""enact against DBOS (SQLite) and LangGraph (SqliteSaver), in one script (issue 9).

    bash bench/setup_peers.sh            # once; bench_peers.py runs it if a venv is missing
    python bench/bench_peers.py          # full run, ~3 minutes
    python bench/bench_peers.py --quick  # reduced sizes, ~30 s
    python bench/bench_peers.py --json > out.json    # or --markdown for the table
    python bench/bench_peers.py --only per_call,replay --sides enact,dbos

enact's side runs in this process (bench/peers/enact_workloads.py); each
peer's side runs in its own virtualenv (bench/.peers-venv/<peer>) as a
subprocess of bench/peers/<peer>_workloads.py printing one JSON line. All
sides use the same workload code (bench/peers/peer_common.py). LangGraph is
two sides: ``langgraph``, the graph API (a looping node; resuming loads the
last checkpoint), and ``langgraph_func``, the functional API (an entrypoint
calling tasks; resuming runs the entrypoint again and takes each finished
task's result from the checkpoint, as an enact replay does), both in the
LangGraph virtualenv. Times are
medians of the repeats, in process CPU time (all threads) unless said;
ratios are peer / enact, so > 1 means enact is faster or smaller.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import subprocess
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS_DIR = os.path.join(HERE, "peers")
sys.path.insert(0, PEERS_DIR)

import enact_workloads  # noqa: E402
import peer_common  # noqa: E402

PEERS = ("dbos", "langgraph", "langgraph_func")
SIDES = ("enact", *PEERS)
ONLY_SIDES = {"resume": ("enact", "langgraph_func")}
"""Workloads that not every side offers, and the sides that do."""
VENVS = {"langgraph_func": "langgraph"}
"""Sides that run in another side's virtualenv."""


def _python(side: str, fresh_process: bool = False) -> str:
    """The interpreter of `side`: the peers' virtualenvs; for enact this process's
    interpreter, or for fresh processes (cold start) its clean virtualenv, so that no
    side's startup runs what the bench machine's own site-packages add (a ``.pth`` file
    that imports certifi costs this machine's interpreter 30 ms at every start)."""
    venv = os.path.join(HERE, ".peers-venv", VENVS.get(side, side), "bin", "python")
    if side == "enact" and not (fresh_process and os.path.exists(venv)):
        return sys.executable
    return venv


def _script(side: str) -> str:
    return os.path.join(PEERS_DIR, f"{side}_workloads.py")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(HERE), "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _compile_sources() -> None:
    """Writes the bytecode of enact's sources, which the cold start imports from src.

    The peers' packages were byte-compiled when pip installed them, as enact's are
    when a user installs it. Without this, in a shell with ``PYTHONDONTWRITEBYTECODE=1``,
    every source changed since its last import is compiled at every start: about 40 ms
    for six changed modules, 200 ms with none compiled (450 ms against 220 ms a start
    here), which the peers never pay."""
    src = os.path.join(os.path.dirname(HERE), "src")
    if not compileall.compile_dir(src, quiet=1):
        raise RuntimeError(f"could not byte-compile {src}")


def ensure_peers(log: Any) -> None:
    if all(os.path.exists(_python(p)) for p in PEERS):
        return
    log("bench_peers: peer venvs missing, running bench/setup_peers.sh ...")
    subprocess.run(["bash", os.path.join(HERE, "setup_peers.sh")], check=True)


def run_side(side: str, workload: str, size: int, repeats: int) -> dict[str, Any]:
    if workload == "cold_start":
        if side == "enact":
            _compile_sources()
        command = [_python(side, fresh_process=True), _script(side), "cold_one"]
        res = peer_common.cold_start(command, repeats, _env())
        return {"side": side, **res}
    if side == "enact":
        return peer_common.run(enact_workloads, workload, size, repeats)
    proc = subprocess.run(
        [_python(side), _script(side), workload, "--size", str(size), "--repeats", str(repeats)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{side} {workload} {size} failed: {proc.stderr.strip()[-800:]}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# (workload, size, repeats, quick size, quick repeats)
CASES = [
    ("per_call", 200, 5, 50, 3),
    ("replay", 200, 11, 50, 3),  # 11: one side's median moved by up to 40 % between runs of 5
    ("resume", 200, 11, 50, 3),
    ("input_requests", 100, 1, 50, 1),
    ("input_requests", 200, 1, 100, 1),
    ("input_requests", 400, 1, None, 1),
    ("input_requests", 800, 1, None, 1),
    ("bytes_per_call", 1000, 1, 200, 1),
    ("cold_start", 1, 7, 1, 3),
]

# (row label, workload, result key, format)
METRICS = [
    ("per_call CPU/step", "per_call", "cpu", "s"),
    ("replay all CPU/recorded step", "replay", "cpu", "s"),
    ("replay last CPU/recorded step", "replay", "last_cpu", "s"),
    ("resume (answer) CPU/recorded step", "resume", "cpu", "s"),
    ("input_requests CPU total", "input_requests", "cpu", "s"),
    ("input_requests wall total", "input_requests", "wall", "s"),
    ("input_requests store bytes", "input_requests", "store_bytes", "B"),
    ("bytes_per_call B/step", "bytes_per_call", "bytes_per_step", "B"),
    ("cold_start wall/process", "cold_start", "wall", "s"),
    ("cold_start CPU/process", "cold_start", "cpu", "s"),
]


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "n/a"
    if kind == "B":
        if value >= 1e6:
            return f"{value / 1e6:.2f} MB"
        return f"{value / 1e3:.1f} KB" if value >= 1e4 else f"{value:.0f} B"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.2f} ms"
    return f"{value * 1e6:.1f} µs"


def table(results: list[dict[str, Any]], sides: list[str], markdown: bool) -> str:
    by: dict[tuple[str, int, str], dict[str, Any]] = {
        (r["workload"], r["size"], r["side"]): r for r in results
    }
    keys = sorted({(r["workload"], r["size"]) for r in results}, key=lambda k: k[1])
    peers = [s for s in sides if s != "enact"]
    header = ["measure", "size", *sides, *[f"{p}/enact" for p in peers]]
    rows = []
    for label, workload, key, kind in METRICS:
        for wl, size in keys:
            if wl != workload:
                continue
            vals = {s: by.get((wl, size, s), {}).get(key) for s in sides}
            ratios = []
            for p in peers:
                e, v = vals.get("enact"), vals.get(p)
                ratios.append(f"{v / e:.2f}x" if e and v is not None else "n/a")
            rows.append([label, str(size), *[_fmt(vals[s], kind) for s in sides], *ratios])
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(out + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes, ~30 s")
    parser.add_argument("--json", action="store_true", help="print all results as JSON")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--only", default="", help="comma-separated workloads")
    parser.add_argument("--sides", default=",".join(SIDES), help="comma-separated sides")
    parser.add_argument("--render", metavar="FILE", help="print the table of a saved --json")
    args = parser.parse_args(argv)
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    if args.render:
        with open(args.render, encoding="utf-8") as f:
            saved = json.load(f)
        print(table(saved["results"], saved["sides"], args.markdown))
        return 0

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if any(s in PEERS for s in sides):
        ensure_peers(log)
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    results = []
    for workload, size, repeats, quick_size, quick_repeats in CASES:
        if wanted and workload not in wanted:
            continue
        if args.quick:
            if quick_size is None:
                continue
            size, repeats = quick_size, quick_repeats
        for side in sides:
            if side not in ONLY_SIDES.get(workload, SIDES):
                continue
            log(f"bench_peers: {workload} {size} {side} ({repeats} repeats) ...")
            try:
                results.append(run_side(side, workload, size, repeats))
            except RuntimeError as err:
                log(f"bench_peers: {err}")
    if args.json:
        print(json.dumps({"sides": sides, "quick": args.quick, "results": results}, indent=1))
    else:
        print(table(results, sides, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
