"""The start of the index hashed, and the spare filled, beside the commit (gitrepo/prehash.py): the
index a write leaves is byte for byte the one hashed and written whole, whether what was foreseen
is taken or refused, and git and libgit2 read it back (``git fsck`` checks its trailer).

Indexes of a few entries are below prehash.MIN_BYTES: the tests lower it to 0."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pygit2
import pytest

import gitsm
from gitsm.gitrepo import indexfile, keptindex, prehash, spareindex
from gitsm.gitrepo.repo import GitRepo
from tests.conftest import git
from tests.test_indexfile import fsck_index, staged, status
from tests.test_spareindex import needs_leases


def outcomes_of(monkeypatch: pytest.MonkeyPatch, name: str) -> list[bool]:
    """Whether each call of ``Prehash.<name>`` found what was foreseen (returned something)."""
    outcomes: list[bool] = []
    real = getattr(prehash.Prehash, name)

    def recorded(self: prehash.Prehash, *args: object) -> object:
        found = real(self, *args)
        outcomes.append(found is not None)
        return found

    monkeypatch.setattr(prehash.Prehash, name, recorded)
    return outcomes


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every index a write patches is foreseen; whether each foreseen state was taken."""
    monkeypatch.setattr(prehash, "MIN_BYTES", 0)
    monkeypatch.setattr(prehash, "REST_MIN_BYTES", 0)  # and the rest hashed in a thread
    return outcomes_of(monkeypatch, "take")


