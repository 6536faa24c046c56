"""Reading what a spec names: every secret version once, all from one commit of the store.

Entries that name the same (SecretId, VersionId, VersionStage) share one GetSecretValue, so each
version is decrypted once however many keys or destinations use it. All reads come from one
snapshot of the branch (one commit, read once at the start), so a job never mixes two states of the
store even while others write.

With many requests and two or more CPUs, a forked helper process reads the second half while this
one reads the first, and hands its results back through a private pipe: start-up and reading are
most of a CI job's wait. The helper is used only when this process runs a single thread (a fork
copies no other thread, and locks they hold would never be released); otherwise, or if the helper
fails, everything is read here.

Given a store not opened yet (:class:`StorePath`, as the CLI gives it), the reads go first
through :mod:`gitsm.quickbatch`, without pygit2 or the store (a fresh process's imports are then
about a third): it answers every request or none, and when it leaves any of them to the full
reader (an error of any kind, or a case it does not handle), the store is opened and everything is
read through it, which words every error. ``GITSM_QUICK_READ=0`` turns the quick read off.
"""

from __future__ import annotations

import gc
import os
import pickle
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from gitsm.errors import GitsmError
from gitsm.materialize.errors import MaterializeError
from gitsm.materialize.spec import Entry

if TYPE_CHECKING:
    from gitsm.gitrepo import Snapshot
    from gitsm.store import SecretStore

QUICK_SWITCH = "GITSM_QUICK_READ"


class Value(Protocol):
    """What materialization uses of a value read (a SecretValue, or the quick read's)."""

    @property
    def value(self) -> bytes: ...

    @property
    def kind(self) -> str: ...


@dataclass(frozen=True)
class StorePath:
    """A store not opened yet: its path, and the Region the command gave (None: the store's)."""

    path: str
    region: str | None = None

    def open(self) -> SecretStore:
        """The store itself."""
        from gitsm.store import SecretStore

        return SecretStore.open(self.path, region=self.region)


MAX_PASSES = 5
PARALLEL_MIN = 100
"""Requests from which a forked helper reads half of them (below, the fork costs more)."""
Request = tuple[str, str | None, str | None]
"""(SecretId, VersionId, VersionStage): what one GetSecretValue reads."""
Results = dict[Request, Value | GitsmError]
"""What each request read: its value, or the error that stands in its place."""


def request_of(entry: Entry) -> Request:
    """The read an entry needs."""
    return (entry.secret_id, entry.version_id, entry.version_stage)


CHUNK = 64
"""Requests read in one call (one config read, one pass of each kind of work per chunk: about a
quarter faster than one at a time), between two ticks of the progress bar."""


def _read_chunked(
    store: SecretStore, snap: Snapshot, requests: list[Request], tick: Callable[[], None] | None
) -> list[Value | GitsmError]:
    out: list[Value | GitsmError] = []
    for start in range(0, len(requests), CHUNK):
        out += store.get_secret_values(requests[start : start + CHUNK], snap)
        if tick is not None:
            for _ in range(min(CHUNK, len(requests) - start)):
                tick()
    return out


def _helper(work: Callable[[], object]) -> tuple[int, int] | None:
    """Fork a helper that runs ``work`` and pickles its result into a pipe.

    Returns (pid, read end), or None where a fork is not safe (other threads may hold locks).
    """
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the helper: never returns, never runs the parent's cleanup or flushes
        status = 1
        try:
            os.close(read_end)
            payload = pickle.dumps(work())
            view = memoryview(payload)
            while view:
                view = view[os.write(write_end, view) :]
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end


def _helper_result(pid: int, read_end: int) -> object | None:
    """What the helper's ``work`` returned; None when it failed."""
    chunks = []
    with os.fdopen(read_end, "rb") as pipe:
        while chunk := pipe.read(1 << 20):
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        return None
    try:
        out: object = pickle.loads(b"".join(chunks))  # our own forked helper's, through a pipe
    except Exception:
        return None
    return out


def _split(requests: list[Request]) -> int:
    """How many of ``requests`` this process reads (a forked helper reads the rest)."""
    return len(requests) // 2 if len(requests) >= PARALLEL_MIN and _cpus() > 1 else len(requests)


