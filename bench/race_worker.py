"""One clone's writer in a race (``python bench/race_worker.py MODE REPO K COUNT SECRET``).

Used by ``bench/bench_sync.py`` and by ``tests/test_sync_race.py``.

After ``ready`` and a line on stdin, it makes COUNT writes to SECRET in the clone at REPO and
publishes each one before the next:

- the writes rotate through UpdateSecret, PutSecretValue, PutSecretValue with
  ``VersionStages=["P<K>"]`` and UpdateSecretVersionStage moving label ``L<K>`` to this clone's
  newest version; after each call it prints ``ACK <kind> <VersionId>``;
- MODE ``sync`` publishes with ``SecretStore.sync`` (repeated while another clone wins the push);
  MODE ``pull`` with plain git: ``git push``, and on a rejection ``git pull --no-rebase`` (the
  merge driver installed by ``install_merge_driver``), counting the pulls that stopped on a
  conflict (``git merge --abort`` then, and try again);
  MODE ``rebase`` as a team without gitsm's help would: ``git push``, and on a rejection ``git
  pull --rebase`` with no merge driver; a conflict is counted and resolved the quick way people
  do, keeping the upstream side of each conflicted file (``git checkout --ours``, which in a
  rebase is upstream's), then ``git rebase --continue``;
- then it prints ``PUSHED``; a sync that refused an operation prints ``FAILED <reason>``.

At the end: ``STATS <sync attempts or pushes> <conflicts needing a person>``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def value_for(token: str) -> str:
    """The SecretString written under ``token`` (it does not contain the token)."""
    return "pw-" + hashlib.sha256(token.encode()).hexdigest()[:24]


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _git(repo: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True, check=False)


def _write(store: Any, kind: str, k: int, token: str, mine: list[str], secret: str) -> str:
    """Make one write of ``kind``; the VersionId it wrote or moved a label to."""
    if kind == "update":
        store.update_secret(secret, secret_string=value_for(token), client_request_token=token)
    elif kind == "put":
        store.put_secret_value(secret, secret_string=value_for(token), client_request_token=token)
    elif kind == "put-stage":
        store.put_secret_value(secret, secret_string=value_for(token),
                               client_request_token=token, version_stages=[f"P{k}"])  # fmt: skip
    else:
        token = mine[-1]
        versions = store.describe_secret(secret).versions
        holder = next((v for v, info in versions.items() if f"L{k}" in info.stages), None)
        store.update_secret_version_stage(secret, f"L{k}", move_to_version_id=token,
                                          remove_from_version_id=holder)  # fmt: skip
    return token


def _pull_rebase(repo: str) -> int:
    """``git pull --rebase``; each stop on a conflict resolved by keeping upstream's side of every
    conflicted file. Returns how many stops needed that."""
    stops = 0
    if _git(repo, "pull", "-q", "--rebase", "origin", "main").returncode == 0:
        return stops
    gitdir = Path(repo, _git(repo, "rev-parse", "--git-dir").stdout.strip())
    while (gitdir / "rebase-merge").exists() or (gitdir / "rebase-apply").exists():
        unmerged = _git(repo, "diff", "--name-only", "--diff-filter=U").stdout.split()
        if unmerged:
            stops += 1
            _git(repo, "checkout", "--ours", "--", *unmerged)
            _git(repo, "add", "--", *unmerged)
        go_on = ["-c", "core.editor=true", "rebase", "--continue"]
        if _git(repo, *go_on).returncode != 0 and not unmerged:
            _git(repo, "rebase", "--skip")  # the resolution left nothing of this commit
    return stops


def main(mode: str, repo: str, k: int, count: int, secret: str) -> None:
    from gitsm.errors import GitsmError, RemoteError, SyncConflict
    from gitsm.store import SecretStore

    store = SecretStore.open(repo)
    if mode == "pull":
        store.install_merge_driver()
    elif mode == "rebase":
        _git(repo, "config", "--unset-all", "merge.gitsm.driver")
    _say("ready")
    sys.stdin.readline()
    mine: list[str] = []
    attempts = conflicts = 0
    for i in range(count):
        kind = ("update", "put", "put-stage", "label")[(i + k) % 4]
        if kind == "label" and not mine:
            kind = "put"
        token = f"c{k}-{i:03d}-{uuid.uuid4().hex}"
        try:
            token = _write(store, kind, k, token, mine, secret)
        except GitsmError as exc:  # after a lossy merge: the version it names is gone
            _say(f"REFUSED {kind} {exc.code}")
            continue
        if kind != "label":
            mine.append(token)
        _say(f"ACK {kind} {token}")
        while True:
            attempts += 1
            if mode == "sync":
                try:
                    store.sync()
                except RemoteError:
                    continue  # others kept winning the push: nothing lost, go again
                except SyncConflict as exc:
                    _say("FAILED " + exc.message.replace("\n", " | "))
                break
            if _git(repo, "push", "-q", "origin", "main").returncode == 0:
                break
            if mode == "rebase":
                conflicts += _pull_rebase(repo)
                continue
            pulled = _git(repo, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main")
            if pulled.returncode != 0:
                conflicts += 1
                _git(repo, "merge", "--abort")
                if conflicts > 20:
                    _say("FAILED pull keeps conflicting: " + pulled.stderr.replace("\n", " | "))
                    break
        _say("PUSHED")
    _say(f"STATS {attempts} {conflicts}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
