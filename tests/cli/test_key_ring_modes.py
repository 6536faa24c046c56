"""The local key ring's permissions, whatever the umask: ``gitsm keys create-key`` (the installed
entry point, started under ``umask 000`` or ``umask 077``) makes ``GITSM_HOME``, its missing
parents and ``keys/`` 0700 and the key file 0600; existing directories keep their mode, with a
warning when other users could reach the keys through them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import GITSM_BIN


def create_key(home: Path, umask: int) -> subprocess.CompletedProcess[str]:
    """``gitsm keys create-key`` with GITSM_HOME=home, started under ``umask``."""
    env = {**os.environ, "GITSM_HOME": str(home)}
    return subprocess.run(
        ["sh", "-c", f'umask {umask:03o} && exec "$0" keys create-key', str(GITSM_BIN)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_new_key_ring_is_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    home = tmp_path / "missing-parent" / "home"
    done = create_key(home, umask)
    key_id = json.loads(done.stdout)["KeyId"]
    for directory in (tmp_path / "missing-parent", home, home / "keys"):
        assert mode(directory) == 0o700, directory
    assert mode(home / "keys" / f"{key_id}.key") == 0o600
    assert "warning" not in done.stderr
    second = create_key(home, umask)  # an existing private key ring: no warning either
    assert "warning" not in second.stderr and len(list((home / "keys").iterdir())) == 2


def test_existing_directories_keep_their_mode_and_are_warned_about(tmp_path: Path) -> None:
    home = tmp_path / "shared-home"
    (home / "keys").mkdir(parents=True)
    home.chmod(0o777)
    (home / "keys").chmod(0o755)
    done = create_key(home, 0o000)
    assert mode(home) == 0o777 and mode(home / "keys") == 0o755  # not gitsm's to change
    key_id = json.loads(done.stdout)["KeyId"]
    assert mode(home / "keys" / f"{key_id}.key") == 0o600
    assert f"{home} (GITSM_HOME) is writable by other users (mode 0777)" in done.stderr
    assert f"run 'chmod 700 {home}'" in done.stderr
    assert f"the key ring {home / 'keys'} is open to other users (mode 0755)" in done.stderr
    key = (home / "keys" / f"{key_id}.key").read_text().strip()
    assert key not in done.stderr


def test_a_readable_or_sticky_home_is_no_concern(tmp_path: Path) -> None:
    """Only keys/ holds keys: a GITSM_HOME others can list, or a sticky one like /tmp (where
    nobody else can rename keys/), is fine; keys/ is still created 0700."""
    for name, home_mode in (("readable", 0o755), ("sticky", 0o1777)):
        home = tmp_path / name
        home.mkdir()
        home.chmod(home_mode)
        done = create_key(home, 0o022)
        assert "warning" not in done.stderr, done.stderr
        assert mode(home) == home_mode and mode(home / "keys") == 0o700
