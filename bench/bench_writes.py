#!/usr/bin/env python3
"""Write cost against the size of the store and the number of versions of a secret.

Prints figures, ratios measured in the same run, and a ``[target]`` line per target of issue 3
("Speed", part 3); it asserts nothing.

    .venv/bin/python bench/bench_writes.py            # 1,000 and 10,000 secrets, 1,000 versions
    .venv/bin/python bench/bench_writes.py --quick    # 50 and 200 secrets, 110 versions

Stores: the ``hier`` layout of bench_store.py (``env{i}/app/key{j}``, one AWSCURRENT version each,
composed by gitsm's code and committed through ``git fast-import``), built twice per size: as a
checkout (work tree and index checked out with ``git reset --hard``), as a checkout with git's split
index (``core.splitIndex=true``, ``git update-index --split-index``: the index file holds only
what changed since a shared index) and bare (no-checkout mode).

- **Store size**: UpdateSecret through ``gitsm.client`` on random secrets, batches of 5 writes
  alternating between the small and the large store of each mode (so machine load hits both
  alike), fsync off and on: ms per write as the median of the batch medians. Before each mode's
  writes every file of its two stores is read once: a host that pages out files idle for a
  minute (this one runs DAMON's pageout) would otherwise start the larger store from the disk;
  and the bench waits until no ``git gc`` that earlier writes started runs in any store. After
  the checkout writes, ``[floor]``: reading and writing each checkout's whole index by itself,
  and its SHA-1, and the ratio that the index alone gives a 10,000-secret write with half the
  hash in its path, an upper bound (a write hashes the part of the new index before its first
  change beside its commit and, when 1 MB or more is left, the rest beside its look at the
  racily clean entries, both in threads; it fills the spare index beside its commit too). On
  ext4 without a journal the stores are spread
  over block groups (``chattr +T`` on their parent: :func:`spread`).
- **Versions**: in the small checkout, UpdateSecret on a secret with 1 version (a random one of
  the store's), on one that was given 1,000 versions at one every 15 minutes (the clock of its
  handle moves on: 100 are kept, each write prunes one), and on one holding 150 to 199 versions
  all younger than 24 hours (the quota is 200: nothing can be pruned), batches interleaved.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import secrets as _random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gitsm
from bench.bench_store import build_store, load, met, names_for
from gitsm.awsclient import SecretsManagerClient
from gitsm.gitrepo import autogc
from gitsm.model import utcnow
from gitsm.store import SecretStore


@dataclass(frozen=True)
class Config:
    sizes: tuple[int, int]  # secrets in the small and the large store
    versions: int  # versions written to the many-version secret
    batches: int
    batch: int
    young: int  # versions of the secret whose versions are all younger than 24 hours
    vbatch: int  # writes per batch in the versions phase (young + vbatches x vbatch < 200)
    vbatches: int  # batches in the versions phase


# Batches of 5 writes: the machine's slow spells (seconds long on a shared host) fall on both
# stores alike; 42 batches keep the 210 writes per store that 7 batches of 30 made.
FULL = Config((1_000, 10_000), 1_000, batches=42, batch=5, young=150, vbatch=7, vbatches=7)
QUICK = Config((50, 200), 110, batches=3, batch=3, young=20, vbatch=3, vbatches=3)
TARGET = 1.3


class Clock:
    """A clock that moves ``step`` forward on every reading (one write reads it once)."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        self.now, self.step = start, step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def git(*args: str) -> None:
    subprocess.run(["git", *args], check=True, capture_output=True)


MODES = ("checkout", "split", "bare")


def build(base: Path, n: int, mode: str) -> Path:
    bare = mode == "bare"
    path = base / f"{mode}-{n}{'.git' if bare else ''}"
    start = time.perf_counter()
    build_store(path, names_for("hier", n), 2, bare=bare)
    gitdir = path if bare else path / ".git"
    if not bare:
        git("-C", str(path), "reset", "-q", "--hard")
    if mode == "split":
        git("-C", str(path), "config", "core.splitIndex", "true")
        git("-C", str(path), "update-index", "--split-index")
    git("--git-dir", str(gitdir), "gc", "-q")
    index = gitdir / "index"
    shown = f"index {index.stat().st_size:,} B" if index.exists() else "no index (bare)"
    print(f"[build] {path.name}: {n:,} secrets, {shown}; {time.perf_counter() - start:.1f} s")
    return path


