"""Durability: with fsync on (the default) a write flushes its objects and the branch ref."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gitsm

WRITE = """
import sys, gitsm
gitsm.client(repo=sys.argv[1]).update_secret(SecretId="db", SecretString="rotated-value")
"""

pytestmark = pytest.mark.skipif(
    shutil.which("strace") is None, reason="needs strace (.ci/run installs it)"
)


def _trace(repo: Path, tmp_path: Path, fsync: str) -> list[str]:
    log = tmp_path / f"strace-{fsync}.log"
    env = {**os.environ, "GITSM_FSYNC": fsync}
    subprocess.run(
        ["strace", "-f", "-qq", "-o", str(log), "-e", "trace=openat,fsync,fdatasync,rename,renameat,renameat2",
         sys.executable, "-c", WRITE, str(repo)],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    return log.read_text().splitlines()


def _ref_fsynced_before_rename(lines: list[str]) -> tuple[bool, int]:
    """(an fsync hit the fd of refs/heads/main.lock before its rename, number of fsyncs)."""
    lock_fds: set[tuple[str, str]] = set()
    synced = False
    fsyncs = 0
    for line in lines:
        pid = line.split()[0]
        if m := re.search(r'openat\(.*refs/heads/main\.lock", [^)]*\)\s+=\s+(\d+)', line):
            lock_fds.add((pid, m[1]))
        elif m := re.search(r"f(?:data)?sync\((\d+)\)\s+=\s+0", line):
            fsyncs += 1
            synced = synced or (pid, m[1]) in lock_fds
        elif re.search(r'rename\w*\(.*refs/heads/main\.lock", .*refs/heads/main"', line):
            return synced, fsyncs
    raise AssertionError("the trace shows no rename of refs/heads/main.lock")


def test_branch_ref_is_fsynced_by_default_and_not_when_opted_out(tmp_path: Path) -> None:
    repo = tmp_path / "store.git"
    gitsm.init(repo, bare=True, fsync=False)
    gitsm.client(repo=repo).create_secret(Name="db", SecretString="first-value")
    synced, fsyncs = _ref_fsynced_before_rename(_trace(repo, tmp_path, "1"))
    assert synced, "the branch ref was renamed into place without an fsync"
    assert fsyncs >= 3, f"objects were not fsynced either ({fsyncs} fsyncs)"
    synced, fsyncs = _ref_fsynced_before_rename(_trace(repo, tmp_path, "0"))
    assert not synced and fsyncs == 0, "GITSM_FSYNC=0 must turn every fsync off"
    assert (
        gitsm.client(repo=repo).get_secret_value(SecretId="db")["SecretString"] == "rotated-value"
    )