def _read_pass(
    store: SecretStore, requests: list[Request], tick: Callable[[], None] | None
) -> tuple[Results, str | None]:
    """One pass over the requests, all read from one snapshot of the branch: (results, commit).

    With many requests and two or more CPUs, a forked helper reads the second half meanwhile.
    """
    snap = store.repo.tip()
    split = _split(requests)
    rest = requests[split:]
    helper = _helper(lambda: store.get_secret_values(rest, snap)) if rest else None
    if helper is None:
        split = len(requests)
    mine = requests[:split]
    results: Results = dict(zip(mine, _read_chunked(store, snap, mine, tick), strict=True))
    if helper is not None:
        theirs = _helper_result(*helper)
        if not isinstance(theirs, list) or len(theirs) != len(rest):
            theirs = _read_chunked(store, snap, rest, tick)
        elif tick is not None:
            for _ in rest:
                tick()
        results.update(zip(rest, theirs, strict=True))
    return results, snap.commit_id


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _quick(
    store: StorePath, requests: list[Request], tick: Callable[[], None] | None
) -> tuple[Results, str] | None:
    """Every request through the quick read (:mod:`gitsm.quickbatch`): what its memo holds is
    opened here, and a forked helper reads the second half of many others; None when it leaves
    any of them to the full reader."""
    if store.region is not None or os.environ.get(QUICK_SWITCH, "1") == "0":
        return None
    from gitsm.quickbatch import held, open_held, read_at
    from gitsm.quickmemo import Memo
    from gitsm.quickopen import aesgcm
    from gitsm.quickread import open_tip

    helper = None
    rest: list[Request] = []
    memo: Memo | None = None
    try:
        aesgcm()  # loaded before the fork, not in both processes
        repo, tip = open_tip(store.path)  # the helper reads the same commit, through a copy
        book = Memo(repo.common)  # what earlier batches found, by secret tree
        hits = held(repo, tip, requests, book)
        missing = [request for request, hit in zip(requests, hits, strict=True) if hit is None]
        split = _split(missing)  # reads are worth a helper; opening what the memo holds is not
        rest = missing[split:]
        if rest:
            helper = _helper(lambda: (read_at(repo, tip, rest, book, look=False), book.notes()))
        read = read_at(repo, tip, missing if helper is None else missing[:split], book, look=False)
        opened = open_held([hit for hit in hits if hit is not None])
        memo = book
    except Exception:  # Doubt, or any surprise: the store reads everything and words errors
        pass
    if helper is not None:  # always waited for
        theirs = _helper_result(*helper)
        if memo is not None:
            if isinstance(theirs, tuple) and len(theirs) == 2 and len(theirs[0]) == len(rest):
                read += theirs[0]
                memo.merge(theirs[1])
            else:
                memo = None
    if memo is None:
        return None
    memo.save()
    from_memo, from_reads = iter(opened), iter(read)
    values: list[Value] = [next(from_reads if hit is None else from_memo) for hit in hits]
    if tick is not None:
        for _ in requests:
            tick()
    return dict(zip(requests, values, strict=True)), tip


def read_values(
    store: SecretStore | StorePath,
    entries: Sequence[Entry],
    *,
    tick: Callable[[], None] | None = None,
) -> tuple[Results, str]:
    """Every version the entries name, from one commit: (results by request, that commit).
    A :class:`StorePath` is opened only when the quick read leaves something to the store."""
    requests = list(dict.fromkeys(request_of(e) for e in entries))
    collecting = gc.isenabled()
    gc.disable()  # reads make no reference cycles; pausing the collector saves ~10%
    try:
        if isinstance(store, StorePath):
            quick = _quick(store, requests, tick)
            if quick is not None:
                return quick
            store = store.open()
        for _ in range(MAX_PASSES):
            results, commit = _read_pass(store, requests, tick)
            if commit is not None:
                return results, commit
    finally:
        if collecting:
            gc.enable()
    raise MaterializeError(
        ["the store's branch kept moving while it was read (concurrent writes); try again"]
    )
