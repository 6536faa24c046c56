"""Four clones race on one store through ``git daemon``: nothing is lost, with sync or plain git.

Each clone is its own process (bench/race_worker.py) that writes and publishes, write after write, while
the others do the same. Afterwards the origin must hold every acknowledged write, the labels each
clone moved where it last put them, and a history whose every commit verifies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gitsm
from bench.race_worker import value_for
from gitsm.commitop import read_commit_op
from gitsm.model import AWSCURRENT, AWSPREVIOUS
from gitsm.rangecheck import verify_range
from gitsm.store import SecretStore
from gitsm.verify import run_verify
from tests.gitremote import Daemon, clone, fsck, objects_contain, run_git

SYNCER = Path(__file__).resolve().parent.parent / "bench" / "race_worker.py"
CLONES = 4
WRITES = int(os.environ.get("GITSM_RACE_WRITES", "25"))
"""Writes per clone (the issue's race: 4 x 25)."""


def _origin(tmp_path: Path, daemon: Daemon, secrets: list[str]) -> tuple[str, Path]:
    url = daemon.new_origin(f"{tmp_path.name}.git")
    seed = tmp_path / "seed"
    store = gitsm.init(seed)
    for name in secrets:
        store.create_secret(name, secret_string="seed value " + name)
    run_git(seed, "remote", "add", "origin", url)
    store.sync()
    return url, daemon.base / f"{tmp_path.name}.git"


def _race(
    tmp_path: Path, url: str, mode: str, secrets: list[str], writes: int = WRITES
) -> tuple[list[Path], list[list[str]]]:
    paths = [clone(url, tmp_path / f"clone{k}") for k in range(CLONES)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(SYNCER),
                mode,
                str(path),
                str(k),
                str(writes),
                secrets[k % len(secrets)],
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k, path in enumerate(paths)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready", (
                proc.stderr.read() if proc.stderr else ""
            )
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = []
        for proc in procs:
            out, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err
            outputs.append(out.splitlines())
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    return paths, outputs


def _check(
    origin: Path,
    paths: list[Path],
    outputs: list[list[str]],
    secrets: list[str],
    writes: int = WRITES,
) -> SecretStore:
    """Every acknowledged write is in the origin; labels where their clone put them; every commit
    verifies; no plaintext in any object of any repository."""
    for out in outputs:
        assert not [line for line in out if line.startswith(("FAILED", "REFUSED"))], out
        assert sum(line == "PUSHED" for line in out) == writes
    store = SecretStore.open(origin)
    values: list[bytes] = []
    for k, out in enumerate(outputs):
        secret = secrets[k % len(secrets)]
        described = store.describe_secret(secret)
        acks = [line.split()[1:] for line in out if line.startswith("ACK ")]
        assert len(acks) == writes
        written = [tok for kind, tok in acks if kind != "label"]
        for token in written:  # every version present, with its value
            assert token in described.versions, f"lost write {token}"
            got = store.get_secret_value(secret, version_id=token).secret_string
            assert got == value_for(token)
            values.append(value_for(token).encode())
        staged = [tok for kind, tok in acks if kind == "put-stage"]
        moved = [tok for kind, tok in acks if kind == "label"]
        holders = {label: vid for vid, v in described.versions.items() for label in v.stages}
        assert holders.get(f"P{k}") == (staged[-1] if staged else None)
        assert holders.get(f"L{k}") == (moved[-1] if moved else None)
    history = run_git(origin, "rev-list", "main").stdout.split()
    for commit in history:
        assert run_verify(origin, rev=commit) == [], commit
    # every replayed commit and every merge by the driver is a well-formed operation
    assert verify_range(origin, "..main") == []
    fsck(origin)
    for path in [origin, *paths]:
        assert objects_contain(path, values) == [], f"plaintext in an object of {path}"
        if path != origin:
            fsck(path)
    return store


def _current_writes(store: SecretStore) -> list[tuple[str, str]]:
    """(secret, VersionId) of every write that asked for AWSCURRENT, newest first."""
    out = []
    for commit in store.repo.commits_between(None, store.repo.tip().commit_id or ""):
        op = read_commit_op(store.repo, commit)
        stages = json.loads(op.trailers.get("Version-Stages", '["AWSCURRENT"]'))
        if op.operation in ("UpdateSecret", "PutSecretValue") and stages == [AWSCURRENT]:
            out.append((op.trailers["Secret"], op.trailers["Version-Id"]))
    return out[::-1]


def test_sync_race_on_one_secret(tmp_path: Path, git_daemon: Daemon) -> None:
    url, origin = _origin(tmp_path, git_daemon, ["shared"])
    paths, outputs = _race(tmp_path, url, "sync", ["shared"])
    store = _check(origin, paths, outputs, ["shared"])
    parents = run_git(origin, "log", "--format=%p", "main").stdout.splitlines()
    assert all(len(p.split()) <= 1 for p in parents), "sync made a merge commit"
    newest = _current_writes(store)
    stages = store.describe_secret("shared").versions
    assert stages[newest[0][1]].stages[:1] == [AWSCURRENT]  # the write pushed last
    assert AWSPREVIOUS in stages[newest[1][1]].stages
    assert int(run_git(origin, "rev-list", "--count", "main").stdout) == 2 + CLONES * WRITES


def test_sync_race_on_separate_secrets(tmp_path: Path, git_daemon: Daemon) -> None:
    secrets = [f"team/s{k}" for k in range(CLONES)]
    url, origin = _origin(tmp_path, git_daemon, secrets)
    paths, outputs = _race(tmp_path, url, "sync", secrets, writes=10)  # disjoint: no races
    _check(origin, paths, outputs, secrets, writes=10)
    parents = run_git(origin, "log", "--format=%p", "main").stdout.splitlines()
    assert all(len(p.split()) <= 1 for p in parents), "sync made a merge commit"


def test_plain_git_pull_race_with_the_merge_driver(tmp_path: Path, git_daemon: Daemon) -> None:
    url, origin = _origin(tmp_path, git_daemon, ["shared"])
    paths, outputs = _race(tmp_path, url, "pull", ["shared"])
    _check(origin, paths, outputs, ["shared"])
    conflicts = [int(out[-1].split()[2]) for out in outputs]
    assert conflicts == [0] * CLONES, "the merge driver left conflicts for a person"
    merges = [p for p in run_git(origin, "log", "--format=%p", "main").stdout.splitlines()
              if len(p.split()) > 1]  # fmt: skip
    assert merges, "the race made no merge at all: it did not test the driver"
