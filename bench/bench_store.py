#!/usr/bin/env python3
"""Store benchmarks: UpdateSecret write rate, history independence, pack size, read latency.

Prints numbers and ratios and whether each target of issue 2 is met; it asserts nothing.

    .venv/bin/python bench/bench_store.py            # full run (10,000 secrets, 1k/100k commits)
    .venv/bin/python bench/bench_store.py --quick    # small run (seconds), same report lines

How the stores are built (also printed): the files of 10,000 secrets (one AWSCURRENT version each)
are composed by gitsm's own code (``keys.resolve``, ``envelope.seal``, ``manifest.dump_secret``,
``paths``) and committed as one commit through ``git fast-import``; history is then padded with
commits that re-use that tree, so the tip is identical at 1k and 100k commits. Then UpdateSecret runs
through ``gitsm.client`` as a user would (one commit each, background auto-pack on, as shipped).
See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import os
import platform
import random
import secrets as _random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pygit2

import gitsm
from gitsm import envelope, paths
from gitsm.awsclient import SecretsManagerClient
from gitsm.gitenv import git_env
from gitsm.manifest import dump_secret
from gitsm.model import AWSCURRENT, Secret, VersionInfo, make_arn
from gitsm.store import SecretStore
from gitsm.store.core import Change, commit_message


@dataclass(frozen=True)
class Config:
    secrets: int  # secrets per store
    histories: tuple[int, int]  # commits of history of the two stores of each layout
    batches: int  # timed batches of writes per store and fsync mode
    batch: int  # writes per batch
    reads: int  # secrets read by each read run
    read_runs: int  # fresh processes per read figure (median)


FULL = Config(10_000, (1_000, 100_000), batches=7, batch=50, reads=1000, read_runs=3)
QUICK = Config(100, (50, 500), batches=3, batch=5, reads=100, read_runs=1)
TARGET_OFF, TARGET_ON, TARGET_HISTORY, TARGET_READ_MS = 100.0, 40.0, 1.3, 250.0
BRANCH_REF = "refs/heads/main"
FLOOR_REF = "refs/heads/bench-raw-floor"


def names_for(layout: str, n: int) -> list[str]:
    """``env{i}/app/key{j}`` (sqrt(n) envs x sqrt(n) keys) or ``key{j}`` all in one folder."""
    if layout == "flat":
        return [f"key{j}" for j in range(n)]
    side = round(n**0.5)
    return [f"env{i}/app/key{j}" for i in range(side) for j in range(n // side)]


def value_for(name: str) -> str:
    """The deterministic initial value of a secret (so readers can check what they decrypt)."""
    return hashlib.sha256(f"gitsm-bench:{name}".encode()).hexdigest()[:32]


def git(gitdir: Path, *args: str, data: bytes | None = None) -> str:
    out = subprocess.run(["git", "--git-dir", str(gitdir), *args], input=data,
                         capture_output=True, check=True, env=git_env())  # fmt: skip
    return out.stdout.decode()


def wait_for_gc(gitdir: Path, timeout: float = 300.0) -> None:
    """Wait while a background ``git gc --auto`` (started by the store) holds ``gc.pid``."""
    deadline = time.monotonic() + timeout
    while (gitdir / "gc.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def size_pack(gitdir: Path) -> int:
    """Bytes in packs after ``git gc`` (``git count-objects -v`` size-pack)."""
    wait_for_gc(gitdir)
    git(gitdir, "gc", "--quiet")
    fields = dict(line.split(": ") for line in git(gitdir, "count-objects", "-v").splitlines())
    return int(fields["size-pack"]) * 1024


def _fi_commit(msg: str, when: int, parent: str | None) -> bytes:
    """A fast-import ``commit`` command on the branch (without file commands)."""
    body = msg.encode()
    head = f"commit {BRANCH_REF}\ncommitter gitsm <gitsm@localhost> {when} +0000\n"
    out = f"{head}data {len(body)}\n".encode() + body + b"\n"
    return out + (f"from {parent}\n".encode() if parent else b"")


def fast_import(gitdir: Path, chunks: list[bytes]) -> None:
    git(gitdir, "fast-import", "--quiet", data=b"".join(chunks) + b"done\n")


def filler_commits(tip: str, count: int, when: int) -> list[bytes]:
    """``count`` commits on ``tip`` that re-use its tree (no file commands)."""
    return [_fi_commit(f"History filler {k}\n\nGitsm-Operation: BenchHistory\n", when,
                       tip if k == 0 else None) + b"\n" for k in range(count)]  # fmt: skip


def build_store(path: Path, names: list[str], history: int, *, bare: bool = True) -> str:
    """A store holding ``names`` at ``history`` commits (bare, or with a work tree whose files
    and index are not written: check it out afterwards); returns how it was built."""
    store = SecretStore.init(path, bare=bare, fsync=False)  # the Init commit
    gitdir = store.repo.gitdir
    snap = store.repo.tip()
    config = store.config(snap)
    now = store.clock()
    recipients, new_config = store.keys.resolve(None, config)  # creates the default local key
    files: dict[str, bytes | None] = {}
    if new_config is not None:
        files[paths.CONFIG_PATH] = new_config.dump()
        config = new_config
    for name in names:
        token = str(uuid.uuid4())
        arn = make_arn(config.region, config.account_id, name)
        files[paths.version_path(name, token)] = envelope.seal(
            value_for(name).encode(), "string", name=name, arn=arn, version_id=token,
            recipients=recipients, keys=store.keys,
        )  # fmt: skip
        version = VersionInfo(token, now, "string", [config.default_kms_key_id], [AWSCURRENT])
        secret = Secret(name, arn, now, now, versions={token: version})
        files[paths.manifest_path(name)] = dump_secret(secret)
    msg = commit_message(Change(None, "BenchBuild", "", files, {"Secret-Count": str(len(names))}))
    when = int(now.timestamp())
    chunks = [_fi_commit(msg, when, snap.commit_id)]
    for file, data in files.items():
        assert data is not None
        chunks.append(f"M 100644 inline {file}\ndata {len(data)}\n".encode() + data + b"\n")
    chunks.append(b"\n")
    fast_import(gitdir, chunks)
    tip = git(gitdir, "rev-parse", BRANCH_REF).strip()
    fast_import(gitdir, filler_commits(tip, history - 2, when))
    return (f"{len(names):,} secrets composed by gitsm (keys.resolve, envelope.seal, "
            f"manifest.dump_secret) in 1 commit via git fast-import on the Init commit, then "
            f"{history - 2:,} commits re-using that tree")  # fmt: skip


def extend_history(path: Path, extra: int) -> None:
    tip = git(path, "rev-parse", BRANCH_REF).strip()
    fast_import(path, filler_commits(tip, extra, int(time.time())))


def build_pair(base: Path, layout: str, names: list[str], h_lo: int, h_hi: int) -> list[Path]:
    """The store at ``h_lo`` commits and a copy extended to ``h_hi``; both packed."""
    lo, hi = base / f"{layout}-{h_lo}.git", base / f"{layout}-{h_hi}.git"
    start = time.perf_counter()
    how = build_store(lo, names, h_lo)
    git(lo, "gc", "--quiet")
    count = int(git(lo, "rev-list", "--count", BRANCH_REF))
    print(f"[build] {layout}-{h_lo}: {how}; {time.perf_counter() - start:.1f} s; {count:,} commits")
    start = time.perf_counter()
    shutil.copytree(lo, hi)
    extend_history(hi, h_hi - h_lo)
    git(hi, "gc", "--quiet")
    count = int(git(hi, "rev-list", "--count", BRANCH_REF))
    print(f"[build] {layout}-{h_hi}: copy of {layout}-{h_lo} + {h_hi - h_lo:,} commits re-using "
          f"the tip tree (git fast-import); {time.perf_counter() - start:.1f} s; {count:,} commits")  # fmt: skip
    return [lo, hi]


# -- writes ----------------------------------------------------------------------------------


def timed_batch(write: Callable[[str], object], picks: list[str]) -> tuple[float, float]:
    """writes/s and CPU ms per write (in this process) of one batch of writes."""
    start, cpu0 = time.perf_counter(), time.process_time()
    for name in picks:
        write(name)
    return len(picks) / (time.perf_counter() - start), (time.process_time() - cpu0) * 1e3 / len(
        picks
    )


class RawFloor:
    """The same object writes as one UpdateSecret (a new envelope blob, the manifest blob, the
    trees up to the root, a commit, a CAS ref move) with bare pygit2 TreeBuilder and nothing else,
    on a side branch of the same repository: the floor that gitsm's write rate is compared to."""

    def __init__(self, path: Path, fsync: bool) -> None:
        pygit2.settings.enable_fsync_gitdir(fsync)  # before opening: libgit2 reads it for refs then
        self.repo = pygit2.Repository(str(path))
        self.fsync = fsync
        tip = self.repo.references[BRANCH_REF].target
        self.repo.references.create(FLOOR_REF, tip, force=True)
        self.sig = pygit2.Signature("gitsm", "gitsm@localhost")

    def write(self, name: str) -> None:
        repo = self.repo
        pygit2.settings.enable_fsync_gitdir(self.fsync)
        ref = repo.references[FLOOR_REF]
        parent = cast(pygit2.Commit, repo[ref.target])
        parts = paths.secret_dir(name).split("/")
        trees = [parent.tree]
        for part in parts:
            trees.append(cast(pygit2.Tree, repo[trees[-1][part].id]))
        secret_tree = trees[-1]
        versions = repo.TreeBuilder(cast(pygit2.Tree, repo[secret_tree[paths.VERSIONS].id]))
        fake = base64.b64encode(os.urandom(480))  # an envelope is ~700 bytes of mostly base64
        versions.insert(f"{uuid.uuid4()}.json", repo.create_blob(fake), pygit2.enums.FileMode.BLOB)
        builder = repo.TreeBuilder(secret_tree)
        manifest = cast(pygit2.Blob, repo[secret_tree[paths.MANIFEST].id]).data
        manifest += f"# {uuid.uuid4()}\n".encode()
        builder.insert(paths.MANIFEST, repo.create_blob(manifest), pygit2.enums.FileMode.BLOB)
        builder.insert(paths.VERSIONS, versions.write(), pygit2.enums.FileMode.TREE)
        oid = builder.write()
        for tree, part in zip(reversed(trees[:-1]), reversed(parts), strict=True):
            up = repo.TreeBuilder(tree)
            up.insert(part, oid, pygit2.enums.FileMode.TREE)
            oid = up.write()
        msg = f"UpdateSecret {name}\n\nGitsm-Operation: UpdateSecret\nGitsm-Secret: {name}\n"
        commit = repo.create_commit(None, self.sig, self.sig, msg, oid, [parent.id])
        ref.set_target(commit, "floor")

    def close(self) -> None:
        self.repo.references.delete(FLOOR_REF)


