#!/usr/bin/env python3
"""Bench: the first page of ListSecrets and the tip's verify, at 1,000 and 10,000 secrets.

    .venv/bin/python bench/bench_listing.py            # 1,000 and 10,000 secrets, 1,000 commits
    .venv/bin/python bench/bench_listing.py --quick    # 100 and 300 secrets (seconds)
    .venv/bin/python bench/bench_listing.py --dir D --keep

The stores are built as bench_store.py builds them (gitsm's own code composes every file, ``git
fast-import`` commits them; ``env{i}/app/key{j}`` names; history padded with commits re-using the
tip's tree). Per store, each figure the median of fresh processes (wall time with interpreter
start-up and imports, and the time from opening the store to the answer, gitsm's modules
imported before):

* [list] ListSecrets, first page (MaxResults 100, default order), cold (no listing index in the
  git dir: it is built, parsing every manifest) and warm (the index of the tip's tree is there);
* [list] the same call in a warm process (imports paid, files cached), each on a new client;
* [list] after one UpdateSecret: the index brought up to date from the previous tree's;
* [filter] BatchGetSecretValue by Filters, first page (20 values decrypted), warm;
* [verify] the tip's ``gitsm verify`` (``run_verify``): full, then of an unchanged tree, then
  after one UpdateSecret (only what changed since the last clean tree);
* [peer] ``pass ls`` on a password store with the same names (empty ``.gpg`` files: it lists,
  never decrypts), when pass is installed (the full run installs it with apt-get if it can);
* [agent] ``gitsm list-secrets --no-paginate --max-results 100`` (the first page, one call) through
  a warm agent started here (``GITSM_AGENT=require``), both stores and ``pass ls`` in the same
  interleaved rounds, each command after a pause of :data:`PAUSE` (as commands typed or run one
  by one come: the agent then has its spares ready and rested; without it, a command right after
  another shares the CPUs with the rehearsal of the spare that replaces the one the first took,
  and the rounds' order put the smaller store's command after another gitsm command every time,
  the larger store's half the time).

[target] lines: the warm first page at the larger store within 1.2x of the smaller (whole
process); the warm-process first page at the larger store <= ``pass ls``; through the agent, the
first page at the larger store <= ``pass ls`` and within 1.2x of the smaller. Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_store import build_store, git, names_for

from bench import as_installed

TARGET_RATIO = 1.2


@dataclass(frozen=True)
class Config:
    sizes: tuple[int, int]  # secrets of the two stores
    history: int  # commits of each
    runs: int  # fresh processes per warm figure (median)
    cold_runs: int  # fresh processes per cold figure and full verify
    warm_calls: int  # calls timed in one warm process


FULL = Config((1_000, 10_000), history=1_000, runs=9, cold_runs=3, warm_calls=20)
QUICK = Config((100, 300), history=20, runs=1, cold_runs=1, warm_calls=3)


def worker(path: str, mode: str, calls: int) -> None:
    """In a fresh process: one measured operation on the store at ``path``, timed from opening
    the store (the modules it needs imported first); prints JSON."""
    import gitsm
    import gitsm.awsclient
    import gitsm.store
    from gitsm.verify import run_verify

    start = time.perf_counter()
    if mode.startswith("verify"):
        problems = run_verify(path, full=mode == "verify-full")
        ms = (time.perf_counter() - start) * 1e3
        print(json.dumps({"ms": ms, "n": len(problems)}))
        return
    client = gitsm.client(repo=path, fsync=False)
    if mode == "filter":
        flt = [{"Key": "name", "Values": ["env1/"]}]
        n = len(client.batch_get_secret_value(Filters=flt, MaxResults=20)["SecretValues"])
    else:
        n = len(client.list_secrets(MaxResults=100)["SecretList"])
    ms = (time.perf_counter() - start) * 1e3
    warm: list[float] = []
    for _ in range(calls if mode == "warm" else 0):  # a new client each time: nothing kept
        t = time.perf_counter()
        gitsm.client(repo=path, fsync=False).list_secrets(MaxResults=100)
        warm.append((time.perf_counter() - t) * 1e3)
    print(json.dumps({"ms": statistics.median(warm) if warm else ms, "n": n}))


def run_once(path: Path, mode: str, calls: int = 0) -> dict[str, float]:
    """One fresh worker process: its in-process ms, wall ms and CPU ms (user + sys)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--worker", str(path), mode, str(calls)],
                         capture_output=True, check=True, text=True)  # fmt: skip
    wall = (time.perf_counter() - start) * 1e3
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1e3
    doc = json.loads(out.stdout)
    return {"ms": doc["ms"], "wall": wall, "cpu": cpu, "n": doc["n"]}


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def timed(
    path: Path, mode: str, runs: int, calls: int = 0, before: Callable[[], None] | None = None
) -> dict[str, float]:
    """Medians of ``runs`` fresh worker processes (``before`` runs before each: removing the
    index for a cold run)."""
    out = []
    for _ in range(runs):
        if before is not None:
            before()
        out.append(run_once(path, mode, calls))
    return medians(out)