def timed(write: Callable[[], object], count: int) -> float:
    """The median ms of ``count`` writes."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        write()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def index_floors(pair: list[Path], fsync: bool, rounds: int = 40) -> list[tuple[float, float]]:
    """ms to read each checkout's index and write it over a file of its size, synced with
    ``fsync`` (as gitsm writes it into the spare), and ms to SHA-1 it: medians of ``rounds``
    alternating between the stores."""
    times: list[list[tuple[float, float]]] = [[] for _ in pair]
    scratch = [p / ".git" / "gitsm-bench-floor" for p in pair]
    for path, target in zip(pair, scratch, strict=True):
        target.write_bytes((path / ".git" / "index").read_bytes())
    try:
        for _ in range(rounds):
            for i, path in enumerate(pair):
                start = time.perf_counter()
                data = (path / ".git" / "index").read_bytes()
                hashed = time.perf_counter()
                hashlib.sha1(data).digest()
                hashing = time.perf_counter() - hashed
                fd = os.open(scratch[i], os.O_WRONLY)
                try:
                    os.pwrite(fd, data, 0)
                    if fsync:
                        os.fsync(fd)
                finally:
                    os.close(fd)
                total = time.perf_counter() - start
                times[i].append(((total - hashing) * 1e3, hashing * 1e3))
    finally:
        for target in scratch:
            target.unlink(missing_ok=True)
    return [(statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts))
            for ts in times]  # fmt: skip


def update(client: SecretsManagerClient, name: str) -> Callable[[], object]:
    return lambda: client.update_secret(SecretId=name, SecretString=_random.token_urlsafe(24))


def random_writes(
    client: SecretsManagerClient, names: list[str], rng: random.Random
) -> Callable[[], Callable[[], object]]:
    """A batch's writer: UpdateSecret on a random one of ``names`` at each write."""
    return lambda: lambda: update(client, rng.choice(names))()


def interleave(writers: list[Callable[[], Callable[[], object]]], cfg: Config) -> list[float]:
    """Median of batch medians (ms per write) of each writer, batches alternating in order."""
    results: list[list[float]] = [[] for _ in writers]
    for b in range(cfg.batches):
        order = range(len(writers)) if b % 2 == 0 else reversed(range(len(writers)))
        for i in order:
            results[i].append(timed(writers[i](), cfg.batch))
    return [statistics.median(r) for r in results]


def warm(path: Path) -> tuple[int, float]:
    """Read every file of the store (work tree and git dir) into the page cache; (bytes, s)."""
    start, total = time.perf_counter(), 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError), open(os.path.join(root, name), "rb") as file:
                while chunk := file.read(1 << 20):
                    total += len(chunk)
    return total, time.perf_counter() - start


def settle(paths: Iterable[Path], limit: float = 300.0) -> None:
    """Wait until no ``git gc`` runs in any of the stores: one that an earlier phase's writes
    started in the background (``git gc --auto``: a 10,000-secret store's takes seconds of both
    CPUs) would otherwise slow whichever writes come next, in other stores too. A gc drops its
    lock for a moment when it goes to the background, so the stores must be quiet twice."""
    gitdirs = [p if (p / "objects").is_dir() else p / ".git" for p in paths]
    start, quiet = time.perf_counter(), 0
    busy: set[str] = set()
    while quiet < 2 and time.perf_counter() - start < limit:
        time.sleep(0.25)
        running = [g.parent.name if g.name == ".git" else g.name for g in gitdirs
                   if autogc.running(g)]  # fmt: skip
        busy.update(running)
        quiet = 0 if running else quiet + 1
    if busy:
        print(f"[settle] waited {time.perf_counter() - start:.1f} s for git gc in "
              f"{', '.join(sorted(busy))}")  # fmt: skip


def journal(path: Path) -> str:
    """Whether the ext4 file system holding ``path`` has a journal. Without one, ext4 allocates
    no inode freed in the last minute (six while its inode table block is unwritten), and skipping
    them costs every file a write makes: after a run that deleted its stores, the next run's
    writes are slower wherever those inodes lie."""
    st = os.stat(path)
    try:
        device = Path(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}").resolve().name
    except OSError:
        return "unknown"
    if not Path("/proc/fs/ext4", device).is_dir():
        return "not ext4"
    jbd2 = Path("/proc/fs/jbd2")
    has = jbd2.is_dir() and any(d.name.startswith(device + "-") for d in jbd2.iterdir())
    return "ext4 with a journal" if has else "ext4 without a journal (freed inodes are skipped)"


LAST_RUN = Path(tempfile.gettempdir()) / "gitsm-bench-writes.removed"
"""When the last run removed its stores (the file's mtime)."""
RECENT = 360.0
"""Seconds ext4 without a journal skips a freed inode whose inode table block is unwritten."""


