"""kill -9 at any moment: every acknowledged write survives, fsck is clean, the next writer proceeds.

A writer subprocess (``tests/_writer.py crash``) first makes one write, which must get past whatever
the previous, killed, writer left behind (a stale ``refs/heads/main.lock`` or ``index.lock``, an
interrupted work-tree sync), then says ``ready``; the test releases it into a loop of CreateSecret /
UpdateSecret / PutSecretValue and SIGKILLs it 0-300 ms later, so kills land in every phase of a
write. Each call is reported on stdout only after it returned, so the reported writes are exactly the
acknowledged ones; writes that landed without being reported must be consistent too.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

import gitsm
from gitsm import paths
from gitsm.awsclient import SecretsManagerClient
from gitsm.model import utcnow
from gitsm.store import SecretStore
from tests._writer import (
    Writer,
    fsck,
    git,
    gitdir_of,
    history_tokens,
    new_token,
    room_for_versions,
    value_for,
)

BASE = "crash/base"


def _store(tmp_path: Path, kind: str) -> Path:
    bare = kind == "bare"
    path = tmp_path / ("store.git" if bare else "store")
    gitsm.init(path, bare=bare)
    room_for_versions(path, 1_000)  # 500 killed writers at full size write to one secret
    token = new_token("base")
    gitsm.client(repo=path).create_secret(
        Name=BASE, SecretString=value_for(token), ClientRequestToken=token
    )
    return path


def _has_sync_temp_file(path: Path) -> bool:
    """A work-tree temp file of an interrupted sync (``.git`` is skipped: a background gc prunes
    objects while we walk, and os.walk ignores entries that vanish)."""
    for _root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d != ".git"]
        if any(f.endswith(".gitsm-tmp") for f in files):
            return True
    return False


def _leftovers(path: Path) -> set[str]:
    """What a killed writer left behind that a later writer has to deal with."""
    gitdir = gitdir_of(path)
    found = set()
    for name in ("refs/heads/main.lock", "index.lock", "gitsm-worktree.json"):
        if (gitdir / name).exists():
            found.add(name)
    if gitdir != path and _has_sync_temp_file(path):
        found.add("work-tree temp file")
    if found & {"refs/heads/main.lock", "index.lock"}:
        time.sleep(0.1)  # a background `git gc` holds ref locks for an instant; a stale one stays
        found = {f for f in found if not f.endswith(".lock") or (gitdir / f).exists()}
    return found


def _check_acknowledged(path: Path, acked: list[tuple[str, str, str]]) -> None:
    client = gitsm.client(repo=path)
    for op, name, token in acked:
        got = client.get_secret_value(SecretId=name, VersionId=token)
        assert got["SecretString"] == value_for(token), f"{op} {name} {token} reads wrong"


def _crash_rounds(tmp_path: Path, kind: str, rounds: int, seed: int) -> Counter[str]:
    path = _store(tmp_path, kind)
    checkout = kind == "checkout"
    rng = random.Random(seed)
    acked: list[tuple[str, str, str]] = []
    created: list[str] = []
    stats: Counter[str] = Counter()

    def spawn(r: int) -> Writer:
        names = [BASE, *rng.sample(created, min(4, len(created)))]
        return Writer("crash", str(path), str(seed * 100_000 + r), *names)

    upcoming = spawn(0)
    left: set[str] = set()
    for r in range(rounds):
        writer, upcoming = upcoming, None
        try:
            # The writer's first write proves it got past what the previous kill left behind,
            # and cleaned it up; it now waits, so the repository holds still for the checks.
            writer.start()
            assert not _leftovers(path), f"seed {seed} round {r}: {_leftovers(path)} survived"
            if left & {"refs/heads/main.lock", "index.lock"}:
                fsck(path)
            if checkout:
                status = git(path, "status", "--porcelain").stdout
                assert status == "", f"seed {seed} round {r}: work tree not clean:\n{status}"
            writer.go()
            if r + 1 < rounds:
                upcoming = spawn(r + 1)  # it loads while this one writes; it touches no file yet
            time.sleep(rng.uniform(0.0, 0.3))
            lines = writer.kill()
        except BaseException:
            if upcoming is not None:
                upcoming.close()
            raise
        finally:
            writer.close()
        fields = [line.split() for line in lines if line.startswith("ACK ")]
        round_acked = [(op, name, token) for _, op, name, token in fields]
        stats["acknowledged"] += len(round_acked)
        acked.extend(round_acked)
        created.extend(name for op, name, _ in round_acked if op == "CreateSecret")
        left = _leftovers(path)
        stats.update(left)
        # The branch reads, and what this writer acknowledged is there with its value.
        assert git(path, "rev-parse", "--verify", "refs/heads/main").returncode == 0
        _check_acknowledged(path, round_acked)
        if r % 10 == 9:
            fsck(path)
    # One more writer, in this process: it proceeds unaided and cleans up after the last kill.
    token = new_token("final")
    client = gitsm.client(repo=path)
    client.update_secret(SecretId=BASE, SecretString=value_for(token), ClientRequestToken=token)
    acked.append(("UpdateSecret", BASE, token))
    assert not _leftovers(path)
    if checkout:
        assert git(path, "status", "--porcelain").stdout == ""
    # Every acknowledged write is still there; every write that landed (acknowledged or not) reads
    # back its own value; nothing was committed twice.
    _check_acknowledged(path, acked)
    history = history_tokens(path)
    tokens = [t for _, _, t in history]
    assert len(tokens) == len(set(tokens)), "a write was committed twice"
    assert {a[2] for a in acked} <= set(tokens)
    landed_unacked = [h for h in history if h[2] not in {a[2] for a in acked}]
    stats["landed unacknowledged"] = len(landed_unacked)
    _check_acknowledged(path, landed_unacked)
    fsck(path)
    print(f"\n{kind}: {rounds} kills (seed {seed}): {dict(stats)}")
    return stats


@pytest.mark.parametrize("kind", ["bare", "checkout"])
def test_sigkill_writer_25_rounds(tmp_path: Path, kind: str, seed: int) -> None:
    stats = _crash_rounds(tmp_path, kind, rounds=25, seed=seed)
    assert stats["acknowledged"] >= 25


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["bare", "checkout"])
def test_sigkill_writer_500_rounds(tmp_path: Path, kind: str, seed: int) -> None:
    stats = _crash_rounds(tmp_path, kind, rounds=500, seed=seed)
    assert stats["acknowledged"] >= 500


# -- what a killed writer leaves behind, made by hand -----------------------------------------------


def test_stale_ref_and_index_locks_are_cleared_by_the_next_writer(any_path: Path) -> None:
    """A killed gitsm writer's ``index.lock`` is the second name of its ``gitsm-index.lock``
    (that is how the next writer knows it for gitsm's: another program's lock is left alone, see
    tests/test_faults.py)."""
    client = gitsm.client(repo=any_path)
    client.create_secret(Name=BASE, SecretString="before")
    gitdir = gitdir_of(any_path)
    tip = git(any_path, "rev-parse", "main").stdout
    (gitdir / "refs/heads/main.lock").write_text(tip)
    locks = [gitdir / "refs/heads/main.lock"]
    if gitdir != any_path:
        (gitdir / "gitsm-index.lock").write_bytes(b"half an index")
        os.link(gitdir / "gitsm-index.lock", gitdir / "index.lock")
        locks += [gitdir / "index.lock", gitdir / "gitsm-index.lock"]
    token = new_token("after")
    started = time.monotonic()
    gitsm.client(repo=any_path).update_secret(
        SecretId=BASE, SecretString=value_for(token), ClientRequestToken=token
    )
    assert time.monotonic() - started < 10
    for lock in locks:
        assert not lock.exists(), f"{lock.name} survived"
    got = client.get_secret_value(SecretId=BASE)
    assert (got["VersionId"], got["SecretString"]) == (token, value_for(token))
    if gitdir != any_path:
        assert git(any_path, "status", "--porcelain").stdout == ""
    fsck(any_path)


def test_ref_lock_left_mid_write_by_a_killed_git_is_cleared_and_retried(any_path: Path) -> None:
    """A plain ``git update-ref`` killed while gitsm plans its write leaves ``main.lock`` behind."""
    gitsm.client(repo=any_path).create_secret(Name=BASE, SecretString="before")
    lock = gitdir_of(any_path) / "refs/heads/main.lock"

    def clock() -> datetime:
        # Read right after gitsm took its lock, cleared stale locks and read the tip.
        if not lock.exists() and not seen:
            lock.write_text(git(any_path, "rev-parse", "main").stdout)
            seen.append(lock)
        return utcnow()

    seen: list[Path] = []
    client = SecretsManagerClient(SecretStore.open(any_path, clock=clock))
    token = new_token("mid")
    client.update_secret(SecretId=BASE, SecretString=value_for(token), ClientRequestToken=token)
    assert seen and not lock.exists()
    got = gitsm.client(repo=any_path).get_secret_value(SecretId=BASE)
    assert (got["VersionId"], got["SecretString"]) == (token, value_for(token))
    if gitdir_of(any_path) != any_path:
        assert git(any_path, "status", "--porcelain").stdout == ""
    fsck(any_path)


def test_interrupted_worktree_sync_is_finished_by_the_next_writer(repo_path: Path) -> None:
    """The ref moved but the work tree was not updated yet: the journal names what to redo."""
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name=BASE, SecretString="before")
    client.create_secret(Name="crash/other", SecretString="other")
    rel = paths.manifest_path(BASE)
    manifest = repo_path / rel
    old = manifest.read_text()
    # Simulate a kill after the ref moved: the file on disk and in the index still hold the
    # previous content, and the journal written before the ref moved names the path.
    token = new_token("synced")
    client.update_secret(SecretId=BASE, SecretString=value_for(token), ClientRequestToken=token)
    manifest.write_text(old)
    git(repo_path, "update-index", "--cacheinfo", f"100644,{_hash(repo_path, old)},{rel}")
    (gitdir_of(repo_path) / "gitsm-worktree.json").write_text(f'{{"paths": ["{rel}"]}}')
    assert git(repo_path, "status", "--porcelain").stdout != ""
    client.update_secret(SecretId="crash/other", SecretString="other, changed")
    assert git(repo_path, "status", "--porcelain").stdout == ""
    assert not (gitdir_of(repo_path) / "gitsm-worktree.json").exists()
    fsck(repo_path)


def _hash(path: Path, text: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), "hash-object", "-w", "--stdin"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
