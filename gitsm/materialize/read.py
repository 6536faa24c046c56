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
"""

from __future__ import annotations

import gc
import os
import pickle
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from gitsm.errors import GitsmError
from gitsm.materialize.errors import MaterializeError
from gitsm.materialize.spec import Entry

if TYPE_CHECKING:
    from gitsm.gitrepo import Snapshot
    from gitsm.store import SecretStore, SecretValue

MAX_PASSES = 5
PARALLEL_MIN = 100
"""Requests from which a forked helper reads half of them (below, the fork costs more)."""
Request = tuple[str, str | None, str | None]
"""(SecretId, VersionId, VersionStage): what one GetSecretValue reads."""


def request_of(entry: Entry) -> Request:
    """The read an entry needs."""
    return (entry.secret_id, entry.version_id, entry.version_stage)


CHUNK = 64
"""Requests read in one call (one config read, one pass of each kind of work per chunk: about a
quarter faster than one at a time), between two ticks of the progress bar."""


def _read_chunked(
    store: SecretStore, snap: Snapshot, requests: list[Request], tick: Callable[[], None] | None
) -> list[SecretValue | GitsmError]:
    out: list[SecretValue | GitsmError] = []
    for start in range(0, len(requests), CHUNK):
        out += store.get_secret_values(requests[start : start + CHUNK], snap)
        if tick is not None:
            for _ in range(min(CHUNK, len(requests) - start)):
                tick()
    return out


def _helper_reads(
    store: SecretStore, snap: Snapshot, requests: list[Request]
) -> tuple[int, int] | None:
    """Fork a helper that reads ``requests`` and pickles the results into a pipe.

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
            payload = pickle.dumps(store.get_secret_values(requests, snap))
            view = memoryview(payload)
            while view:
                view = view[os.write(write_end, view) :]
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end


def _helper_results(pid: int, read_end: int) -> list[SecretValue | GitsmError] | None:
    chunks = []
    with os.fdopen(read_end, "rb") as pipe:
        while chunk := pipe.read(1 << 20):
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        return None
    try:
        out = pickle.loads(b"".join(chunks))  # from our own forked helper, through a private pipe
    except Exception:
        return None
    return out if isinstance(out, list) else None


def _read_pass(
    store: SecretStore, requests: list[Request], tick: Callable[[], None] | None
) -> tuple[dict[Request, SecretValue | GitsmError], str | None]:
    """One pass over the requests, all read from one snapshot of the branch: (results, commit).

    With many requests and two or more CPUs, a forked helper reads the second half meanwhile.
    """
    snap = store.repo.tip()
    split = len(requests) // 2 if len(requests) >= PARALLEL_MIN and _cpus() > 1 else len(requests)
    helper = _helper_reads(store, snap, requests[split:]) if split < len(requests) else None
    if helper is None:
        split = len(requests)
    mine = requests[:split]
    results = dict(zip(mine, _read_chunked(store, snap, mine, tick), strict=True))
    if helper is not None:
        rest = requests[split:]
        theirs = _helper_results(*helper)
        if theirs is None or len(theirs) != len(rest):
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


def read_values(
    store: SecretStore,
    entries: Sequence[Entry],
    *,
    tick: Callable[[], None] | None = None,
) -> tuple[dict[Request, SecretValue | GitsmError], str]:
    """Every version the entries name, from one commit: (results by request, that commit)."""
    requests = list(dict.fromkeys(request_of(e) for e in entries))
    collecting = gc.isenabled()
    gc.disable()  # reads make no reference cycles; pausing the collector saves ~10%
    try:
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
