#!/usr/bin/env python3
"""Bench: ``gitsm sync`` between clones of one origin served by ``git daemon`` on 127.0.0.1.

Usage: ``.venv/bin/python bench/bench_sync.py [--quick] [--dir D] [--runs N]``

Three measurements, each beside the peer the target names, in the same run:

* **race**: 4 clones x 25 writes to one secret (UpdateSecret, PutSecretValue, PutSecretValue with
  VersionStages, UpdateSecretVersionStage in turn; ``bench/race_worker.py``), each write published
  before the next, once with ``gitsm sync`` and once as a team without gitsm's help would: ``git
  push``, ``git pull --rebase`` on a rejection, and conflicts resolved by keeping upstream's side.
  Printed: wall time, writes lost (acknowledged versions missing from the origin's manifest) and
  conflicts that stopped a pull.
* **replay**: a clone with one local UpdateSecret syncs with an origin that gained 1,000 commits
  (over 100 secrets) since it last synced. The sync's time minus a ``git fetch`` of the same
  commits into a copy of the same clone, against one local ``gitsm update-secret`` (target: <= 2x).
  Done in a bare clone (a bot's or CI's: the replay alone) and in a checkout, whose sync must also
  write the ~1,100 files those commits changed into the work tree: that part is timed as ``git
  read-tree -m -u`` of the same commits in the copy, and left out of the checkout's ratio. Each run
  uses fresh copies of the origin and the clones.
* **nothing to do**: ``gitsm sync`` on a clone that is in step, against ``git fetch`` plus ``git
  status`` of the same clone (target: <= 1.5x), on a store of 1,000 secrets.

The store uses the local default key in ``$GITSM_HOME`` (a directory of the run) and fsync off. Wall
times are medians of interleaved runs; the load average is printed with them. It asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.race_worker import value_for  # noqa: E402
from tests.gitremote import start_daemon  # noqa: E402

GITSM = Path(sys.executable).with_name("gitsm")
WORKER = ROOT / "bench" / "race_worker.py"


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd``; its output (it must succeed)."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed in {cwd}: {done.stderr}")
    return done.stdout


def timed(cmd: list[str], cwd: Path) -> float:
    """Wall milliseconds of one successful run of ``cmd``."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode()}")
    return elapsed


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def make_origin(work: Path, daemon: object, name: str, secrets: int) -> str:
    """A store with ``secrets`` secrets pushed to a new origin; its URL."""
    import gitsm

    url = daemon.new_origin(name)  # type: ignore[attr-defined]
    seed = work / f"{name}-seed"
    store = gitsm.init(seed)
    for i in range(secrets):
        store.create_secret(f"app/s{i:04d}", secret_string=value_for(f"seed{i}"))
    git(seed, "remote", "add", "origin", url)
    store.sync()
    return url


