"""Writing plaintext: permissions, all-or-nothing when a failure is injected half-way, no write
through a symbolic link swapped in after the checks, and the refusal to write inside a git work
tree unless git ignores the target."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest

import gitsm
from gitsm.materialize import MaterializeError, Spec, materialize, parse_flag
from gitsm.materialize import pipeline as pipeline_mod
from gitsm.materialize import writing as writing_mod
from gitsm.materialize.worktree import check_targets
from gitsm.materialize.writing import append_file, write_files
from gitsm.store import SecretStore
from tests.conftest import git

COUNT = 60


def leftovers(root: Path) -> list[str]:
    """Temporary or backup files left anywhere under ``root``."""
    return [str(p) for p in root.rglob("*") if ".gitsm-" in p.name]


def test_modes_and_atomic_replace(tmp_path: Path) -> None:
    old = tmp_path / "keep" / "a"
    old.parent.mkdir()
    old.write_bytes(b"old")
    old.chmod(0o644)
    write_files(
        str(tmp_path), [(("keep", "a"), b"new", 0o600), (("x", "y", "z"), b"\0\1\2", 0o400)]
    )
    assert old.read_bytes() == b"new" and old.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keep").stat().st_mode & 0o777 == 0o755  # existing dirs are left alone
    for made in (tmp_path / "x", tmp_path / "x/y"):
        assert made.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "x/y/z").read_bytes() == b"\0\1\2"
    assert (tmp_path / "x/y/z").stat().st_mode & 0o777 == 0o400
    assert leftovers(tmp_path) == []


def test_failure_while_preparing_writes_nothing(tmp_path: Path) -> None:
    """Half-way through, a target whose directory cannot exist (a file is in the way)."""
    base = tmp_path / "out"
    existing = tmp_path / "existing"
    existing.write_bytes(b"untouched")
    (tmp_path / "blocker").write_bytes(b"a file, not a directory")
    files = [(("out", f"d{i % 7}", f"f{i}"), f"v{i}".encode(), 0o600) for i in range(COUNT)]
    files.insert(COUNT // 2, (("blocker", "sub", "f"), b"x", 0o600))
    files.insert(COUNT // 2 + 1, (("out", "d1"), b"x", 0o600))  # a directory in the way
    files.append((("existing",), b"overwritten?", 0o600))
    with pytest.raises(MaterializeError) as info:
        write_files(str(tmp_path), files)
    assert len(info.value.problems) == 2 and "nothing was written" in info.value.message
    assert "blocker/sub/f: cannot write: Not a directory" in info.value.message
    assert not base.exists()  # no partial directory left
    assert existing.read_bytes() == b"untouched" and leftovers(tmp_path) == []


def test_failure_while_renaming_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rename over f2 fails after f0 and f1 went into place: renamed targets are restored or
    removed, the new directory never appears, and no temporary or backup file is left."""
    base = tmp_path / "out"
    base.mkdir()
    for i in range(0, COUNT, 2):
        (base / f"f{i}").write_bytes(b"old")
    real_replace, calls = os.replace, []

    def failing(src: str, dst: str, **dir_fds: int) -> None:
        calls.append(dst)
        if calls.count("f2") == 1 and dst == "f2":  # once: the rollback's restore goes through
            raise OSError(28, "No space left on device", dst)
        real_replace(src, dst, **dir_fds)

    monkeypatch.setattr(writing_mod.os, "replace", failing)
    files = [(("new", f"f{i}"), b"new", 0o600) for i in range(3)]
    files += [((f"f{i}",), b"new", 0o600) for i in range(COUNT)]
    with pytest.raises(MaterializeError, match=r"out/f2: cannot move into place: No space left"):
        write_files(str(base), files)
    monkeypatch.undo()
    assert calls[:3] == ["f0", "f1", "f2"]  # the files of the new directory are not renamed
    assert sorted(p.name for p in base.iterdir()) == sorted(f"f{i}" for i in range(0, COUNT, 2))
    assert {p.read_bytes() for p in base.iterdir()} == {b"old"}
    assert leftovers(tmp_path) == []


