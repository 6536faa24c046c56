#!/usr/bin/env python3
"""Bench: ``gitsm verify --range`` over pushed commits, against one ``gitsm verify`` of the tip.

Usage: ``.venv/bin/python bench/bench_range.py [--quick] [--dir D] [--runs N]``

Builds a store of 1,000 secrets (each one CreateSecret) and 1,000 more operations on random secrets
(UpdateSecret, PutSecretValue, TagResource in turn), then times, in fresh processes:

* ``gitsm verify`` of the tip (the peer);
* ``gitsm verify --range HEAD~100..HEAD`` and ``HEAD~1000..HEAD`` (target: 100 commits <= 2x the
  tip's verify: each commit is judged by its change, and the tip once);
* ``hooks/pre-receive`` on a push of 100 new commits to a bare repository, beside the cost of the
  previous example hook's way (one ``gitsm verify --rev`` process per pushed commit), timed on
  10 of those commits and scaled to 100.

Peak memory (max RSS) is printed with each. It asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GITSM = Path(sys.executable).with_name("gitsm")


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int]:
    """(wall ms, peak RSS KiB of that process) of one run; its exit status is not judged."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0  # reaped here: keep Popen from waiting again
    return (time.perf_counter() - start) * 1000, usage.ru_maxrss


def median(cmd: list[str], cwd: Path, runs: int, env: dict[str, str] | None = None) -> float:
    timed(cmd, cwd, env)  # warm-up
    return statistics.median(timed(cmd, cwd, env)[0] for _ in range(runs))


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def build(path: Path, secrets: int, writes: int) -> None:
    """The store: ``secrets`` CreateSecrets, then ``writes`` operations on random secrets."""
    import gitsm

    store = gitsm.init(path)
    for i in range(secrets):
        store.create_secret(f"app/s{i:04d}", secret_string=f"value {i}")
    rng = random.Random(7)
    for i in range(writes):
        name = f"app/s{rng.randrange(secrets):04d}"
        if i % 3 == 0:
            store.update_secret(name, secret_string=f"update {i}")
        elif i % 3 == 1:
            store.put_secret_value(name, secret_string=f"put {i}")
        else:
            store.tag_resource(name, [{"Key": "n", "Value": str(i)}])


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--dir", type=Path, help="work here (kept) instead of a temporary dir")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="gitsm-bench-range-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GITSM_HOME", str(work / "home"))
    os.environ["GITSM_FSYNC"] = "0"
    secrets, writes, runs = (20, 40, 1) if args.quick else (1000, 1000, args.runs or 5)
    small, large = (5, 30) if args.quick else (100, 1000)
    began = time.perf_counter()
    store = work / "store"
    build(store, secrets, writes)
    print(f"[build] {secrets} secrets, {writes} more operations ({load()})")
    tip = median([str(GITSM), "verify"], store, runs)
    print(f"[verify] tip: {tip:.0f} ms ({load()})")
    for count in (small, large):
        took = median([str(GITSM), "verify", "--range", f"HEAD~{count}..HEAD"], store, runs)
        rss = timed([str(GITSM), "verify", "--range", f"HEAD~{count}..HEAD"], store)[1]
        print(f"[range] {count} commits: {took:.0f} ms, {took / tip:.2f}x the tip's verify, "
              f"peak {rss // 1024} MiB ({load()})")  # fmt: skip
        if count == small:
            print(f"[target] verify --range of {count} commits / verify of the tip: "
                  f"{took / tip:.2f}x -> {'met' if took / tip <= 2 else 'NOT met'} (<= 2x)")  # fmt: skip
    remote = work / "remote.git"
    git(work, "init", "-q", "--bare", "-b", "main", str(remote))
    env = {**os.environ, "PATH": f"{GITSM.parent}{os.pathsep}{os.environ['PATH']}"}
    first = git(store, "rev-parse", f"HEAD~{small}").strip()
    git(store, "push", "-q", str(remote), f"{first}:refs/heads/main")
    shutil.copy(ROOT / "hooks" / "pre-receive", remote / "hooks" / "pre-receive")
    hook, _ = timed(["git", "push", "-q", str(remote), "HEAD:refs/heads/main"], store, env)
    pushed = git(remote, "rev-parse", "main").strip() == git(store, "rev-parse", "HEAD").strip()
    sample = git(store, "rev-list", "-n", "3" if args.quick else "10", "HEAD").split()
    start = time.perf_counter()
    for commit in sample:
        subprocess.run([str(GITSM), "verify", "--rev", commit], cwd=store, capture_output=True,
                       check=False)  # fmt: skip
    per_commit = (time.perf_counter() - start) * 1000 / len(sample)
    print(f"[pre-receive] push of {small} commits: {hook:.0f} ms ({'accepted' if pushed else 'REFUSED'}); "
          f"one verify --rev process per commit would take {per_commit * small:.0f} ms "
          f"({per_commit:.0f} ms a commit, timed on {len(sample)}) ({load()})")  # fmt: skip
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)
    print(f"total bench time {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
