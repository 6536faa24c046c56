"""The agent's watch on gitsm's files (:mod:`gitsm.cli.agent.watch`), on real files: a change is
seen, an event that changed nothing is drained and forgotten, a change made before the watch was
set is not missed, and without inotify every check compares the files."""

from __future__ import annotations

import os
import select
import sys
from pathlib import Path

import pytest

from gitsm.cli.agent import watch as watch_module
from gitsm.cli.agent.watch import Watch

pytestmark = pytest.mark.in_process_only(reason="it tests the agent's own module")


def known_of(*files: Path) -> dict[str, tuple[int, int, int]]:
    """The fingerprint of ``files`` as the agent takes it: (inode, mtime, size)."""
    out = {}
    for file in files:
        st = os.stat(file)
        out[str(file)] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    """Two modules in two directories."""
    made = []
    for name in ("a/one.py", "b/two.py"):
        path = tmp_path / name
        path.parent.mkdir()
        path.write_text("x = 1\n")
        made.append(path)
    return made


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_a_changed_file_is_seen_and_stays_seen(files: list[Path]) -> None:
    watch = Watch(known_of(*files))
    try:
        assert watch.fd is not None and not watch.changed()
        with files[1].open("a") as module:
            module.write("y = 2\n")
        assert watch.changed() and watch.changed()
    finally:
        watch.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_an_event_that_changed_nothing_is_drained(files: list[Path]) -> None:
    watch = Watch(known_of(*files))
    try:
        assert watch.fd is not None
        (files[0].parent / "notes.txt").write_text("beside the module\n")
        assert select.select([watch.fd], [], [], 0)[0]  # the watch has something to say
        assert not watch.changed()  # the files compared: unchanged
        assert not select.select([watch.fd], [], [], 0)[0]  # and it was drained
        files[0].write_text("x = 30\n")
        assert watch.changed()
    finally:
        watch.close()


def test_a_change_before_the_watch_is_not_missed(files: list[Path]) -> None:
    known = known_of(*files)
    files[0].unlink()
    files[0].write_text("x = 1\n")  # a new file of the same size under the same name
    watch = Watch(known)
    try:
        assert watch.changed()
    finally:
        watch.close()


def test_without_inotify_every_check_compares_the_files(
    files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_module, "_inotify", lambda directories: None)
    watch = Watch(known_of(*files))
    assert watch.fd is None and not watch.changed()
    with files[0].open("a") as module:
        module.write("z = 3\n")
    assert watch.changed()
