"""The quick read's memo (gitsm.quickmemo): what each secret directory resolved to, kept by tree
id. Every answer through it is the full reader's at the same commit, after any change to the
store; a damaged memo is no memo; it holds no plaintext and stays bounded.

Real stores written by gitsm; the full reader (SecretStore.get_secret_values) is the reference.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import gitsm
from gitsm import quickmemo
from gitsm.errors import GitsmError
from gitsm.materialize import read as read_mod
from gitsm.materialize.read import StorePath, read_values
from gitsm.materialize.spec import Entry
from gitsm.plaingit import Doubt, PlainRepo
from gitsm.quickbatch import read_many
from gitsm.store import SecretStore
from tests.conftest import git
from tests.test_quickbatch import Request, _quick_read_on, entries  # noqa: F401  (autouse)
from tests.test_quickread import POLICY, _own_home  # noqa: F401  (an autouse fixture: a HOME of its own)


@pytest.fixture
def store(tmp_path: Path) -> tuple[SecretStore, list[Request]]:
    s = gitsm.init(tmp_path / "store")
    requests: list[Request] = []
    for i in range(12):
        name = f"team{i % 3}/app{i}"
        s.create_secret(name, secret_string=json.dumps({"password": f"plain-{i}-words"}))
        requests.append((name, None, None))
    s.create_secret("blob", secret_binary=b"\x00plain-binary")
    first = s.put_secret_value("team0/app0", secret_string="plain-second").version_id
    requests += [
        ("blob", None, None),
        ("team0/app0", None, "AWSPREVIOUS"),
        ("team0/app0", first, None),
        (s.describe_secret("team1/app1").arn, None, None),
        (s.describe_secret("team2/app2").arn[:-7], None, None),  # a partial ARN
    ]
    return s, requests


def memo_file(tmp_path: Path) -> Path:
    return tmp_path / "store" / ".git" / "gitsm" / quickmemo.FILE


def full(s: SecretStore, requests: list[Request]) -> list[bytes]:
    out = []
    for result in s.get_secret_values(requests):
        assert not isinstance(result, GitsmError), result
        out.append(result.value)
    return out


class Reads:
    """Counts the objects the quick read reads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = PlainRepo.read

        def counted(repo: PlainRepo, hexid: str) -> tuple[bytes, bytes]:
            self.count += 1
            return real(repo, hexid)

        monkeypatch.setattr(PlainRepo, "read", counted)


def quick(tmp_path: Path, requests: list[Request]) -> list[bytes]:
    return [v.value for v in read_many(str(tmp_path / "store"), requests, remember=True)[0]]


