"""Many writers on one store: no acknowledged write is lost (DESIGN §6).

Writers in separate processes and in threads race on one secret; a plain-git writer that ignores
gitsm's lock moves the branch behind gitsm's back, which gitsm's compare-and-swap must notice and
retry without losing either side's commits.
"""

from __future__ import annotations

import random
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

import gitsm
from gitsm.awsclient import SecretsManagerClient
from gitsm.model import utcnow
from gitsm.store import SecretStore
from tests._writer import (
    Writer,
    fsck,
    git,
    history_tokens,
    new_token,
    room_for_versions,
    value_for,
)

SECRET = "race/db/password"


def _store(tmp_path: Path, kind: str) -> Path:
    bare = kind == "bare"
    path = tmp_path / ("store.git" if bare else "store")
    gitsm.init(path, bare=bare)
    room_for_versions(path, 1_000)
    gitsm.client(repo=path).create_secret(Name=SECRET, SecretString="initial")
    return path


def _all_versions(client: SecretsManagerClient, secret: str) -> dict[str, list[str]]:
    """VersionId -> stages of every version, read page by page."""
    found: dict[str, list[str]] = {}
    kwargs: dict[str, object] = {"SecretId": secret, "IncludeDeprecated": True, "MaxResults": 100}
    while True:
        page = client.list_secret_version_ids(**kwargs)
        for v in page["Versions"]:
            assert v["VersionId"] not in found, "a version listed twice"
            found[v["VersionId"]] = v["VersionStages"]
        if "NextToken" not in page:
            return found
        kwargs["NextToken"] = page["NextToken"]


def _check_race(path: Path, acked: list[str], *, writes: int, seed: int) -> None:
    """Every acknowledged token is a version; history holds exactly those writes; labels agree."""
    assert len(acked) == len(set(acked)) == writes
    client = gitsm.client(repo=path)
    versions = _all_versions(client, SECRET)
    missing = set(acked) - set(versions)
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:3]}"
    assert len(versions) == writes + 1  # plus the version CreateSecret made
    current = [vid for vid, stages in versions.items() if "AWSCURRENT" in stages]
    previous = [vid for vid, stages in versions.items() if "AWSPREVIOUS" in stages]
    assert len(current) == 1 and len(previous) == 1
    history = [tok for op, _, tok in history_tokens(path) if op == "UpdateSecret"]
    assert sorted(history) == sorted(acked), "history and acknowledgements disagree"
    assert current == history[:1] and previous == history[1:2]  # newest commit is AWSCURRENT
    count = git(
        path, "rev-list", "--count", "--grep=^Gitsm-Operation: UpdateSecret$", "main"
    ).stdout
    assert int(count) == writes
    for token in random.Random(seed).sample(acked, min(25, len(acked))):
        got = client.get_secret_value(SecretId=SECRET, VersionId=token)
        assert got["SecretString"] == value_for(token)
    fsck(path)
    if (path / ".git").is_dir():  # the work tree and index followed every commit
        assert git(path, "status", "--porcelain").stdout == ""


def _process_race(tmp_path: Path, kind: str, seed: int, per_writer: int) -> None:
    path = _store(tmp_path, kind)
    writers = [Writer("race", str(path), SECRET, str(per_writer), f"P{k}") for k in range(4)]
    try:
        for w in writers:
            w.wait_for("ready")
        for w in writers:
            w.go()
        outputs = [w.finish(timeout=600) for w in writers]
        for w in writers:
            assert w.proc.returncode == 0, w.stderr()
    finally:
        for w in writers:
            w.close()
    acked = [line.split()[1] for out in outputs for line in out if line.startswith("ACK ")]
    gave_up = [line.split()[2] for out in outputs for line in out if line.startswith("CONFLICTS ")]
    assert gave_up == ["0"] * 4, "with gitsm writers only, no call may run out of retries"
    _check_race(path, acked, writes=4 * per_writer, seed=seed)


@pytest.mark.parametrize("kind", ["bare", "checkout"])
def test_four_processes_race_on_one_secret(tmp_path: Path, kind: str, seed: int) -> None:
    _process_race(tmp_path, kind, seed, per_writer=50)


# Each write rewrites the secret's manifest, which lists every version, so these 800 writes on one
# secret take ~30 s each on 2 cores: the full size runs with -m slow.
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["bare", "checkout"])
def test_four_processes_race_on_one_secret_800_writes(tmp_path: Path, kind: str, seed: int) -> None:
    _process_race(tmp_path, kind, seed, per_writer=200)


@pytest.mark.parametrize("kind", ["bare", "checkout"])
def test_four_threads_race_on_one_secret(tmp_path: Path, kind: str, seed: int) -> None:
    path = _store(tmp_path, kind)
    clients = [gitsm.client(repo=path) for _ in range(4)]

    def run(k: int) -> list[str]:
        done = []
        for i in range(50):
            token = new_token(f"T{k}{i:03d}")
            clients[k].update_secret(
                SecretId=SECRET, SecretString=value_for(token), ClientRequestToken=token
            )
            done.append(token)
        return done

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(4)))
    _check_race(path, [t for r in results for t in r], writes=200, seed=seed)


# -- a writer that bypasses gitsm's lock -----------------------------------------------------------


