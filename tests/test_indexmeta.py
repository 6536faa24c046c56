"""gitsm's record of the index it wrote (gitrepo/indexmeta.py): the offsets it carries from write to
write are the index's own, and moving them in one big-integer addition adds to every lane alone."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from array import array
from pathlib import Path

import pytest

import gitsm
from gitsm.gitrepo import indexfile, indexmeta


def test_shifted_adds_to_every_value_alone() -> None:
    rng = random.Random(7)
    top = 2**32 - 1
    for size in (1, 2, 3, 17, 1000):
        values = array("I", sorted(rng.randrange(5000, top - 5000) for _ in range(size)))
        for delta in (1, -1, 4999, -4999, 160, -160):
            assert list(indexmeta.shifted(values, delta)) == [v + delta for v in values]
    edge = array("I", [0, 1, 0xFFFF, 0x10000, top - 1])
    assert list(indexmeta.shifted(edge, 1)) == [1, 2, 0x10000, 0x10001, top]  # no carry across
    assert list(indexmeta.shifted(array("I", [1, top]), -1)) == [0, top - 1]  # no borrow across
    assert list(indexmeta.shifted(array("I"), 5)) == []
    with pytest.raises(OverflowError):  # the largest (last) offset past 32 bits
        indexmeta.shifted(array("I", [12, top]), 1)


def _walked(gitdir: Path) -> tuple[bytes, array[int]]:
    """The index's bytes and its entry lengths, found by walking every entry."""
    data = (gitdir / "index").read_bytes()
    count = int.from_bytes(data[8:12], "big")
    lengths, _, _ = indexfile._walk(data, 2, count)
    return data, lengths


def test_the_record_follows_inserts_removals_and_replacements(repo_path: Path) -> None:
    """After each kind of write, the offsets the record carries (moved, never added up again)
    are those of a walk over the index git reads."""
    client = gitsm.client(repo=repo_path)
    gitdir = repo_path / ".git"

    def current(name: str) -> str:
        return str(client.describe_secret(SecretId=name)["VersionIdsToStages"].popitem()[0])

    names = [f"app/{c}{i}" for c in "mbzka" for i in range(3)]  # writes land all over the index
    writes = [lambda n=n: client.create_secret(Name=n, SecretString="v") for n in names]
    writes += [lambda n=n: client.put_secret_value(SecretId=n, SecretString="w") for n in names]
    writes += [
        lambda: client.update_secret_version_stage(  # the manifest alone: no entry added
            SecretId="app/b1", VersionStage="blue", MoveToVersionId=current("app/b1")
        ),
        lambda: client.delete_secret(SecretId="app/z2", ForceDeleteWithoutRecovery=True),
        lambda: client.delete_secret(SecretId="app/a0", ForceDeleteWithoutRecovery=True),
        lambda: client.create_secret(Name="app/" + "p" * 300, SecretString="long path"),
        lambda: client.delete_secret(SecretId="app/m0", ForceDeleteWithoutRecovery=True),
    ]
    for n, write in enumerate(writes):
        write()
        data, lengths = _walked(gitdir)
        record = indexmeta.load(gitdir, data, len(lengths))
        assert record is not None, f"write {n} left no record of its index"
        assert record.lengths == lengths
        assert record.offsets == indexmeta.offsets_of(lengths)
        assert record.offsets[-1] == len(data) - 20  # no extension: the trailer follows


def test_a_fifo_in_the_records_place_is_not_waited_on(tmp_path: Path) -> None:
    """Opening a FIFO to write waits for a reader: the record's writer must not hang on one put
    in its place, and the next write leaves a plain record."""
    os.mkfifo(tmp_path / indexmeta.META_NAME)
    code = (
        "import sys; from array import array; from pathlib import Path;"
        "from gitsm.gitrepo import indexmeta;"
        "d = Path(sys.argv[1]);"
        "[indexmeta.save(d, b'x' * 20, array('I', [8]), array('I', [12, 20]), ['a'], [])"
        " for _ in range(2)]"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], timeout=30, check=False)
    assert done.returncode == 0
    assert (tmp_path / indexmeta.META_NAME).is_file()
    data = b"DIRC" + bytes(8) + bytes(8) + b"x" * 20
    record = indexmeta.load(tmp_path, data, 1)
    assert record is not None and record.written == ["a"] and list(record.offsets) == [12, 20]
