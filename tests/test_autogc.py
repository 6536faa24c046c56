"""git's automatic gc after a write (gitrepo/autogc.py): started when git would start it, and not
again while one runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pygit2
import pytest

import gitsm
from gitsm.gitrepo import autogc
from tests.conftest import git


def hold(gitdir: Path, pid: int, host: str | None = None, age: float = 0.0) -> None:
    """Write git's gc lock as ``git gc`` writes it, ``age`` seconds old."""
    lock = gitdir / "gc.pid"
    lock.write_text(f"{pid} {host or os.uname().nodename}")
    then = time.time() - age
    os.utime(lock, (then, then))


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_running_judges_the_gc_lock_as_git_does(bare_path: Path) -> None:
    assert not autogc.running(bare_path)  # no lock
    hold(bare_path, os.getpid())
    assert autogc.running(bare_path)  # a live process of this host
    hold(bare_path, dead_pid())
    assert not autogc.running(bare_path)  # a gc that died
    hold(bare_path, dead_pid(), host="another-host.example")
    assert autogc.running(bare_path)  # another host's: its processes cannot be asked
    hold(bare_path, os.getpid(), host="another-host.example", age=13 * 3600)
    assert not autogc.running(bare_path)  # older than 12 hours: stale, whoever wrote it
    (bare_path / "gc.pid").write_text("not a lock")
    assert not autogc.running(bare_path)


def test_due_counts_objects_17_against_gc_auto(bare_path: Path) -> None:
    bucket = bare_path / "objects" / "17"
    fill_objects_17(bare_path, 3)
    assert autogc.due(bare_path, 1)  # 3 > (1 + 255) // 256
    assert not autogc.due(bare_path, 6700)  # 3 <= 27
    assert not autogc.due(bare_path, 0)  # gc.auto 0: never
    shutil.rmtree(bucket)
    assert not autogc.due(bare_path, 1)


def fill_objects_17(gitdir: Path, count: int) -> None:
    """Write loose blobs until ``objects/17`` holds ``count`` of them."""
    repo, bucket, n = pygit2.Repository(str(gitdir)), gitdir / "objects" / "17", 0
    while not (bucket.is_dir() and len(os.listdir(bucket)) >= count):
        repo.create_blob(f"filler {n}".encode())
        n += 1


def test_a_write_starts_no_gc_while_one_runs(
    bare_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each write over the limit used to start a ``git gc --auto`` that found the lock held."""
    real = shutil.which("git")
    assert real is not None
    log, bin_dir = tmp_path / "gc-starts", tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "git"
    # a gc is logged, and takes its lock only a second later (git first counts the objects)
    wrapper.write_text(
        f'#!/bin/sh\ncase " $* " in *" gc "*) echo "$*" >> {log}; sleep 1 ;; esac\n'
        f'exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    git(bare_path, "config", "gc.auto", "1")  # over the limit with 2 objects in objects/17
    client = gitsm.client(repo=bare_path)
    client.create_secret(Name="app/db", SecretString="v0")
    fill_objects_17(bare_path, 2)
    hold(bare_path, os.getpid())  # a gc runs
    for n in range(1, 6):
        client.put_secret_value(SecretId="app/db", SecretString=f"v{n}")
    assert not log.exists(), log.read_text()
    (bare_path / "gc.pid").unlink()  # it ended, the objects still loose
    fill_objects_17(bare_path, 2)
    for n in range(6, 9):  # the first write starts one; the next ones wait for it to settle
        client.put_secret_value(SecretId="app/db", SecretString=f"v{n}")
    deadline = time.monotonic() + 10
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert log.read_text().count(" gc ") == 1, log.read_text()