def _plain_git_commit(path: Path, note: str) -> str:
    """Commit ``notes/<note>`` on main with the git CLI only (commit-tree + CAS update-ref)."""
    old = git(path, "rev-parse", "refs/heads/main").stdout.strip()
    blob = subprocess.run(
        ["git", "-C", str(path), "hash-object", "-w", "--stdin"],
        input=note,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    listing = git(path, "ls-tree", old).stdout
    notes = subprocess.run(
        ["git", "-C", str(path), "mktree"],
        input=f"100644 blob {blob}\t{note}\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    lines = [line for line in listing.splitlines() if not line.endswith("\tnotes")]
    lines.append(f"040000 tree {notes}\tnotes")
    tree = subprocess.run(
        ["git", "-C", str(path), "mktree"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    new = git(path, "commit-tree", tree, "-p", old, "-m", f"note {note}").stdout.strip()
    git(path, "update-ref", "refs/heads/main", new, old)
    return new


def test_branch_moved_between_read_and_commit_is_retried(bare_path: Path) -> None:
    gitsm.client(repo=bare_path).create_secret(Name=SECRET, SecretString="initial")
    moved: list[str] = []

    def clock() -> datetime:
        # SecretStore reads the clock right after reading the tip, under its lock: move the
        # branch there once, the way a plain `git` writer that ignores the lock could.
        if not moved:
            moved.append(_plain_git_commit(bare_path, "first"))
        return utcnow()

    client = SecretsManagerClient(SecretStore.open(bare_path, clock=clock))
    token = new_token("cas")
    client.update_secret(SecretId=SECRET, SecretString=value_for(token), ClientRequestToken=token)
    assert len(moved) == 1
    tip_parent = git(bare_path, "rev-parse", "main^").stdout.strip()
    assert tip_parent == moved[0], "gitsm's commit must sit on the interloper's, not replace it"
    assert git(bare_path, "show", "main:notes/first").stdout == "first"
    got = gitsm.client(repo=bare_path).get_secret_value(SecretId=SECRET)
    assert (got["VersionId"], got["SecretString"]) == (token, value_for(token))
    assert git(bare_path, "rev-list", "--count", "main").stdout.strip() == "4"
    fsck(bare_path)


def test_branch_that_keeps_moving_fails_cleanly(bare_path: Path) -> None:
    gitsm.client(repo=bare_path).create_secret(Name=SECRET, SecretString="initial")
    notes: list[str] = []

    def clock() -> datetime:
        notes.append(_plain_git_commit(bare_path, f"n{len(notes)}"))
        return utcnow()

    client = SecretsManagerClient(SecretStore.open(bare_path, clock=clock))
    token = new_token("never")
    with pytest.raises(client.exceptions.InternalServiceError):
        client.update_secret(SecretId=SECRET, SecretString="x" * 8, ClientRequestToken=token)
    ops = Counter(op for op, _, _ in history_tokens(bare_path))
    assert ops == Counter({"CreateSecret": 1}), "a failed write must leave no commit"
    versions = _all_versions(gitsm.client(repo=bare_path), SECRET)
    assert token not in versions and len(versions) == 1
    assert git(bare_path, "rev-parse", "main").stdout.strip() == notes[-1]
    fsck(bare_path)


def test_plain_git_writer_and_gitsm_writers_lose_nothing(bare_path: Path, seed: int) -> None:
    gitsm.client(repo=bare_path).create_secret(Name=SECRET, SecretString="initial")
    writers = [Writer("race", str(bare_path), SECRET, "75", f"G{k}") for k in range(2)]
    # The plain-git writer pauses 20-40 ms between commits. One that commits back to back can
    # starve gitsm, whose call then fails with InternalServiceError after 20 attempts, having
    # written nothing; the writers repeat such a call with the same token.
    interloper = Writer("interloper", str(bare_path), "main", "40", "40", str(seed))
    try:
        for w in [*writers, interloper]:
            w.wait_for("ready")
        for w in [*writers, interloper]:
            w.go()
        outputs = [w.finish(timeout=600) for w in [*writers, interloper]]
        for w in [*writers, interloper]:
            assert w.proc.returncode == 0, w.stderr()
    finally:
        for w in [*writers, interloper]:
            w.close()
    acked = [line.split()[1] for out in outputs[:2] for line in out if line.startswith("ACK ")]
    counts = [line.split()[1:] for out in outputs[:2] for line in out if "CONFLICTS" in line]
    landed = [line.split() for line in outputs[2] if line.startswith("ICOMMIT ")]
    retries = [int(line.split()[1]) for line in outputs[2] if line.startswith("IRETRIES ")]
    print(
        f"gitsm CAS conflicts retried: {sum(int(c) for c, _ in counts)}, calls that ran out of "
        f"retries and were repeated: {sum(int(g) for _, g in counts)}; "
        f"plain-git update-ref retries: {retries}"
    )
    assert len(acked) == 150 and len(landed) == 40
    versions = _all_versions(gitsm.client(repo=bare_path), SECRET)
    assert set(acked) <= set(versions)
    history = [tok for op, _, tok in history_tokens(bare_path) if op == "UpdateSecret"]
    assert sorted(history) == sorted(acked)
    files = set(git(bare_path, "ls-tree", "--name-only", "main", "interloper/").stdout.split())
    for _, i, sha in landed:
        assert f"interloper/n{i}" in files, f"plain-git commit {i} was overwritten"
        is_ancestor = git(bare_path, "merge-base", "--is-ancestor", sha, "main", check=False)
        assert is_ancestor.returncode == 0, f"plain-git commit {sha} fell off the branch"
    fsck(bare_path)