@pytest.fixture
def filled(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each write found the spare filled ahead for it."""
    return outcomes_of(monkeypatch, "filled")


def test_writes_leave_the_index_git_reads(
    repo_path: Path, taken: list[bool], filled: list[bool]
) -> None:
    needs_leases(repo_path)
    client = gitsm.client(repo=repo_path)
    for i in range(8):
        client.create_secret(Name=f"app/s{i}", SecretString=f"v{i}")
    client.put_secret_value(SecretId="app/s0", SecretString="first entries")
    client.put_secret_value(SecretId="app/s7", SecretString="last entries")
    client.update_secret(SecretId="app/s3", Description="the manifest alone")
    client.delete_secret(SecretId="app/s5", ForceDeleteWithoutRecovery=True)
    assert taken.count(True) >= 10, taken  # each write after the first found its state
    assert filled.count(True) >= 9, filled  # and, once there was a spare, the spare filled
    assert str(repo_path / ".git" / "index") in keptindex._KEPT  # the fill let go of its views
    data = (repo_path / ".git" / "index").read_bytes()
    assert hashlib.sha1(data[:-20]).digest() == data[-20:]
    tree = {line.split("\t")[1]: line.split()[2]
            for line in git(repo_path, "ls-tree", "-r", "HEAD").splitlines()}  # fmt: skip
    in_index = {line.split("\t")[1]: line.split()[1] for line in staged(repo_path)}
    assert in_index == {p: oid for p, oid in tree.items() if p.startswith("secrets/")}
    assert status(repo_path) == ""
    fsck_index(repo_path)


def entry(workdir: Path, path: str, text: str) -> indexfile.NewEntry:
    file = workdir / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    return indexfile.NewEntry(path, 0o100644, str(pygit2.hashfile(str(file))), os.lstat(file))


def whole(patched: indexfile.Patched) -> bytes:
    return b"".join(bytes(part) for part in patched.parts)


@pytest.mark.parametrize("foreseen", ["right", "count", "first"])
def test_taken_or_refused_the_index_is_the_same(
    repo_path: Path, taken: list[bool], foreseen: str
) -> None:
    """The state is taken when the write is the one foreseen, refused when the entry count or
    the first change differ; the bytes are those of the index hashed whole every time."""
    client = gitsm.client(repo=repo_path)
    for i in range(6):
        client.create_secret(Name=f"app/s{i}", SecretString=f"v{i}")
    taken.clear()
    image = indexfile.load(repo_path / ".git")
    assert image.suspects is not None  # gitsm's own index: no entry to walk for racy ones
    removed = "secrets/app/s4/~secret.yaml"
    assert image.stages(removed)
    changes = {
        "secrets/app/s2/~secret.yaml": entry(repo_path, "secrets/app/s2/~secret.yaml", "new\n"),
        "secrets/app/s3/added.json": entry(repo_path, "secrets/app/s3/added.json", "{}\n"),
        removed: None,
    }
    present = {path: new is not None for path, new in changes.items()}
    if foreseen == "count":
        present[removed] = True  # foreseen kept: one entry more than the write leaves
    elif foreseen == "first":
        present["secrets/app/s0/~secret.yaml"] = True  # foreseen earlier than the write starts
    expected = whole(image.patched(changes, repo_path))
    assert taken == []
    got = whole(image.patched(changes, repo_path, image.prehash(present)))
    assert taken == [foreseen == "right"]
    assert got == expected
    assert hashlib.sha1(got[:-20]).digest() == got[-20:]


def test_a_smudge_before_the_first_change_refuses_the_state() -> None:
    data = b"x" * 100
    body = memoryview(data)
    foreseen = prehash.start(b"DIRC\0\0\0\2\0\0\0\5", 3, body)
    assert foreseen.take(data, b"DIRC\0\0\0\2\0\0\0\5", 3, {4, 9}) is not None  # after it
    again = prehash.start(b"DIRC\0\0\0\2\0\0\0\5", 3, body)
    assert again.take(data, b"DIRC\0\0\0\2\0\0\0\5", 3, {2}) is None
    assert again.take(data, b"DIRC\0\0\0\2\0\0\0\6", 3, set()) is None
    assert again.take(b"y" * 100, b"DIRC\0\0\0\2\0\0\0\5", 3, set()) is None  # other bytes
    digest = prehash.start(b"head", 0, body).take(data, b"head", 0, set())
    assert digest is not None and digest.digest() == hashlib.sha1(b"head" + bytes(body)).digest()
    failed = prehash.start(b"head", 0, memoryview(b"x"))
    with failed.done:  # its thread has finished
        failed.hashed.clear()  # as when the thread's hashing raised: never a partial state
    assert failed.take(failed.source, b"head", 0, set()) is None


def test_small_or_foreign_indexes_are_hashed_whole(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gitsm.client(repo=repo_path).create_secret(Name="a", SecretString="x")
    present = {"secrets/a/~secret.yaml": True}
    assert indexfile.load(repo_path / ".git").prehash(present) is None  # below MIN_BYTES
    monkeypatch.setattr(prehash, "MIN_BYTES", 0)
    assert indexfile.load(repo_path / ".git").prehash(present) is not None
    git(repo_path, "read-tree", "HEAD")  # git's own index: every entry must be looked at
    image = indexfile.load(repo_path / ".git")
    assert image.suspects is None and image.prehash(present) is None


def garbage_spare(gitdir: Path) -> int:
    """Overwrite the spare with bytes no index has (so only what a write puts there is read
    back); its mode."""
    spare = gitdir / spareindex.SPARE_NAME
    spare.write_bytes(b"\xee" * (spare.stat().st_size + 100))
    return os.stat(gitdir / "index").st_mode & 0o777


@pytest.mark.parametrize("foreseen", ["right", "count", "first"])
def test_the_spare_filled_ahead_holds_the_index_written_whole(
    repo_path: Path, taken: list[bool], foreseen: str
) -> None:
    """Filled ahead as foreseen, the spare gets only the new entries and the trailer afterwards;
    foreseen otherwise, it is written whole. Either way the index is the one written whole."""
    needs_leases(repo_path)
    client = gitsm.client(repo=repo_path)
    for i in range(6):
        client.create_secret(Name=f"app/s{i}", SecretString=f"v{i}")
    gitdir = repo_path / ".git"
    image = indexfile.load(gitdir)
    changes = {
        "secrets/app/s2/~secret.yaml": entry(repo_path, "secrets/app/s2/~secret.yaml", "new\n"),
        "secrets/app/s3/added.json": entry(repo_path, "secrets/app/s3/added.json", "{}\n"),
        "secrets/app/s4/~secret.yaml": None,
    }
    present = {path: new is not None for path, new in changes.items()}
    if foreseen == "count":
        present["secrets/app/s4/~secret.yaml"] = True
    elif foreseen == "first":
        present["secrets/app/s0/~secret.yaml"] = True
    expected = whole(image.patched(changes, repo_path))
    mode = garbage_spare(gitdir)
    ahead = image.prehash(present, spareindex.Early(gitdir, mode))
    assert ahead is not None
    new = image.patched(changes, repo_path, ahead)
    assert (new.spare is not None) == (foreseen == "right")
    if new.spare is not None:  # the old bytes are not written again
        assert len(new.early) >= 3 and not any(isinstance(new.parts[n], bytes) for n in
                                               new.early - {0})  # fmt: skip
    ahead.close()  # a spare not taken is given up; one taken is the write's
    assert spareindex.write(gitdir, new.parts, mode=mode, fsync=False, early=new.spare,
                            written=new.early)  # fmt: skip
    assert (gitdir / "index").read_bytes() == expected
    assert os.getpid() not in leases_held()


def leases_held() -> set[int]:
    """The processes holding a lease on a file (from /proc/locks)."""
    held = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "LEASE" in fields[1:3]:
            held.add(int(next(f for f in fields if f.isdigit() and f != fields[0].rstrip(":"))))
    return held


def test_a_write_failing_beside_the_fill_gives_the_spare_up(
    repo_path: Path, taken: list[bool], filled: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit fails while the thread fills the spare: the write waits for the thread, gives
    the lease up and closes the spare; the index is unchanged and the next write lands."""
    needs_leases(repo_path)
    client = gitsm.client(repo=repo_path)
    for i in range(4):
        client.create_secret(Name=f"app/s{i}", SecretString=f"v{i}")
    gitdir = repo_path / ".git"
    before, head = (gitdir / "index").read_bytes(), git(repo_path, "rev-parse", "HEAD")
    spare = (gitdir / spareindex.SPARE_NAME).resolve()
    started: list[prehash.Prehash] = []
    real_start = prehash.start

    def start(*args: object, **kwargs: object) -> prehash.Prehash:
        started.append(real_start(*args, **kwargs))  # type: ignore[arg-type]
        return started[-1]

    def fail(*args: object, **kwargs: object) -> str:
        with started[-1].done:  # the spare is filled and leased now
            pass
        assert os.getpid() in leases_held()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(prehash, "start", start)
    monkeypatch.setattr(GitRepo, "_new_commit", fail)
    with pytest.raises(Exception, match="space"):
        client.put_secret_value(SecretId="app/s1", SecretString="lost")
    assert started and started[-1].spare is not None
    assert os.getpid() not in leases_held()
    fds = Path("/proc/self/fd")
    assert not [fd for fd in fds.iterdir() if fd.exists() and fd.resolve() == spare]
    assert (gitdir / "index").read_bytes() == before
    assert git(repo_path, "rev-parse", "HEAD") == head
    monkeypatch.undo()
    monkeypatch.setattr(prehash, "MIN_BYTES", 0)
    client.put_secret_value(SecretId="app/s1", SecretString="landed")
    assert status(repo_path) == ""
    fsck_index(repo_path)


@pytest.mark.parametrize("foreseen", [True, False])
def test_a_smudge_found_while_the_rest_is_hashed(
    repo_path: Path, taken: list[bool], foreseen: bool
) -> None:
    """The rest of the index is hashed in a thread while the write looks at racily clean
    entries; when the look smudges one, that hash is dropped and the index hashed again."""
    client = gitsm.client(repo=repo_path)
    for i in range(6):
        client.create_secret(Name=f"app/s{i}", SecretString=f"v{i}")
    gitdir = repo_path / ".git"
    os.utime(gitdir / "index", (0, 0))  # every entry gitsm wrote is racily clean against it
    edited = "secrets/app/s4/~secret.yaml"  # after the first change: the thread hashed it
    (repo_path / edited).write_text("changed on disk\n")
    image = indexfile.load(gitdir)
    path = "secrets/app/s1/~secret.yaml"
    changes = {path: entry(repo_path, path, "new\n")}
    ahead = image.prehash({path: True}) if foreseen else None
    assert (ahead is not None) == foreseen
    got = whole(image.patched(changes, repo_path, ahead))
    assert hashlib.sha1(got[:-20]).digest() == got[-20:]
    at = got.index(os.fsencode(edited)) - 62  # the entry's size is 0: smudged
    assert got[at + 36 : at + 40] == bytes(4)
    assert got == whole(indexfile.load(gitdir).patched(changes, repo_path))


def test_no_thread_to_be_had_the_write_hashes_in_its_path(
    repo_path: Path, taken: list[bool], filled: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that can start no more threads still writes: the start, the fill and the rest
    run in the write's own path."""
    needs_leases(repo_path)
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="app/a", SecretString="1")

    def refuse(*args: object) -> int:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(prehash._thread, "start_new_thread", refuse)
    for i in range(3):
        client.create_secret(Name=f"app/s{i}", SecretString=f"v{i}")
    client.put_secret_value(SecretId="app/a", SecretString="2")
    assert taken.count(True) >= 3 and filled.count(True) >= 3
    assert status(repo_path) == ""
    fsck_index(repo_path)
