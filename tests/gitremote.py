"""A real ``git daemon`` on 127.0.0.1 for sync tests, and helpers to make and read clones.

The daemon serves every bare repository under its base directory with pushes enabled
(``--enable=receive-pack``), so clones fetch and push through git's own network protocol.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Daemon:
    """A running ``git daemon``: where its repositories live and how to reach them."""

    base: Path
    port: int

    def url(self, name: str) -> str:
        """The git:// URL of the repository ``name`` under the base directory."""
        return f"git://127.0.0.1:{self.port}/{name}"

    def new_origin(self, name: str) -> str:
        """Create an empty bare repository ``name`` (branch main) and return its URL."""
        run_git(self.base, "init", "-q", "--bare", "-b", "main", name)
        return self.url(name)


def run_git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the git CLI in ``cwd`` (the test's environment, without GIT_DIR redirects)."""
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE")}
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stdout}{proc.stderr}")
    return proc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_daemon(base: Path) -> Iterator[Daemon]:
    """Start ``git daemon`` serving ``base``; stop it when the generator is closed."""
    if shutil.which("git") is None:
        pytest.skip(
            "SKIPPED LOUDLY: the git CLI is not installed; sync needs it (.ci/run installs it)"
        )
    for _ in range(5):
        port = _free_port()
        proc = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", f"--base-path={base}", "--export-all",
             "--enable=receive-pack", "--listen=127.0.0.1", f"--port={port}",
             "--informative-errors", str(base)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None and not _listening(port):
            time.sleep(0.05)
        if proc.poll() is None and _listening(port):
            try:
                yield Daemon(base, port)
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            return
        proc.kill()
        proc.wait()
    raise RuntimeError("git daemon did not start on 127.0.0.1 (is git-daemon installed?)")


def clone(url: str, path: Path) -> Path:
    """``git clone url path`` (a checkout of main)."""
    run_git(path.parent, "clone", "-q", url, str(path))
    return path


def fsck(path: Path) -> None:
    """``git fsck --strict`` must be clean."""
    out = run_git(path, "fsck", "--strict", "--no-progress", check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def objects_contain(path: Path, needles: list[bytes]) -> list[bytes]:
    """The ``needles`` found in any object of the repository at ``path`` (loose or packed)."""
    gitdir = run_git(path, "rev-parse", "--git-dir").stdout.strip()
    data = subprocess.run(
        ["git", "--git-dir", str(path / gitdir) if not Path(gitdir).is_absolute() else gitdir,
         "cat-file", "--batch-all-objects", "--batch", "--unordered"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return [n for n in needles if n in data]