@dataclass
class WriteResult:
    rates: list[float]
    cpu: list[float]
    floor: list[float]
    writes: int = 0
    repacks: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


def update_secret(client: SecretsManagerClient, name: str) -> None:
    client.update_secret(SecretId=name, SecretString=_random.token_urlsafe(24))


def pack_count(gitdir: Path) -> int:
    return len(list((gitdir / "objects" / "pack").glob("*.pack")))


def bench_writes(
    paths_: list[Path], names: list[str], fsync: bool, cfg: Config
) -> list[WriteResult]:
    """Batches of UpdateSecret and of raw floor writes on each store, interleaved (alternating
    order), so that changes in machine load and background packing hit all of them alike."""
    rng = random.Random(7)
    results = [WriteResult([], [], []) for _ in paths_]
    # libgit2 decides whether to fsync refs when it first loads a repository's ref database, so
    # set the process-wide switch before opening: the branch ref is then as durable as the objects.
    pygit2.settings.enable_fsync_gitdir(fsync)
    floors = [RawFloor(p, fsync) for p in paths_]
    clients = [gitsm.client(repo=p, fsync=fsync) for p in paths_]
    writers = [functools.partial(update_secret, c) for c in clients]
    packs = [pack_count(p) for p in paths_]
    for i, write in enumerate(writers):  # warm-up: page in the trees and the key
        for name in names[:5]:
            write(name)
            floors[i].write(name)
        results[i].writes += 5
    for b in range(cfg.batches):
        for i in range(len(paths_)) if b % 2 == 0 else reversed(range(len(paths_))):
            picks = [rng.choice(names) for _ in range(cfg.batch)]
            if b % 2:
                results[i].floor.append(timed_batch(floors[i].write, picks)[0])
            rate, cpu = timed_batch(writers[i], picks)
            if not b % 2:
                results[i].floor.append(timed_batch(floors[i].write, picks)[0])
            results[i].rates.append(rate)
            results[i].cpu.append(cpu)
            results[i].writes += len(picks)
    for i, p in enumerate(paths_):
        floors[i].close()
        results[i].repacks = pack_count(p) - packs[i]
        wait_for_gc(p)
    return results


