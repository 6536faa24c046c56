"""The server's access-key file: private whatever the umask, written atomically, refused when
others can read it, never listing secrets, and picked up by a running server when another
process changes it."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gitsm.errors import ValidationException
from gitsm.serve.accesskeys import (
    FILE_NAME,
    AccessKey,
    AccessKeyFileError,
    AccessKeyInfo,
    AccessKeys,
    NoSuchEntityException,
    access_keys_path,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_the_file_is_0600_in_a_0700_home_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    home = tmp_path / "a" / "home"
    old = os.umask(umask)
    try:
        keys = AccessKeys(env={"GITSM_HOME": str(home), "GITSM_FSYNC": "0"})
        key = keys.create("alice")
    finally:
        os.umask(old)
    assert keys.path == home / FILE_NAME == access_keys_path({"GITSM_HOME": str(home)})
    assert mode(keys.path) == 0o600
    assert mode(home) == mode(home.parent) == 0o700
    assert key.access_key_id.startswith("AKIA") and len(key.access_key_id) == 20
    assert key.access_key_id[4:].isupper() and set(key.access_key_id[4:]) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    )
    assert len(key.secret_access_key) == 40
    assert keys.lookup(key.access_key_id) == key


def test_writes_replace_the_file_whole_and_leave_no_temporary_file(tmp_path: Path) -> None:
    keys = AccessKeys(tmp_path / "keys.json", env={"GITSM_FSYNC": "1"})
    first = keys.create("alice")
    inode = keys.path.stat().st_ino
    with keys.path.open() as reader:  # a reader of the old file keeps a whole, older file
        second = keys.create("bob")
        assert [r["AccessKeyId"] for r in json.load(reader)["AccessKeys"]] == [first.access_key_id]
    assert keys.path.stat().st_ino != inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.json", "keys.json.lock"]
    assert [k.access_key_id for k in keys.list()] == [first.access_key_id, second.access_key_id]


def test_a_file_other_users_can_read_is_refused_until_fixed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys = AccessKeys(tmp_path / "keys.json")
    key = keys.create("alice")
    assert keys.lookup(key.access_key_id) == key
    keys.path.chmod(0o640)
    with pytest.raises(AccessKeyFileError) as info:
        keys.list()
    assert info.value.exit_code == 253
    assert "is open to other users (mode 0640)" in info.value.message
    assert f"Run 'chmod 600 {keys.path}'" in info.value.message
    assert key.secret_access_key not in info.value.message
    with caplog.at_level(logging.WARNING, logger="gitsm.serve"):
        assert keys.lookup(key.access_key_id) is None  # the running server fails closed
    assert "chmod 600" in caplog.text and key.secret_access_key not in caplog.text
    with pytest.raises(AccessKeyFileError):
        keys.create("bob")  # nothing written next to a file that is not private
    keys.path.chmod(0o600)
    assert keys.lookup(key.access_key_id) == key


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_file_of_another_user_is_refused(tmp_path: Path) -> None:
    keys = AccessKeys(tmp_path / "keys.json")
    keys.create("alice")
    os.chown(keys.path, 12345, -1)
    with pytest.raises(AccessKeyFileError, match="belongs to another user"):
        keys.list()


def test_list_never_shows_secrets_and_delete_removes_one_key(tmp_path: Path) -> None:
    keys = AccessKeys(tmp_path / "keys.json")
    alice, bob = keys.create("alice"), keys.create("bob")
    listed = keys.list()
    assert all(isinstance(k, AccessKeyInfo) for k in listed)
    assert [k.principal for k in listed] == ["alice", "bob"]
    shown = repr(listed) + repr(alice) + str(bob)
    assert alice.secret_access_key not in shown and bob.secret_access_key not in shown
    assert keys.list(principal="bob") == (bob.info(),)
    keys.delete(alice.access_key_id)
    assert keys.lookup(alice.access_key_id) is None and keys.lookup(bob.access_key_id) == bob
    with pytest.raises(NoSuchEntityException) as info:
        keys.delete(alice.access_key_id)
    assert info.value.code == "NoSuchEntity"
    assert info.value.message == f"The Access Key with id {alice.access_key_id} cannot be found."


@pytest.mark.parametrize("name", ["", "a b", "x" * 65, "ü", "a/b", "a\nb"])
def test_principal_names_are_checked(tmp_path: Path, name: str) -> None:
    keys = AccessKeys(tmp_path / "keys.json")
    with pytest.raises(ValidationException, match="regular expression pattern"):
        keys.create(name)
    assert not keys.path.exists()
    assert keys.create("ci+deploy=prod,eu.1@team_x-y").principal == "ci+deploy=prod,eu.1@team_x-y"


def test_a_malformed_file_is_refused_without_quoting_it(tmp_path: Path) -> None:
    keys = AccessKeys(tmp_path / "keys.json")
    key = keys.create("alice")
    text = keys.path.read_text()
    damaged = [
        text[: len(text) // 2],
        text.replace('"Version": 1', '"Version": 7'),
        text.replace(key.secret_access_key, key.secret_access_key[:-1]),
        text.replace('"alice"', '"a b"'),
        json.dumps({"Version": 1, "AccessKeys": {}}),
    ]
    for body in damaged:
        keys.path.write_text(body)
        with pytest.raises(AccessKeyFileError) as info:
            keys.list()
        assert key.secret_access_key[:20] not in info.value.message
        assert "Restore it from your backup" in info.value.message


def test_a_running_server_sees_keys_another_process_adds(tmp_path: Path) -> None:
    keys = AccessKeys(tmp_path / "keys.json")
    first = keys.create("alice")
    assert keys.lookup(first.access_key_id) == first
    script = (
        "import sys; from pathlib import Path; from gitsm.serve.accesskeys import AccessKeys\n"
        "print(AccessKeys(Path(sys.argv[1])).create('bob').access_key_id)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(keys.path)], capture_output=True, text=True, check=True
    )
    added = keys.lookup(done.stdout.strip())
    assert added is not None and added.principal == "bob"
    assert keys.lookup(first.access_key_id) == first


def test_concurrent_creates_lose_no_key(tmp_path: Path) -> None:
    keys = AccessKeys(tmp_path / "keys.json")
    made: list[AccessKey] = []

    def create() -> None:
        made.append(AccessKeys(keys.path).create("ci"))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(k.access_key_id for k in keys.list()) == sorted(k.access_key_id for k in made)
    assert len(made) == 8