def race(
    work: Path, daemon: object, mode: str, clones: int, writes: int
) -> tuple[float, int, int, int, int]:
    """(seconds, versions written, versions lost, conflicts, damage) of one race in ``mode``;
    damage counts ``gitsm verify`` problems of the result and writes refused because a version
    they named had been lost."""
    from gitsm.store import SecretStore
    from gitsm.verify import run_verify

    url = make_origin(work, daemon, f"race-{mode}.git", 1)
    secret = "app/s0000"
    paths = []
    for k in range(clones):
        git(work, "clone", "-q", url, str(work / f"race-{mode}-{k}"))
        paths.append(work / f"race-{mode}-{k}")
    command = [sys.executable, str(WORKER), mode]
    procs = [
        subprocess.Popen(
            [*command, str(p), str(k), str(writes), secret],
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for k, p in enumerate(paths)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [proc.communicate(timeout=1800)[0].splitlines() for proc in procs]
    seconds = time.perf_counter() - start
    acked = {line.split()[2] for out in outputs for line in out
             if line.startswith("ACK ") and line.split()[1] != "label"}  # fmt: skip
    check = work / f"race-{mode}-check"
    git(work, "clone", "-q", url, str(check))
    present = set(SecretStore.open(check).describe_secret(secret).versions)
    conflicts = sum(
        int(out[-1].split()[2]) for out in outputs if out and out[-1].startswith("STATS")
    )
    problems = len(run_verify(check))
    refused = sum(line.startswith("REFUSED") for out in outputs for line in out)
    return seconds, len(acked), len(acked - present), conflicts, problems + refused


def replay(work: Path, daemon: object, runs: int, gained: int, secrets: int) -> None:
    """The replay measurement (see the module docstring), in a bare clone and in a checkout."""
    from gitsm.store import SecretStore

    url = make_origin(work, daemon, "replay.git", secrets)
    base = daemon.base  # type: ignore[attr-defined]
    ahead = work / "replay-ahead"
    git(work, "clone", "-q", url, str(ahead))
    clones = {"bare": work / "replay-bare.git", "checkout": work / "replay-checkout"}
    git(work, "clone", "-q", "--bare", url, str(clones["bare"]))
    git(work, "clone", "-q", url, str(clones["checkout"]))
    writer = SecretStore.open(ahead)
    for i in range(gained):
        writer.update_secret(f"app/s{i % secrets:04d}", secret_string=value_for(f"up{i}"))
    writer.sync()
    git(base / "replay.git", "gc", "-q")
    for clone in clones.values():
        SecretStore.open(clone).update_secret("app/s0001", secret_string=value_for("local"))
    times: dict[str, list[float]] = {}
    for run in range(runs):
        origin = f"replay-{run}.git"
        shutil.copytree(base / "replay.git", base / origin)
        for kind, clone in clones.items():
            mine, twin = work / f"replay-{run}-{kind}", work / f"replay-{run}-{kind}-twin"
            for copy in (mine, twin):
                shutil.copytree(clone, copy, symlinks=True)
                git(copy, "remote", "set-url", "origin", daemon.url(origin))  # type: ignore[attr-defined]
                if kind == "checkout":  # a copied work tree's stat data is stale: refresh it
                    subprocess.run(
                        ["git", "update-index", "-q", "--refresh"], cwd=copy, check=False
                    )
            times.setdefault("update", []).append(timed(
                [str(GITSM), "--repo", str(twin), "update-secret", "--secret-id", "app/s0002",
                 "--secret-string", value_for(f"run{run}")], work,
            ))  # fmt: skip
            times.setdefault(f"{kind} fetch", []).append(
                timed(["git", "fetch", "-q", "origin", "+refs/heads/main:refs/remotes/origin/main"], twin)
            )  # fmt: skip
            times.setdefault(f"{kind} sync", []).append(timed([str(GITSM), "sync"], mine))
            if kind == "checkout":  # what bringing the work tree to the new commits costs git
                times.setdefault("work tree", []).append(
                    timed(["git", "read-tree", "-m", "-u", "HEAD", "origin/main"], twin)
                )  # fmt: skip
    med = {key: statistics.median(values) for key, values in times.items()}
    update = med["update"]
    for kind in clones:
        beyond = med[f"{kind} sync"] - med[f"{kind} fetch"]
        tree = med["work tree"] if kind == "checkout" else 0.0
        print(f"[replay] {kind} clone, {gained} upstream commits: gitsm sync "
              f"{med[f'{kind} sync']:.0f} ms, git fetch of the same {med[f'{kind} fetch']:.0f} ms"
              + (f", git read-tree -m -u of their files {tree:.0f} ms" if tree else "")
              + f"; beyond the fetch {beyond:.0f} ms; one local gitsm update-secret "
              f"{update:.0f} ms ({load()})")  # fmt: skip
        ratio = (beyond - tree) / update
        what = "beyond the fetch" + (" and the work-tree update" if tree else "")
        print(f"[target] {kind}: sync {what} / update-secret: {ratio:.2f}x -> "
              f"{'met' if ratio <= 2 else 'NOT met'} (<= 2x)")  # fmt: skip


def nothing_to_do(work: Path, daemon: object, runs: int, secrets: int) -> None:
    """The nothing-to-do measurement (see the module docstring)."""
    url = make_origin(work, daemon, "idle.git", secrets)
    clone = work / "idle-clone"
    git(work, "clone", "-q", url, str(clone))
    timed([str(GITSM), "sync"], clone)
    sync_ms, peer_ms = [], []
    for _ in range(runs):
        sync_ms.append(timed([str(GITSM), "sync"], clone))
        peer_ms.append(timed(["git", "fetch", "-q"], clone) + timed(["git", "status"], clone))
    sync, peer = statistics.median(sync_ms), statistics.median(peer_ms)
    print(f"[idle] {secrets} secrets: gitsm sync {sync:.0f} ms, git fetch + git status "
          f"{peer:.0f} ms ({load()})")  # fmt: skip
    print(f"[target] nothing to do, gitsm sync / (git fetch + git status): {sync / peer:.2f}x -> "
          f"{'met' if sync / peer <= 1.5 else 'NOT met'} (<= 1.5x)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--dir", type=Path, help="work here (kept) instead of a temporary dir")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per measurement")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="gitsm-bench-sync-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GITSM_HOME", str(work / "home"))
    os.environ["GITSM_FSYNC"] = "0"
    for var in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        os.environ.setdefault(var, "bench")
    for var in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        os.environ.setdefault(var, "bench@example.com")
    clones, writes = (2, 3) if args.quick else (4, 25)
    runs = args.runs or (2 if args.quick else 9)
    secrets, gained = (10, 20) if args.quick else (1000, 1000)
    began = time.perf_counter()
    print(f"bench_sync: {work} ({load()})")
    daemon_dir = work / "daemon"
    daemon_dir.mkdir(exist_ok=True)
    daemons = start_daemon(daemon_dir)
    daemon = next(daemons)
    try:
        for mode, label in (("sync", "gitsm sync"), ("rebase", "git pull --rebase")):
            seconds, written, lost, conflicts, damage = race(work, daemon, mode, clones, writes)
            print(f"[race] {clones} clones x {writes} writes, {label}: {seconds:.1f} s, "
                  f"{lost} of {written} new versions lost, {conflicts} conflicts for a person, "
                  f"{damage} verify problems or refused writes ({load()})")  # fmt: skip
        replay(work, daemon, runs, gained, min(secrets, 100))
        nothing_to_do(work, daemon, runs * 2, secrets)
    finally:
        daemons.close()
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"total bench time {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