def test_a_new_directory_appears_whole_at_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing directory is made under a temporary name, its files written in it under their
    own names, and it takes its name only once every file is written: before the commit, neither
    it nor any of its files can be seen under the names the run writes."""
    base = tmp_path / "out"
    seen: list[list[str]] = []
    real_commit = writing_mod._Txn.commit

    def looking(txn: writing_mod._Txn) -> None:
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        real_commit(txn)

    monkeypatch.setattr(writing_mod._Txn, "commit", looking)
    files = [(("d", f"f{i}"), f"v{i}".encode(), 0o600) for i in range(5)]
    files.append((("d", "e", "g"), b"deep", 0o640))
    write_files(str(base), files)
    assert len(seen) == 1 and len(seen[0]) == 1 and seen[0][0].startswith(".out.")
    assert seen[0][0].endswith(writing_mod.TMP_SUFFIX)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and leftovers(tmp_path) == []
    assert [(base / "d" / f"f{i}").read_bytes() for i in range(5)] == [
        f"v{i}".encode() for i in range(5)
    ]
    for made in (base, base / "d", base / "d" / "e"):
        assert made.stat().st_mode & 0o777 == 0o700
    assert (base / "d" / "f0").stat().st_mode & 0o777 == 0o600
    assert (base / "d" / "e" / "g").stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("appeared", ["an empty directory", "a file"])
def test_a_name_taken_while_writing_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, appeared: str
) -> None:
    """Another process makes the new directory's name between the prepare and the commit: the
    run fails, writes nothing, and leaves what the other process made as it was."""
    base = tmp_path / "out"
    (base / "old").mkdir(parents=True)
    (base / "old" / "kept").write_bytes(b"old")
    real_commit = writing_mod._Txn.commit

    def racing(txn: writing_mod._Txn) -> None:
        if appeared == "a file":
            (base / "new").write_bytes(b"theirs")
        else:
            (base / "new").mkdir()
        real_commit(txn)

    monkeypatch.setattr(writing_mod._Txn, "commit", racing)
    files = [(("old", "kept"), b"new", 0o600), (("new", "a"), b"v", 0o600)]
    with pytest.raises(MaterializeError, match=r"out/new: cannot move into place: it appeared"):
        write_files(str(base), files)
    assert (base / "old" / "kept").read_bytes() == b"old" and leftovers(tmp_path) == []
    if appeared == "a file":
        assert (base / "new").read_bytes() == b"theirs"
    else:
        assert list((base / "new").iterdir()) == []


def test_a_file_and_a_directory_of_one_name_in_a_new_directory(tmp_path: Path) -> None:
    """In a directory the run made, a file whose name a directory of the run already holds (or
    the other way round) is refused, and nothing is written."""
    for files in (
        [(("d", "x", "y"), b"1", 0o600), (("d", "x"), b"2", 0o600)],
        [(("d", "x"), b"2", 0o600), (("d", "x", "y"), b"1", 0o600)],
    ):
        with pytest.raises(MaterializeError, match=r"out/d/x"):
            write_files(str(tmp_path / "out"), files)
        assert list(tmp_path.iterdir()) == []


def test_append_file(tmp_path: Path) -> None:
    target = tmp_path / "env"
    append_file(str(target), b"A=1\n")
    append_file(str(target), b"B=2\n")
    assert target.read_bytes() == b"A=1\nB=2\n" and target.stat().st_mode & 0o777 == 0o600
    with pytest.raises(MaterializeError, match="cannot open for appending"):
        append_file(str(tmp_path / "no" / "dir"), b"x")
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(MaterializeError, match="link is a symbolic link"):
        append_file(str(tmp_path / "link"), b"C=3\n")
    assert target.read_bytes() == b"A=1\nB=2\n"


@pytest.fixture
def small_store(tmp_path: Path) -> SecretStore:
    store = gitsm.init(tmp_path / "store")
    store.create_secret("app/json", secret_string='{"a": "1", "b": "2"}')
    store.create_secret("app/plain", secret_string="plain-value")
    return store


def spec_of(*flags: str) -> Spec:
    spec = Spec()
    spec.extend([parse_flag(*flag.split(" ", 1)) for flag in flags])
    return spec


def test_missing_json_key_among_many_writes_nothing(
    small_store: SecretStore, tmp_path: Path
) -> None:
    flags = [f"--file d{i % 5}/f{i}=app/json#{'ab'[i % 2]}" for i in range(COUNT)]
    flags.insert(COUNT // 2, "--file late/missing=app/json#c")
    out = tmp_path / "out"
    with pytest.raises(MaterializeError, match='has no key "c"') as info:
        materialize(small_store, spec_of(*flags), "files", out=str(out))
    assert len(info.value.problems) == 1 and not out.exists()


def test_refused_inside_the_store_work_tree_until_ignored(small_store: SecretStore) -> None:
    top = small_store.repo.workdir
    assert top is not None
    spec = spec_of("--file .secrets/plain=app/plain", "--file .secrets/a=app/json#a")
    with pytest.raises(MaterializeError) as info:
        materialize(small_store, spec, "files", out=str(top))
    message = info.value.message
    assert ".secrets/plain, .secrets/a: inside the git work tree" in message
    assert (
        f"Add the path to {top.resolve()}/.gitignore (for example the line '/.secrets/'" in message
    )
    assert not (top / ".secrets").exists()
    (top / ".gitignore").write_text("/.secrets/\n")
    materialize(small_store, spec, "files", out=str(top))
    assert (top / ".secrets/plain").read_text() == "plain-value"
    assert git(top, "status", "--porcelain") == "?? .gitignore\n"


def test_one_error_lists_read_problems_and_refused_targets(
    small_store: SecretStore, tmp_path: Path
) -> None:
    """A run with a missing secret and a target inside a work tree reports both at once."""
    app = tmp_path / "app"
    subprocess.run(["git", "init", "-q", str(app)], check=True)
    spec = spec_of("--file out/a=app/plain", "--file out/b=app/missing")
    with pytest.raises(MaterializeError) as info:
        materialize(small_store, spec, "files", out=str(app))
    problems = info.value.problems
    assert len(problems) == 2, problems
    assert "app/missing" in problems[0] and "ResourceNotFoundException" in problems[0]
    assert "out/a, out/b: inside the git work tree" in problems[1]
    assert "refusing to write plaintext; nothing was written" in info.value.message
    assert not (app / "out").exists()
    with pytest.raises(MaterializeError) as info:  # the refusal alone, once the read is fixed
        materialize(small_store, spec_of("--file out/a=app/plain"), "files", out=str(app))
    assert len(info.value.problems) == 1 and "out/a: inside" in info.value.problems[0]
    spec = spec_of("--env A=app/missing")
    with pytest.raises(MaterializeError) as info:  # other formats: the --out document
        materialize(small_store, spec, "dotenv", out=str(app / "ci.env"))
    assert len(info.value.problems) == 2 and "ci.env: inside" in info.value.problems[1]


def test_refused_in_any_work_tree_and_for_out_files(
    small_store: SecretStore, tmp_path: Path
) -> None:
    app = tmp_path / "app"
    subprocess.run(["git", "init", "-q", str(app)], check=True)
    (app / ".gitignore").write_text("*.env\n")
    (app / "tracked.env").write_text("")
    git(app, "add", "-f", "tracked.env")
    spec = spec_of("--env PLAIN=app/plain")
    for target in ("config/app.json", "tracked.env", ".git/secrets.json"):
        with pytest.raises(MaterializeError, match="refusing to write plaintext"):
            materialize(small_store, spec, "json", out=str(app / target))
    materialize(small_store, spec, "dotenv", out=str(app / "ci.env"))  # ignored: accepted
    assert (app / "ci.env").read_text() == "PLAIN='plain-value'\n"
    link = tmp_path / "elsewhere"
    link.symlink_to(app / "config", target_is_directory=True)
    (app / "config").mkdir()
    with pytest.raises(MaterializeError, match=r"config/x\.json"):
        check_targets([link / "x.json"])  # the real path counts, not the link's
    check_targets([tmp_path / "outside" / "x.json"])
    assert not (app / "config" / "app.json").exists()


def test_stdout_formats_need_no_check(small_store: SecretStore) -> None:
    out = io.BytesIO()
    materialize(small_store, spec_of("--env P=app/plain"), "export", stdout=out)
    assert out.getvalue() == b"export P='plain-value'\n"


def swap_for_link(path: Path, to: Path) -> None:
    """Move directory ``path`` aside (to ``path.moved``) and put a link to ``to`` in its place."""
    path.rename(path.with_name(path.name + ".moved"))
    path.symlink_to(to, target_is_directory=True)


@pytest.mark.parametrize("swapped", ["out/sub", "out"])
def test_a_link_swapped_in_after_the_checks_is_not_followed(
    small_store: SecretStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swapped: str
) -> None:
    """The checks pass, then (the window a racing attacker aims for) a directory becomes a link to
    elsewhere: directories are opened with O_NOFOLLOW, so the run fails and writes nothing."""
    out, victim = tmp_path / "out", tmp_path / "victim"
    (out / "sub").mkdir(parents=True)
    victim.mkdir()
    real_collect = pipeline_mod.collect

    def racing(*args: object, **kwargs: object) -> object:
        result = real_collect(*args, **kwargs)  # type: ignore[arg-type]
        swap_for_link(tmp_path / swapped, victim)
        return result

    monkeypatch.setattr(pipeline_mod, "collect", racing)
    spec = spec_of("--file sub/a=app/plain", "--file b=app/plain")
    with pytest.raises(MaterializeError, match=f"{swapped} is a symbolic link"):
        materialize(small_store, spec, "files", out=str(out))
    assert list(victim.iterdir()) == [] and leftovers(tmp_path) == []
    assert [p.name for p in (tmp_path / (swapped + ".moved")).rglob("*")] == (
        ["sub"] if swapped == "out" else []
    )


def test_a_link_swapped_in_while_writing_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a directory is open, its files are created relative to it: a link put in its place
    half-way changes nothing (the files land in the directory that was checked)."""
    (tmp_path / "out" / "sub").mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.mkdir()
    real_stage, calls = writing_mod._Txn.stage, {"n": 0}

    def racing(txn: writing_mod._Txn, parts: tuple[str, ...], data: bytes, mode: int) -> None:
        real_stage(txn, parts, data, mode)
        calls["n"] += 1
        if calls["n"] == 1:
            swap_for_link(tmp_path / "out" / "sub", victim)

    monkeypatch.setattr(writing_mod._Txn, "stage", racing)
    write_files(str(tmp_path / "out"), [(("sub", f"f{i}"), b"v", 0o600) for i in range(3)])
    assert calls["n"] == 3 and list(victim.iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "out" / "sub.moved").iterdir()) == ["f0", "f1", "f2"]


def test_document_outputs_refuse_a_link(small_store: SecretStore, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    link = tmp_path / "ci.env"
    link.symlink_to(victim)
    for fmt in ("dotenv", "json", "k8s", "github"):
        with pytest.raises(MaterializeError, match=r"ci\.env is a symbolic link") as info:
            materialize(small_store, spec_of("--env P=app/plain"), fmt, out=str(link),
                        stdout=io.BytesIO())  # fmt: skip
        assert "plain-value" not in info.value.message
    assert victim.read_text() == "keep" and link.is_symlink()


@pytest.mark.parametrize("base", [".", "./", "out", "out/", "./out", "/", "//", "///", "/tmp/x/",
                                  "a/../b", "..", "../x", "a//b", "/a/./b/"])  # fmt: skip
def test_paths_are_shown_as_normpath_shows_them(base: str) -> None:
    """The summary's paths, joined from --out's own form and each file's components, are what
    os.path.normpath makes of --out/FILE."""
    places = pipeline_mod._Places(base)
    for name in ("a", "a/b", "./a//b/", "a/./b", "x/y/z", ".//q"):
        assert places.joined(name) == os.path.normpath(os.path.join(base, name)), name
