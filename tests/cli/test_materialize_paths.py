"""``gitsm materialize`` writes below ``--out`` only: every way out is refused through the installed
entry point, with exit 254, an error that names the path (never a value), and nothing written,
neither outside nor inside ``--out``.

Layout of each test: ``work/`` is the current directory, ``work/out`` the ``--out`` directory,
``victim/`` a directory beside ``work`` that a path must not reach.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

import gitsm
from tests.cli.conftest import run_gitsm

VALUE = "plain-secret-Value-7"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A store with one secret, and the directories described above."""
    store = gitsm.init(tmp_path / "store")
    store.create_secret("ci/plain", secret_string=VALUE)
    (tmp_path / "victim").mkdir()
    (tmp_path / "work" / "out").mkdir(parents=True)
    return tmp_path / "work"


def materialize(work: Path, *args: str, out: str = "out") -> tuple[int, str]:
    """Run ``gitsm materialize --format files --out OUT ARGS`` in ``work``: (exit, stderr)."""
    store = str(work.parent / "store")
    done = run_gitsm(["--repo", store, "materialize", "--format", "files", "--out", out, *args],
                     cwd=work)  # fmt: skip
    assert VALUE.encode() not in done.stdout + done.stderr
    return done.returncode, done.stderr.decode()


def everything_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def dot_dot(work: Path) -> tuple[list[str], str]:
    return ["--file", "../victim/x=ci/plain"], "../victim/x has a '..' component"


def absolute_in_spec(work: Path) -> tuple[list[str], str]:
    target = work.parent / "victim" / "x"
    (work / "spec.yaml").write_text(f"secrets:\n  - {{secret_id: ci/plain, file: {target}}}\n")
    return ["--spec", "spec.yaml"], f"secrets[0]: {target} is an absolute path"


def dot_dot_inside(work: Path) -> tuple[list[str], str]:
    return ["--file", "a/../../x=ci/plain"], "a/../../x has a '..' component"


def linked_subdirectory(work: Path) -> tuple[list[str], str]:
    (work / "out" / "sub").symlink_to(work.parent / "victim", target_is_directory=True)
    return ["--file", "sub/x=ci/plain"], "out/sub is a symbolic link"


def linked_target(work: Path) -> tuple[list[str], str]:
    (work / "out" / "x").symlink_to(work.parent / "victim" / "x")
    return ["--file", "x=ci/plain"], "out/x is a symbolic link"


Escape = Callable[[Path], tuple[list[str], str]]


@pytest.mark.parametrize(
    "escape", [dot_dot, absolute_in_spec, dot_dot_inside, linked_subdirectory, linked_target]
)
def test_each_way_out_is_refused_and_nothing_is_written(work: Path, escape: Escape) -> None:
    args, named = escape(work)
    before = everything_under(work.parent / "victim"), everything_under(work)
    code, stderr = materialize(work, "--file", "fine=ci/plain", *args)
    assert code == 254, stderr
    assert "1 problem; nothing was written" in stderr and named in stderr, stderr
    assert (everything_under(work.parent / "victim"), everything_under(work)) == before


def test_a_linked_out_directory_is_refused(work: Path) -> None:
    """A link at --out (say, planted in a shared /tmp) could point anywhere: refused, with the
    way to name the real directory; nothing is written through it."""
    (work / "linked-out").symlink_to(work.parent / "victim", target_is_directory=True)
    code, stderr = materialize(work, "--file", "x=ci/plain", "--file", "d/y=ci/plain",
                               out="linked-out")  # fmt: skip
    assert code == 254 and "--out linked-out is a symbolic link" in stderr, stderr
    assert '--out "$(realpath linked-out)"' in stderr
    assert everything_under(work.parent / "victim") == []
    code, stderr = materialize(work, "--file", "x=ci/plain", out=str(work.parent / "victim"))
    assert code == 0, stderr  # the real directory is accepted
    assert (work.parent / "victim" / "x").read_text() == VALUE


def test_every_problem_in_one_error(work: Path) -> None:
    (work / "out" / "sub").symlink_to(work.parent / "victim", target_is_directory=True)
    (work / "out" / "file").write_text("a file, not a directory")
    code, stderr = materialize(work, "--file", "../x=ci/plain", "--file", "/abs/x=ci/plain",
                               "--file", "sub/x=ci/plain", "--file", "file/x=ci/plain",
                               "--file", "gone=ci/missing")  # fmt: skip
    assert code == 254 and "5 problems; nothing was written" in stderr, stderr
    for named in ("--file ../x: ../x has a '..'", "--file /abs/x: /abs/x is an absolute path",
                  "out/sub is a symbolic link", "out/file is a file where file/x needs a directory",
                  "ci/missing (--file gone): ResourceNotFoundException"):  # fmt: skip
        assert named in stderr
    assert everything_under(work.parent / "victim") == []
    assert sorted(os.listdir(work / "out")) == ["file", "sub"]


def test_links_above_out_are_followed_and_dots_dropped(work: Path) -> None:
    """The directories above --out are the caller's (a /tmp that is a link): followed."""
    (work / "alias").symlink_to(work / "out", target_is_directory=True)
    code, stderr = materialize(work, "--file", "./a//b=ci/plain", out="alias/new/deeper")
    assert code == 0, stderr
    assert (work / "out" / "new" / "deeper" / "a" / "b").read_text() == VALUE
    for made in ("new", "new/deeper", "new/deeper/a"):
        assert (work / "out" / made).stat().st_mode & 0o777 == 0o700
    code, stderr = materialize(work, "--file", "a=ci/plain", "--file", "./a=ci/plain")
    assert code == 254 and "./a: the same file as a" in stderr, stderr
