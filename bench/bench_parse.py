"""Bench: ``gitsm verify`` of hostile store files (alias bombs, oversized files, wrong types, links).

Usage: ``.venv/bin/python bench/bench_parse.py [--quick] [--runs 5] [--dir D]``

Builds the corpus of ``tests/hostile.py`` (a store written by gitsm, then one commit per hostile
file made with plain git: YAML alias bombs of 10**9 leaves in manifest fields and in the config,
anchors and tags, files just over their byte limit and over 1 MiB, fields of the wrong type, JSON
nested 100,000 deep, symbolic links, gitlinks and executables) and measures, for each file:

* ``verify`` in-process (``run_verify(rev=...)``): wall time (median of the runs) and the peak of
  Python's allocations (tracemalloc);
* ``gitsm verify --rev`` in a fresh process: wall time with start-up, and the process's peak
  resident memory (``os.wait4``), beside the same for the clean base commit.

Then one process over every hostile file at once, and as a peer what an unguarded reader pays:
PyYAML's safe loader and ``str()`` of one field of a bomb 1,000 times smaller than the corpus's
(a subprocess capped at 2 GiB of address space). ``--quick`` runs once and skips the per-file
processes. Target: every hostile file judged in under 1 s. It asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gitsm.verify import run_verify  # noqa: E402
from tests.hostile import ALL, BASE, bomb, build, together  # noqa: E402

GITSM = Path(sys.executable).with_name("gitsm")
MB = 1024 * 1024
TARGET = 1.0
PEER = """
import resource, sys, time, yaml
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
text = sys.stdin.read()
start = time.perf_counter()
try:
    doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    shown = len(str(doc["versions"]["v"]["kms_key_ids"]))
    outcome = f"{shown:,} characters"
except MemoryError:
    outcome = "MemoryError"
print(f"{time.perf_counter() - start:.3f} {outcome}")
"""


def process(*args: str) -> tuple[int, float, int]:
    """Run ``gitsm ARGS``: exit code, wall seconds, peak resident bytes of that process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(GITSM), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - start, usage.ru_maxrss * 1024


def in_process(store: Path, branch: str, runs: int) -> tuple[float, int, int]:
    """Median wall seconds of ``run_verify(rev=branch)``, its traced peak bytes, problems."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        problems = run_verify(store, rev=branch)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    run_verify(store, rev=branch)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times), peak, len(problems)


def peer(depth: int) -> str:
    """What PyYAML's safe loader and ``str()`` of one field cost on a bomb of 10**depth leaves."""
    text = bomb(depth=depth) + "versions:\n  v:\n    kms_key_ids: *a" + str(depth - 1) + "\n"
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", PEER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(text)
    proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    seconds, _, outcome = proc.stdout.read().strip().partition(" ")
    memory = f"{usage.ru_maxrss / 1024:.0f} MB peak resident"
    return (f"PyYAML safe load + str() of one field, a {len(text):,}-byte bomb of 10**{depth} "
            f"leaves: {seconds} s ({wall:.2f} s with start-up), {memory}, {outcome}")  # fmt: skip


def main() -> None:
    """Build the corpus, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run, no per-file processes")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, help="build here (kept) instead of a temporary dir")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    with tempfile.TemporaryDirectory(prefix="gitsm-bench-parse-") as tmp:
        root = args.dir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        store, cases = build(root)
        print(f"[corpus] {len(cases)} hostile files on top of a store of "
              f"{len({c.secret for c in cases}) - 1} secrets, built in "
              f"{time.perf_counter() - start:.1f} s")  # fmt: skip
        code, clean_time, clean_rss = process("--repo", str(store), "verify", "--rev", BASE)
        print(f"[clean] gitsm verify --rev {BASE} (a clean tree): {1000 * clean_time:.0f} ms, "
              f"{clean_rss / MB:.0f} MB peak resident, exit {code}")  # fmt: skip
        judged: list[tuple[float, str]] = []  # in-process: the cost of judging the file
        whole: list[tuple[float, str]] = []  # a fresh process, start-up included
        memory: list[tuple[int, str]] = []
        for case in cases:
            wall, peak, found = in_process(store, case.branch, runs)
            line = (f"[file] {case.name:26s} {case.kind:8s} {case.mode} {len(case.data):>9,} B  "
                    f"in-process {1000 * wall:6.1f} ms {peak / MB:6.2f} MB traced  "
                    f"problems={found}")  # fmt: skip
            judged.append((wall, case.name))
            memory.append((peak, f"{case.name}, traced in-process"))
            if not args.quick:
                code, seconds, rss = process("--repo", str(store), "verify", "--rev", case.branch)
                line += f"  process {1000 * seconds:5.0f} ms {rss / MB:5.0f} MB exit {code}"
                whole.append((seconds, case.name))
                memory.append((rss - clean_rss, f"{case.name}, process peak over the clean one"))
            print(line)
        code, seconds, rss = process("--repo", str(store), "verify", "--rev", ALL)
        print(f"[all] one gitsm verify over all {len(together(cases))} hostile files of {ALL}: "
              f"{1000 * seconds:.0f} ms, {rss / MB:.0f} MB peak resident "
              f"({(rss - clean_rss) / MB:+.0f} MB, {1000 * (seconds - clean_time):+.0f} ms over "
              f"the clean tree), exit {code}")  # fmt: skip
        whole.append((seconds, f"all {len(together(cases))} at once"))
        slowest, slowest_whole, biggest = max(judged), max(whole), max(memory)
        print(f"[worst] in-process {1000 * slowest[0]:.1f} ms ({slowest[1]}); whole process "
              f"{1000 * slowest_whole[0]:.0f} ms ({slowest_whole[1]}; a clean tree "
              f"{1000 * clean_time:.0f} ms); memory {biggest[0] / MB:.1f} MB ({biggest[1]})")  # fmt: skip
        print("[peer] " + peer(5 if args.quick else 6) + "; the corpus's bombs have 10**9")
        worst = max(slowest[0], slowest_whole[0])
        verdict = "met" if worst < TARGET else "NOT met"
        print(f"[target] each hostile file judged in < {TARGET:.0f} s, start-up included: worst "
              f"{1000 * worst:.0f} ms -> {verdict}")  # fmt: skip
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on "
              f"{os.cpu_count()} CPUs")  # fmt: skip


if __name__ == "__main__":
    main()