def interleaved(paths: list[Path], mode: str, runs: int) -> list[dict[str, float]]:
    """Medians of ``runs`` fresh processes on each store, the stores taken in turn (alternating
    which goes first), so that a change in the machine's load hits them alike."""
    out: list[list[dict[str, float]]] = [[] for _ in paths]
    for r in range(runs):
        for i in range(len(paths)) if r % 2 == 0 else reversed(range(len(paths))):
            out[i].append(run_once(paths[i], mode))
    return [medians(x) for x in out]


def pass_store(base: Path, names: list[str]) -> Path | None:
    """A password store of ``names`` (empty .gpg files), or None without pass and tree."""
    if shutil.which("pass") is None or shutil.which("tree") is None:
        return None
    store = base / f"pass-{len(names)}"
    if not store.exists():
        for name in names:
            (store / name).parent.mkdir(parents=True, exist_ok=True)
            (store / f"{name}.gpg").touch()
        (store / ".gpg-id").write_text("bench@example.invalid\n")
    return store


def pass_ls(base: Path, names: list[str], runs: int) -> float | None:
    """Median wall ms of ``pass ls`` on a store of ``names`` (empty .gpg files), or None."""
    store = pass_store(base, names)
    if store is None:
        return None
    env = {**os.environ, "PASSWORD_STORE_DIR": str(store)}
    walls = []
    for _ in range(max(runs, 3)):
        start = time.perf_counter()
        subprocess.run(["pass", "ls"], env=env, capture_output=True, check=True)
        walls.append((time.perf_counter() - start) * 1e3)
    return statistics.median(walls)


PAUSE = 0.2
"""Seconds before each command of the agent rounds."""