# -- reads -----------------------------------------------------------------------------------


def read_worker(path: str, mode: str, layout: str, n: int, reads: int) -> None:
    """In a fresh process: open the store and read+decrypt ``reads`` secrets; print JSON."""
    every = max(1, n // reads)
    pages = 0
    names = names_for(layout, n)[::every][:reads]
    start = time.perf_counter()
    client = gitsm.client(repo=path, fsync=False)
    ok = 0
    if mode == "get":
        for name in names:
            ok += client.get_secret_value(SecretId=name)["SecretString"] == value_for(name)
    elif mode == "batch":
        for i in range(0, len(names), 20):
            page = client.batch_get_secret_value(SecretIdList=names[i : i + 20])["SecretValues"]
            ok += sum(v["SecretString"] == value_for(v["Name"]) for v in page)
    elif mode == "list":  # every page of ListSecrets, 100 a page, as `gitsm list-secrets` reads
        listed, token = [], None
        while True:
            call = {"MaxResults": 100, **({"NextToken": token} if token else {})}
            out = client.list_secrets(**call)
            listed += [s["Name"] for s in out["SecretList"]]
            pages, token = pages + 1, out.get("NextToken")
            if not token:
                break
        expected = set(names_for(layout, n))  # every secret exactly once
        ok = len(expected.intersection(listed)) if len(set(listed)) == len(listed) else 0
        names = names_for(layout, n)
    else:  # one page of a Filters query (it has to find matching secrets among all manifests)
        prefix = names[-1].rsplit("/", 1)[0] + "/" if "/" in names[-1] else "key1"
        flt = [{"Key": "name", "Values": [prefix]}]
        page = client.batch_get_secret_value(Filters=flt, MaxResults=20)["SecretValues"]
        ok = sum(v["SecretString"] == value_for(v["Name"]) for v in page)
        names = names[: len(page)]
    ms = (time.perf_counter() - start) * 1e3
    print(
        json.dumps({"ms": ms, "ok": ok, "n": len(names), "pages": pages if mode == "list" else 0})
    )


def bench_reads(path: Path, mode: str, layout: str, n: int, cfg: Config) -> dict[str, float]:
    """Median of fresh-process runs (one run for the slow Filters page)."""
    runs, walls = [], []
    count = 1 if mode in ("filter", "list") else cfg.read_runs
    for _ in range(count):
        args = [sys.executable, __file__, "--read-worker", str(path), mode, layout, str(n)]
        start = time.perf_counter()
        out = subprocess.run([*args, str(cfg.reads)], capture_output=True, check=True)
        walls.append((time.perf_counter() - start) * 1e3)
        runs.append(json.loads(out.stdout))
    best = sorted(runs, key=lambda r: r["ms"])[len(runs) // 2]
    return {**best, "wall": statistics.median(walls), "runs": count}


# -- report ----------------------------------------------------------------------------------


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def met(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small stores and few writes (seconds)")
    ap.add_argument("--dir", help="where to build the stores (default: a new temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the stores afterwards")
    ap.add_argument("--layout", choices=["hier", "flat"], action="append", help="default: both")
    ap.add_argument("--read-worker", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.read_worker:
        path, mode, layout, n, reads = args.read_worker
        read_worker(path, mode, layout, int(n), int(reads))
        return
    cfg = QUICK if args.quick else FULL
    base = Path(args.dir or tempfile.mkdtemp(prefix="gitsm-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    os.environ["GITSM_HOME"] = str(base / "home")  # the local key ring of these stores
    n, (h_lo, h_hi) = cfg.secrets, cfg.histories
    fs = subprocess.run(["df", "--output=fstype", str(base)], capture_output=True, text=True)
    t_all = time.perf_counter()
    print(f"== gitsm store benchmark ({'quick' if args.quick else 'full'}) ==")
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, pygit2 "
          f"{getattr(pygit2, '__version__', '?')} (libgit2 {pygit2.LIBGIT2_VERSION}), "
          f"{subprocess.run(['git', '--version'], capture_output=True, text=True).stdout.strip()}, "
          f"stores in {base} ({fs.stdout.split()[-1] if fs.stdout else '?'}); load average "
          f"{load()} (1/5/15 min)")  # fmt: skip
    writes: dict[tuple[str, int, bool], WriteResult] = {}
    stores: dict[tuple[str, int], Path] = {}
    read_runs: dict[tuple[str, str], dict[str, float]] = {}
    built: dict[tuple[str, int], int] = {}
    layouts = args.layout or ["hier", "flat"]
    for layout in layouts:
        names = names_for(layout, n)
        lo, hi = build_pair(base, layout, names, h_lo, h_hi)
        for h, p in ((h_lo, lo), (h_hi, hi)):
            stores[layout, h] = p
            built[layout, h] = size_pack(p)
            print(f"[size] {layout}-{h} as built: size-pack {built[layout, h]:,} B / {n:,} versions"
                  f" = {built[layout, h] / n:,.0f} B/version ({h:,} commits)")  # fmt: skip
        for mode in ("get", "batch", "filter", "list"):
            read_runs[layout, mode] = bench_reads(lo, mode, layout, n, cfg)
        for fsync in (False, True):
            pair = bench_writes([lo, hi], names, fsync, cfg)
            for h, r in zip((h_lo, h_hi), pair, strict=True):
                writes[layout, h, fsync] = r
                print(f"[write] {layout}-{h} fsync={'on' if fsync else 'off'}: UpdateSecret "
                      f"{r.median:.1f} writes/s (median of {len(r.rates)} batches x {cfg.batch};"
                      f" min {min(r.rates):.1f}, max {max(r.rates):.1f}); CPU "
                      f"{statistics.median(r.cpu):.2f} ms/write in this process; background git gc --auto "
                      f"repacks {r.repacks}; load {load()}")  # fmt: skip
                floor = statistics.median(r.floor)
                print(f"[floor] {layout}-{h} fsync={'on' if fsync else 'off'}: raw pygit2 "
                      f"TreeBuilder commit on the same tree {floor:.1f} writes/s (median of "
                      f"{len(r.floor)}); gitsm/raw = {r.median / floor:.2f}")  # fmt: skip
    for (layout, mode), rr in read_runs.items():
        what = {"get": f"GetSecretValue x {rr['n']}",
                "batch": f"BatchGetSecretValue {-(-rr['n'] // 20)} calls x 20 SecretIds",
                "filter": f"BatchGetSecretValue 1 page by Filters ({rr['n']} of {n:,})",
                "list": f"ListSecrets every page ({rr['pages']:.0f} pages x 100, all {n:,})"}[mode]  # fmt: skip
        print(f"[read] {layout}-{h_lo} {what}: {rr['ms']:.0f} ms incl. opening the store "
              f"(median of {rr['runs']}; {rr['ok']}/{rr['n']} values verified); whole process "
              f"incl. interpreter start-up and imports {rr['wall']:.0f} ms")  # fmt: skip
    for layout, h in stores:
        after = size_pack(stores[layout, h])
        total = n + sum(writes[layout, h, f].writes for f in (False, True))
        extra = total - n
        print(f"[size] {layout}-{h} after {extra:,} UpdateSecrets: size-pack {after:,} B / "
              f"{total:,} versions = {after / total:,.0f} B/version; each UpdateSecret added "
              f"{(after - built[layout, h]) / extra:,.0f} B packed")  # fmt: skip
    for fsync, target in ((False, TARGET_OFF), (True, TARGET_ON)) if "hier" in layouts else ():
        rates = [writes["hier", h, fsync].median for h in (h_lo, h_hi)]
        print(f"[target] hier fsync={'on' if fsync else 'off'} >= {target:.0f} writes/s: "
              f"{h_lo:,}: {rates[0]:.1f}, {h_hi:,}: {rates[1]:.1f} -> "
              f"{met(min(rates) >= target)}")  # fmt: skip
    for layout in layouts:
        for fsync in (False, True):
            lo_r, hi_r = writes[layout, h_lo, fsync].median, writes[layout, h_hi, fsync].median
            print(f"[target] {layout} fsync={'on' if fsync else 'off'} {h_hi:,}-commit rate "
                  f"within {TARGET_HISTORY}x of {h_lo:,}-commit rate: {lo_r:.1f} / {hi_r:.1f} = "
                  f"{lo_r / hi_r:.2f}x -> {met(lo_r / hi_r <= TARGET_HISTORY)}")  # fmt: skip
    for layout in layouts:
        for mode in ("get", "batch"):
            rr = read_runs[layout, mode]
            print(f"[target] {layout} read+decrypt {rr['n']} secrets ({mode}) <= "
                  f"{TARGET_READ_MS:.0f} ms: {rr['ms']:.0f} ms -> "
                  f"{met(rr['ms'] <= TARGET_READ_MS and rr['ok'] == rr['n'])}")  # fmt: skip
    print(f"total bench time {time.perf_counter() - t_all:.0f} s; load average now {load()}")
    if not args.keep and not args.dir:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