def test_a_second_read_skips_the_secrets_it_read_and_answers_alike(
    store: tuple[SecretStore, list[Request]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, requests = store
    expected = full(s, requests)
    reads = Reads(monkeypatch)
    assert quick(tmp_path, requests) == expected
    first = reads.count
    assert memo_file(tmp_path).exists()
    reads.count = 0
    assert quick(tmp_path, requests) == expected
    # the commit, the root tree and the folders above the secrets: none of the secrets' own
    # trees, manifests or envelopes
    assert reads.count <= 8 < first, (reads.count, first)
    data = memo_file(tmp_path).read_bytes()
    assert b"plain-" not in data and b"\x00plain-binary" not in data  # ciphertext only


def change_value(s: SecretStore) -> None:
    s.put_secret_value("team1/app1", secret_string="plain-changed")


def move_label(s: SecretStore) -> None:
    vid = s.describe_secret("team0/app0").stage_map()
    current = next(v for v, stages in vid.items() if "AWSCURRENT" in stages)
    previous = next(v for v, stages in vid.items() if "AWSPREVIOUS" in stages)
    s.update_secret_version_stage("team0/app0", "AWSCURRENT", move_to_version_id=previous,
                                  remove_from_version_id=current)  # fmt: skip


def recreate(s: SecretStore) -> None:
    s.delete_secret("blob", force_delete_without_recovery=True)
    s.create_secret("blob", secret_binary=b"\x01plain-new")


@pytest.mark.parametrize("change", [change_value, move_label, recreate])
def test_after_a_change_every_answer_is_the_full_readers(
    store: tuple[SecretStore, list[Request]],
    tmp_path: Path,
    change: object,
) -> None:
    """A new value, a moved label, a secret deleted and created again under its name (a new
    ARN: the old ARN's request now finds nothing)."""
    s, requests = store
    quick(tmp_path, requests)
    assert callable(change)
    change(s)
    plain = [r for r in requests if not r[0].startswith("arn:") and r[1] is None]
    assert quick(tmp_path, plain) == full(s, plain)
    if change is move_label:  # the VersionId asked for is AWSCURRENT now: same value, still read
        assert quick(tmp_path, requests) == full(s, requests)


def test_what_the_memo_cannot_answer_is_still_refused(
    store: tuple[SecretStore, list[Request]], tmp_path: Path
) -> None:
    """After a read through the memo: a wrong ARN suffix, a secret directory copied under
    another name (same tree, another path), a resource policy and pending deletion are still
    left to the full reader (a key no longer held: the next test)."""
    s, requests = store
    quick(tmp_path, requests)
    arn = s.describe_secret("team1/app1").arn
    with pytest.raises(Doubt):
        quick(tmp_path, [(arn[:-6] + "zzzzzz", None, None)])
    work = tmp_path / "store"
    shutil.copytree(work / "secrets" / "team0" / "app3", work / "secrets" / "team0" / "copy")
    git(work, "add", "secrets/team0/copy")
    git(work, "commit", "-q", "-m", "a copied directory")
    with pytest.raises(Doubt):
        quick(tmp_path, [("team0/copy", None, None)])
    assert quick(tmp_path, requests[:3]) == full(s, requests[:3])
    s.put_resource_policy("team2/app2", POLICY)
    with pytest.raises(Doubt):
        quick(tmp_path, [("team2/app2", None, None)])
    s.delete_secret("team0/app0", recovery_window_in_days=7)
    with pytest.raises(Doubt):
        quick(tmp_path, [("team0/app0", None, None)])
    assert quick(tmp_path, [requests[1]]) == full(s, [requests[1]])


def test_a_key_no_longer_held_answers_nothing(
    store: tuple[SecretStore, list[Request]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, requests = store
    quick(tmp_path, requests)
    monkeypatch.setenv("GITSM_HOME", str(tmp_path / "elsewhere"))
    with pytest.raises(Doubt):
        quick(tmp_path, requests)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),
        lambda data: b"garbage",
        lambda data: data.replace(quickmemo._TAG, b"gitsm-quick-memo-9\n"),
    ],
    ids=["truncated", "flipped", "garbage", "format"],
)
def test_a_damaged_memo_is_no_memo(
    store: tuple[SecretStore, list[Request]], tmp_path: Path, damage: object
) -> None:
    s, requests = store
    quick(tmp_path, requests)
    assert callable(damage)
    memo_file(tmp_path).write_bytes(damage(memo_file(tmp_path).read_bytes()))
    assert quickmemo.Memo(str(tmp_path / "store" / ".git")).known == {}
    assert quick(tmp_path, requests) == full(s, requests)
    assert len(quickmemo.Memo(str(tmp_path / "store" / ".git")).known) == 13  # written again


def test_bounded(
    store: tuple[SecretStore, list[Request]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large envelopes are not kept; older directories are dropped beyond the room, the ones
    the last batch used never."""
    s, requests = store
    s.create_secret("large", secret_string="x" * 9000)
    assert quick(tmp_path, [("large", None, None)]) == [b"x" * 9000]
    assert not memo_file(tmp_path).exists()
    monkeypatch.setattr(quickmemo, "ENTRIES_MAX", 4)
    quick(tmp_path, requests[:12])  # room: four times the 12 used
    assert len(quickmemo.Memo(str(tmp_path / "store" / ".git")).known) == 12
    quick(tmp_path, [("blob", None, None)])  # room: ENTRIES_MAX
    kept = quickmemo.Memo(str(tmp_path / "store" / ".git")).known
    assert len(kept) == 4 and any(key.endswith(" secrets/blob") for key in kept)


def test_materialize_and_its_helper_fill_one_memo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enough requests for the forked helper: both halves' secrets are kept, and the next read
    answers alike without reading the secrets again."""
    s = gitsm.init(tmp_path / "store")
    for i in range(120):
        s.create_secret(f"many/{i}", secret_string=f"value-{i}")
    requests: list[Request] = [(f"many/{i}", None, None) for i in range(120)]
    spec = entries(requests).entries
    results, _ = read_values(StorePath(str(tmp_path / "store")), spec)
    assert len(quickmemo.Memo(str(tmp_path / "store" / ".git")).known) == 120
    reads, forks = Reads(monkeypatch), []
    real_helper = read_mod._helper
    monkeypatch.setattr(read_mod, "_helper", lambda work: forks.append(1) or real_helper(work))
    again, _ = read_values(StorePath(str(tmp_path / "store")), spec)
    # the commit, the root, .gitsm/ (the config's id), secrets/, many/ (in this process)
    assert reads.count <= 5, reads.count
    assert forks == []  # all held: opening them is not worth a helper
    assert [again[r].value for r in requests] == [f"value-{i}".encode() for i in range(120)]  # type: ignore[union-attr]
    assert results.keys() == again.keys()


def test_held_and_read_answers_keep_their_order_with_a_helper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some secrets held by the memo, more than a helper's worth changed since: the held ones are
    opened here, the others read by this process and the forked helper, and every answer is the
    full reader's, in the order asked."""
    s = gitsm.init(tmp_path / "store")
    count = read_mod.PARALLEL_MIN + 20
    for i in range(count):
        s.create_secret(f"many/{i}", secret_string=f"value-{i}")
    requests: list[Request] = [(f"many/{i}", None, None) for i in range(count)]
    spec = entries(requests).entries
    read_values(StorePath(str(tmp_path / "store")), spec)
    changed = [i for i in range(count) if i % 7]  # every seventh still held
    for i in changed:
        s.put_secret_value(f"many/{i}", secret_string=f"new-{i}")
    forks: list[int] = []
    real_helper = read_mod._helper
    monkeypatch.setattr(read_mod, "_helper", lambda work: forks.append(1) or real_helper(work))
    results, _ = read_values(StorePath(str(tmp_path / "store")), spec)
    assert forks == [1] and len(changed) >= read_mod.PARALLEL_MIN
    assert [results[r].value for r in requests] == full(s, requests)  # type: ignore[union-attr]
    assert [results[r].value for r in requests][:2] == [b"value-0", b"new-1"]  # type: ignore[union-attr]


def held_read(tmp_path: Path, requests: list[Request]) -> list[bytes]:
    """The requests through materialize's read (the memo asked first, then the walk)."""
    spec = [Entry(sid, version_stage=stage, version_id=vid, env=f"V{i}")
            for i, (sid, vid, stage) in enumerate(requests)]  # fmt: skip
    results, _ = read_values(StorePath(str(tmp_path / "store")), spec)
    return [results[r].value for r in requests]  # type: ignore[union-attr]


def batch_of(tmp_path: Path) -> quickmemo.Batch | None:
    return quickmemo.Memo(str(tmp_path / "store" / ".git")).batch


def test_the_same_batch_at_the_same_tree_is_answered_without_walking(
    store: tuple[SecretStore, list[Request]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first read fills the memo, the second is answered from it whole and kept as the
    batch, the third takes each answer by its key: only the commit is read (its root tree's
    id), and every answer is the full reader's."""
    s, requests = store
    expected = full(s, requests)
    assert held_read(tmp_path, requests) == expected
    assert batch_of(tmp_path) is None  # read, not answered by the memo: nothing to replay yet
    assert held_read(tmp_path, requests) == expected
    batch = batch_of(tmp_path)
    assert batch is not None and batch[1] == requests and len(batch[2]) == len(requests)
    reads = Reads(monkeypatch)
    assert held_read(tmp_path, requests) == expected
    assert reads.count == 1, reads.count  # the commit: no tree walked
    reads.count = 0
    assert held_read(tmp_path, requests[::-1]) == expected[::-1]  # other requests: walked
    assert reads.count > 1


@pytest.mark.parametrize("change", [change_value, move_label, recreate])
def test_a_batch_is_not_replayed_at_another_tree(
    store: tuple[SecretStore, list[Request]], tmp_path: Path, change: object
) -> None:
    """After a write the root tree differs: the batch is walked again and answers as the full
    reader does (a request that now names nothing is refused)."""
    s, requests = store
    plain = [r for r in requests if not r[0].startswith("arn:") and r[1] is None]
    for _ in range(2):
        assert held_read(tmp_path, plain) == full(s, plain)
    assert batch_of(tmp_path) is not None
    assert callable(change)
    change(s)
    assert held_read(tmp_path, plain) == full(s, plain)
    assert held_read(tmp_path, plain) == full(s, plain)


def test_a_batch_whose_answers_the_memo_lost_is_walked(
    store: tuple[SecretStore, list[Request]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key of the batch no longer in the memo (dropped for room, or the file rewritten by
    another batch): the batch is walked, not answered from what is left."""
    s, requests = store
    expected = full(s, requests)
    for _ in range(2):
        held_read(tmp_path, requests)
    memo = quickmemo.Memo(str(tmp_path / "store" / ".git"))
    assert memo.batch is not None
    dropped = memo.batch[2][0]
    memo.known.pop(dropped)
    memo.added = {"x": ("arn", {})}  # saved: the batch with a key it no longer holds
    memo.save()
    assert dropped not in quickmemo.Memo(str(tmp_path / "store" / ".git")).known
    reads = Reads(monkeypatch)
    assert held_read(tmp_path, requests) == expected
    assert reads.count > 1  # walked, and the dropped directory read again