def after_last_run(kind: str) -> str | None:
    """A warning when the last run removed its stores less than :data:`RECENT` seconds ago on a
    file system that skips recently freed inodes: their tens of thousands of inodes make every
    file this run creates slower, the more so wherever its stores land near them."""
    try:
        ago = time.time() - LAST_RUN.stat().st_mtime
    except OSError:
        return None
    if ago >= RECENT or "without a journal" not in kind:
        return None
    return (f"[warning] the last run removed its stores {ago:.0f} s ago: on ext4 without a "
            f"journal their inodes are skipped for up to {RECENT:.0f} s, and file creation in "
            "this run is slower and uneven between stores; wait that long for figures that "
            "do not depend on it")  # fmt: skip


def spread(base: Path, kind: str) -> str:
    """Ask ext4 to place each store in block groups of its own (``chattr +T`` on their parent:
    its subdirectories are spread as top-level directories are), so that the inodes one store's
    writes free (about four a write) do not slow the file creation of another store phases later,
    as they do on ext4 without a journal when they share an inode table block (see
    :func:`journal`). What the return says is printed."""
    if "without a journal" not in kind:
        return "not needed"
    try:
        done = subprocess.run(["chattr", "+T", str(base)], capture_output=True, check=False)
    except OSError:
        return "chattr not found: stores not spread"
    return "stores spread over block groups" if done.returncode == 0 else "chattr +T refused"


def reclaim() -> str:
    """Whether the kernel pages out files nobody touched for a while (DAMON's pageout scheme)."""
    base = Path("/sys/kernel/mm/damon/admin/kdamonds")
    try:
        on = [k for k in base.glob("[0-9]*") if (k / "state").read_text().strip() == "on"]
        actions = [a.read_text().strip() for k in on for a in k.glob("contexts/*/schemes/*/action")]
    except OSError:
        return "unknown"
    return "on (DAMON pageout)" if "pageout" in actions else "off"


def bench_sizes(stores: dict[tuple[str, int], Path], cfg: Config, fsync: bool) -> dict[str, float]:
    rng = random.Random(11)
    out: dict[str, float] = {}
    for mode in MODES:
        pair = [stores[mode, n] for n in cfg.sizes]
        settle(stores.values())
        for path in pair:  # idle for a phase or two: paged out where the kernel reclaims early
            size, took = warm(path)
            print(f"[warm] {path.name}: {size / 1e6:.0f} MB read in {took:.1f} s")
        clients = [gitsm.client(repo=p, fsync=fsync) for p in pair]
        names = [names_for("hier", n) for n in cfg.sizes]
        for c, ns in zip(clients, names, strict=True):  # warm-up
            for name in ns[:3]:
                update(c, name)()

        writers = [random_writes(c, ns, rng) for c, ns in zip(clients, names, strict=True)]
        medians = interleave(writers, cfg)
        if mode == "checkout":
            floors = index_floors(pair, fsync)
            for n, (io_ms, hash_ms) in zip(cfg.sizes, floors, strict=True):
                out[f"floor-{n}"], out[f"hash-{n}"] = io_ms, hash_ms
        for n, ms in zip(cfg.sizes, medians, strict=True):
            out[f"{mode}-{n}"] = ms
            print(f"[write] {mode} {n:,} secrets fsync={'on' if fsync else 'off'}: UpdateSecret "
                  f"{ms:.2f} ms/write (median of {cfg.batches} batch medians x {cfg.batch}); "
                  f"load {load()}")  # fmt: skip
    return out


def versions_of(client: SecretsManagerClient, name: str) -> int:
    """How many versions ``name`` holds (ListSecretVersionIds with IncludeDeprecated, every page)."""
    count, token = 0, None
    while True:
        call = {"SecretId": name, "IncludeDeprecated": True, "MaxResults": 100}
        page = client.list_secret_version_ids(**call, **({"NextToken": token} if token else {}))
        count, token = count + len(page["Versions"]), page.get("NextToken")
        if not token:
            return count


