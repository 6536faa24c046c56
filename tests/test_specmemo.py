"""The spec memo (gitsm.materialize.specmemo): a spec file read again is taken from the store's
memo, exactly as it was read; any change to its bytes, its name or the code that reads specs reads
it again; a damaged memo is no memo; it is bounded, and kept only in a store's own git directory.

Real stores made by ``gitsm init``; ``load_spec`` without a memo is the reference."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

import gitsm
from gitsm.cli.app import app
from gitsm.materialize import Entry, load_spec, specmemo
from gitsm.materialize.specmemo import read_spec
from tests.test_materialize_spec import SPEC

PLAIN_SPEC = "version: 1\nsecrets:\n" + "".join(
    f"  - secret_id: team/app{i}\n    file: conf/app{i}\n    env: APP{i}\n" for i in range(30)
)


@pytest.fixture
def memo(tmp_path: Path) -> str:
    gitsm.init(tmp_path / "store")
    path = specmemo.memo_path(str(tmp_path / "store"))
    assert path == str(tmp_path / "store" / ".git" / "gitsm" / specmemo.FILE)
    return path


def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> None:
        raise AssertionError("the spec was parsed again")

    monkeypatch.setattr(specmemo, "parse_file", refuse)


def test_the_fields_are_entrys_in_order() -> None:
    assert tuple(f.name for f in dataclasses.fields(Entry)) == specmemo._FIELDS


@pytest.mark.parametrize("text", [SPEC, PLAIN_SPEC], ids=["yaml", "plain"])
def test_a_spec_read_again_is_the_memos_and_the_same(
    tmp_path: Path, memo: str, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    path = tmp_path / "gitsm.materialize.yaml"
    path.write_text(text)
    expected = load_spec(path)
    assert read_spec(path, memo) == expected  # read, and kept
    assert Path(memo).exists()
    no_parsing(monkeypatch)
    again = read_spec(path, memo)
    assert again == expected and again is not expected
    again.entries.append(expected.entries[0])  # a caller's change is its own
    assert read_spec(path, memo) == expected


def test_any_change_reads_it_again(
    tmp_path: Path, memo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other bytes (the same length), another name for the same file, another version of the
    code: read again, never the memo's."""
    path = tmp_path / "spec.yaml"
    path.write_text(PLAIN_SPEC)
    read_spec(path, memo)
    path.write_text(PLAIN_SPEC.replace("conf/app7\n", "conf/appX\n"))
    changed = read_spec(path, memo)
    assert changed == load_spec(path) and changed.entries[7].file == "conf/appX"
    link = tmp_path / "other.yaml"
    link.symlink_to(path)
    other = read_spec(link, memo)
    assert other.entries[0].where.startswith(str(link)) and other == load_spec(link)
    monkeypatch.setattr(specmemo, "__version__", "0.0.0-other")
    parsed: list[int] = []
    real = specmemo.parse_file
    monkeypatch.setattr(specmemo, "parse_file", lambda *a: parsed.append(1) or real(*a))
    assert read_spec(path, memo) == changed and parsed == [1]


@pytest.mark.parametrize(
    "damage",
    [lambda data: data[:-3], lambda data: data[:-1] + bytes([data[-1] ^ 1]), lambda _: b"x"],
    ids=["truncated", "flipped", "garbage"],
)
def test_a_damaged_memo_is_no_memo(tmp_path: Path, memo: str, damage: object) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(PLAIN_SPEC)
    read_spec(path, memo)
    assert callable(damage)
    Path(memo).write_bytes(damage(Path(memo).read_bytes()))
    assert specmemo._read(memo) == {}
    assert read_spec(path, memo) == load_spec(path)
    assert len(specmemo._read(memo)) == 1  # written again


def test_bounded_to_the_last_ones_read(tmp_path: Path, memo: str) -> None:
    paths = []
    for i in range(specmemo.KEPT + 2):
        paths.append(tmp_path / f"spec{i}.yaml")
        paths[-1].write_text(PLAIN_SPEC)
        read_spec(paths[-1], memo)
    kept = specmemo._read(memo)
    assert len(kept) == specmemo.KEPT
    assert all(key.endswith(str(p)) for key, p in zip(kept, paths[::-1], strict=False))


def test_no_memo_outside_a_repository(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert specmemo.memo_path(str(tmp_path / "plain")) is None
    assert specmemo.memo_path(str(tmp_path / "missing")) is None
    assert not (tmp_path / "plain" / "gitsm").exists()


def test_materialize_after_the_spec_changed_writes_the_new_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the command: the second run uses the memo, the third (spec edited) does not."""
    store = gitsm.init(tmp_path / "store")
    store.create_secret("team/a", secret_string="value-a")
    store.create_secret("team/b", secret_string="value-b")
    spec_file = tmp_path / "spec.yaml"
    monkeypatch.chdir(tmp_path)

    def run(text: str, out: str) -> None:
        spec_file.write_text(text)
        result = CliRunner().invoke(app, ["--repo", str(tmp_path / "store"), "materialize",
                                          "--spec", str(spec_file), "--out", out])  # fmt: skip
        assert result.exit_code == 0, result.output

    first = "version: 1\nsecrets:\n  - secret_id: team/a\n    file: x\n"
    run(first, "out1")
    run(first, "out2")
    assert (tmp_path / "out2" / "x").read_text() == "value-a"
    run(first.replace("team/a", "team/b"), "out3")
    assert (tmp_path / "out3" / "x").read_text() == "value-b"
    assert len(specmemo._read(str(tmp_path / "store" / ".git" / "gitsm" / specmemo.FILE))) == 2