def agent_rounds(base: Path, paths: list[Path], pass_stores: list[Path | None],
                 runs: int) -> tuple[list[float], list[float | None]]:  # fmt: skip
    """Median wall ms of the CLI's first page through a warm agent on each store, and of
    ``pass ls`` on each same-sized password store, all in the same interleaved rounds."""
    gitsm_bin = Path(sys.executable).with_name("gitsm")
    env = {**os.environ, "GITSM_AGENT_DIR": str(base / "agent"), "GITSM_AGENT": "require"}
    subprocess.run([str(gitsm_bin), "agent", "start"], env=env, check=True, capture_output=True)
    cmds: list[tuple[list[str], dict[str, str]]] = []
    for path in paths:
        cmds.append(([str(gitsm_bin), "--repo", str(path), "list-secrets", "--no-paginate",
                      "--max-results", "100"], env))  # fmt: skip
    for store in pass_stores:
        if store is not None:
            cmds.append((["pass", "ls"], {**os.environ, "PASSWORD_STORE_DIR": str(store)}))
    walls: list[list[float]] = [[] for _ in cmds]
    try:
        for r in range(max(runs, 3) + 1):
            order = range(len(cmds)) if r % 2 == 0 else reversed(range(len(cmds)))
            for i in order:
                time.sleep(PAUSE)
                start = time.perf_counter()
                subprocess.run(cmds[i][0], env=cmds[i][1], capture_output=True, check=True)
                if r:  # the first round warms up
                    walls[i].append((time.perf_counter() - start) * 1e3)
    finally:
        subprocess.run([str(gitsm_bin), "agent", "stop"], env=env, capture_output=True)
    medians_ms = [statistics.median(w) for w in walls]
    gitsm_ms = medians_ms[: len(paths)]
    rest = iter(medians_ms[len(paths) :])
    pass_ms = [None if store is None else next(rest) for store in pass_stores]
    return gitsm_ms, pass_ms


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def show(label: str, r: dict[str, float]) -> None:
    print(f"{label}: {r['ms']:.1f} ms from opening the store; whole process {r['wall']:.0f} ms "
          f"wall, {r['cpu']:.0f} ms CPU (n={r['n']:.0f}); load {load()}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small stores, one run each (seconds)")
    ap.add_argument("--dir", help="where to build the stores (default: a new temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the stores afterwards")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], int(args.worker[2]))
        return
    cfg = QUICK if args.quick else FULL
    as_installed()  # the whole-process runs use bytecode caches, as an installed gitsm does
    base = Path(args.dir or tempfile.mkdtemp(prefix="gitsm-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    os.environ["GITSM_HOME"] = str(base / "home")
    os.environ["GITSM_FSYNC"] = "0"
    if not args.quick and shutil.which("pass") is None:
        from bench_materialize import apt_install

        apt_install("pass", "tree")
    runs, cold_runs = cfg.runs, cfg.cold_runs
    print(f"== gitsm listing and verify benchmark ({'quick' if args.quick else 'full'}) ==")
    print(f"machine: {os.cpu_count()} CPUs; load average {load()} (1/5/15 min)")
    import gitsm

    warm_process: dict[int, float] = {}
    peers: dict[int, float | None] = {}
    paths = [base / f"hier-{n}.git" for n in cfg.sizes]
    for n, path in zip(cfg.sizes, paths, strict=True):
        if not path.exists():
            start = time.perf_counter()
            build_store(path, names_for("hier", n), cfg.history)
            git(path, "gc", "--quiet")
            print(f"[build] {n:,} secrets, {cfg.history:,} commits: "
                  f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    for n, path in zip(cfg.sizes, paths, strict=True):

        def drop_index(where: Path = path / "gitsm" / "list-index") -> None:
            shutil.rmtree(where, ignore_errors=True)

        show(f"[list] {n:,} secrets, first page, cold (no index)",
             timed(path, "list", cold_runs, before=drop_index))  # fmt: skip
    first = dict(zip(cfg.sizes, interleaved(paths, "list", runs), strict=True))
    for n in cfg.sizes:
        show(f"[list] {n:,} secrets, first page, warm", first[n])
    for n, path in zip(cfg.sizes, paths, strict=True):
        warm = timed(path, "warm", 1, cfg.warm_calls)
        warm_process[n] = warm["ms"]
        print(f"[list] {n:,} secrets, first page in a warm process: {warm['ms']:.1f} ms "
              f"(median of {cfg.warm_calls} calls, each on a new client)")  # fmt: skip
        show(f"[filter] {n:,} secrets, BatchGetSecretValue by Filters, 20 values, warm",
             timed(path, "filter", runs))  # fmt: skip
        client = gitsm.client(repo=path, fsync=False)
        names = names_for("hier", n)
        client.update_secret(SecretId=names[len(names) // 2], Description=f"at {time.time()}")
        show(f"[list] {n:,} secrets, first page after one UpdateSecret (index updated)",
             timed(path, "list", 1))  # fmt: skip
        show(f"[verify] {n:,} secrets, full", timed(path, "verify-full", cold_runs))
        show(f"[verify] {n:,} secrets, unchanged tree since the last clean one",
             timed(path, "verify", runs))  # fmt: skip
        client.update_secret(SecretId=names[len(names) // 3], Description=f"at {time.time()}")
        show(f"[verify] {n:,} secrets, after one UpdateSecret", timed(path, "verify", 1))
        peers[n] = pass_ls(base, names, runs)
        print(f"[peer] pass ls, {n:,} entries: " + (
            "pass or tree is not installed" if peers[n] is None else f"{peers[n]:.1f} ms"))  # fmt: skip
    small, large = cfg.sizes
    ratio = first[large]["wall"] / first[small]["wall"]
    inner = first[large]["ms"] / first[small]["ms"]
    cpu = first[large]["cpu"] / first[small]["cpu"]
    print(f"[target] warm first page, whole process, {large:,} within {TARGET_RATIO}x of "
          f"{small:,}: {first[large]['wall']:.0f} / {first[small]['wall']:.0f} ms = {ratio:.2f}x "
          f"-> {'MET' if ratio <= TARGET_RATIO else 'MISSED'} (CPU {cpu:.2f}x; from opening "
          f"the store {first[large]['ms']:.1f} / {first[small]['ms']:.1f} ms = {inner:.2f}x)")  # fmt: skip
    peer = peers[large]
    verdict = "no peer figure" if peer is None else (
        "MET" if warm_process[large] <= peer else "MISSED")  # fmt: skip
    print(f"[target] warm-process first page at {large:,} <= pass ls: "
          f"{warm_process[large]:.1f} ms vs " + ("-" if peer is None else f"{peer:.1f} ms")
          + f" -> {verdict}")  # fmt: skip
    stores = [pass_store(base, names_for("hier", n)) for n in cfg.sizes]
    via_agent, pass_ms = agent_rounds(base, paths, stores, runs)
    for n, ms, peer_ms in zip(cfg.sizes, via_agent, pass_ms, strict=True):
        print(f"[agent] {n:,} secrets, gitsm list-secrets --no-paginate --max-results 100 "
              f"through the warm agent: {ms:.1f} ms wall; pass ls in the same rounds: "
              + ("-" if peer_ms is None else f"{peer_ms:.1f} ms") + f"; load {load()}")  # fmt: skip
    ratio = via_agent[1] / via_agent[0]
    print(f"[target] agent first page, {large:,} within {TARGET_RATIO}x of {small:,}: "
          f"{via_agent[1]:.1f} / {via_agent[0]:.1f} ms = {ratio:.2f}x -> "
          f"{'MET' if ratio <= TARGET_RATIO else 'MISSED'}")  # fmt: skip
    peer = pass_ms[1]
    verdict = "no peer figure" if peer is None else (
        "MET" if via_agent[1] <= peer else "MISSED")  # fmt: skip
    print(f"[target] agent first page at {large:,} <= pass ls: {via_agent[1]:.1f} ms vs "
          + ("-" if peer is None else f"{peer:.1f} ms") + f" -> {verdict}")  # fmt: skip
    print(f"load average now {load()}")
    if not args.keep and not args.dir:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