def bench_versions(path: Path, names: list[str], cfg: Config) -> dict[str, float]:
    """ms per write on a secret with 1 version, 1,000 written (pruned), and young versions."""
    start = utcnow() - timedelta(days=30)
    many = SecretsManagerClient(
        SecretStore.open(path, fsync=False, clock=Clock(start, timedelta(minutes=15)))
    )
    many.create_secret(Name="bench/many", SecretString="0")
    t0 = time.perf_counter()
    for i in range(1, cfg.versions):
        many.update_secret(SecretId="bench/many", SecretString=str(i))
    held = versions_of(many, "bench/many")
    print(f"[versions] bench/many: {cfg.versions:,} versions written, one every 15 minutes of "
          f"its clock; {held} held (pruned as AWS prunes); {time.perf_counter() - t0:.1f} s")  # fmt: skip
    young = SecretsManagerClient(
        SecretStore.open(path, fsync=False, clock=Clock(utcnow(), timedelta(seconds=1)))
    )
    young.create_secret(Name="bench/young", SecretString="0")
    for i in range(1, cfg.young):
        young.update_secret(SecretId="bench/young", SecretString=str(i))
    one = gitsm.client(repo=path, fsync=False)
    # the young secret must stay under the quota of 200
    vcfg = replace(cfg, batch=cfg.vbatch, batches=cfg.vbatches)
    medians = interleave([random_writes(one, names, random.Random(5)), lambda: update(many, "bench/many"),
                          lambda: update(young, "bench/young")], vcfg)  # fmt: skip
    count = cfg.young + cfg.vbatches * cfg.vbatch
    labels = ["1 version", f"{held} versions ({cfg.versions:,} written)",
              f"{cfg.young}-{count - 1} versions younger than 24 h"]  # fmt: skip
    for label, ms in zip(labels, medians, strict=True):
        print(f"[versions] UpdateSecret on a secret with {label}: {ms:.2f} ms/write (median of "
              f"{cfg.vbatches} batch medians x {cfg.vbatch}); load {load()}")  # fmt: skip
    return dict(zip(("one", "many", "young"), medians, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small stores and few writes")
    ap.add_argument("--dir", help="where to build the stores (default: a new temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the stores afterwards")
    args = ap.parse_args()
    cfg = QUICK if args.quick else FULL
    base = Path(args.dir or tempfile.mkdtemp(prefix="gitsm-bench-writes-"))
    base.mkdir(parents=True, exist_ok=True)
    os.environ["GITSM_HOME"] = str(base / "home")
    t_all = time.perf_counter()
    print(f"== gitsm write benchmark ({'quick' if args.quick else 'full'}) ==")
    kind = journal(base)
    print(f"machine: {os.cpu_count()} CPUs; stores in {base}; load average {load()} (1/5/15 min); "
          f"proactive page-out of idle files: {reclaim()}; file system: {kind}")  # fmt: skip
    warning = after_last_run(kind)
    if warning:
        print(warning)
    print(f"[inodes] {spread(base, kind)}")
    os.sync()  # freed inodes' table blocks written: skipped for a minute, not six
    stores = {(mode, n): build(base, n, mode) for mode in MODES for n in cfg.sizes}
    sizes = {fsync: bench_sizes(stores, cfg, fsync) for fsync in (False, True)}
    small_store = stores["checkout", cfg.sizes[0]]
    settle(stores.values())
    versions = bench_versions(small_store, names_for("hier", cfg.sizes[0]), cfg)
    small, large = cfg.sizes
    for fsync, got in sizes.items():
        for mode in MODES:
            a, b = got[f"{mode}-{small}"], got[f"{mode}-{large}"]
            print(f"[target] {mode} fsync={'on' if fsync else 'off'}: a write on {large:,} "
                  f"secrets within {TARGET}x of one on {small:,}: {b:.2f} / {a:.2f} ms = "
                  f"{b / a:.2f}x -> {met(b / a <= TARGET)}")  # fmt: skip
        f1, f2, a = got[f"floor-{small}"], got[f"floor-{large}"], got[f"checkout-{small}"]
        h1, h2 = got[f"hash-{small}"], got[f"hash-{large}"]
        grows = f2 - f1 + (h2 - h1) / 2
        print(f"[floor] checkout fsync={'on' if fsync else 'off'}: reading and writing the whole "
              f"index takes {f1:.2f} ms at {small:,} secrets and {f2:.2f} ms at {large:,}, its "
              f"SHA-1 {h1:.2f} and {h2:.2f} ms; with a write at {small:,} of {a:.2f} ms, a write "
              f"of a whole index at {large:,} is at most {(a + grows) / a:.2f}x of it from the "
              f"index alone with half the hash in its path (hashed whole: "
              f"{(a + f2 - f1 + h2 - h1) / a:.2f}x; a write hashes the start beside its commit, "
              f"and the rest beside its racy look when 1 MB or more is left, and fills the spare "
              f"beside its commit: prehash.py)")  # fmt: skip
    young = f"{cfg.young}+ versions younger than 24 hours"
    for key, what in (("many", f"{cfg.versions:,} versions written"), ("young", young)):
        ratio = versions[key] / versions["one"]
        print(f"[target] a write on a secret with {what} within {TARGET}x of one with 1 version: "
              f"{versions[key]:.2f} / {versions['one']:.2f} ms = {ratio:.2f}x -> "
              f"{met(ratio <= TARGET)}")  # fmt: skip
    print(f"total bench time {time.perf_counter() - t_all:.0f} s; load average now {load()}")
    if not args.keep and not args.dir:
        shutil.rmtree(base, ignore_errors=True)
        os.sync()  # (see journal(): the next run's files skip these inodes for a minute, not six)
        with contextlib.suppress(OSError):
            LAST_RUN.touch()


if __name__ == "__main__":
    main()
