"""The listing index (gitsm/store/listindex.py): answers identical to parsing every manifest.

Every listing call here runs twice on the same store: through a handle that reads the index and
through one that parses every manifest (``list_index = False``, the way listings were answered
before the index), and the two answers must be the same to the last byte of their ``repr`` (time
zones included). The store is varied on purpose: descriptions, tags (none, some, removed), deleted
and expiring secrets, binary and string versions, labels, resource policies, rotation settings, and
manifests written by hand (one not canonical, with a time in another zone).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gitsm import paths, treefiles
from gitsm.awsclient import SecretsManagerClient
from gitsm.manifest import dump_secret
from gitsm.model import Rotation
from gitsm.store import SecretStore, listcodec, listindex
from tests.conftest import Clock, git

HAND_WRITTEN = b"""format: 1
name: hand/odd
arn: "arn:aws:secretsmanager:us-east-1:%s:secret:hand/odd-AbCdEf"
description: Written by hand, in block YAML
created: 2031-05-06T09:08:09+02:00
last_changed: 2031-05-06T09:08:10.5+02:00
tags:
  - key: team
    value: Platform
versions:
  0123456789abcdef0123456789abcdef:
    created: 2031-05-06T09:08:09+02:00
    type: string
    kms_key_ids: [alias/aws/secretsmanager]
    stages: [AWSCURRENT]
"""

POLICY = (
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "secretsmanager:*", '
    '"Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Resource": "*"}}'
)
SORTS = [{}, {"SortOrder": "desc"}, {"SortBy": "name"}, {"SortBy": "name", "SortOrder": "desc"},
         {"SortBy": "last-changed-date"}, {"SortBy": "last-changed-date", "SortOrder": "desc"},
         {"SortBy": "last-accessed-date"}, {"SortBy": "created-date", "SortOrder": "asc"}]  # fmt: skip
FILTERS: list[list[dict[str, Any]]] = [
    [],
    [{"Key": "name", "Values": ["app/"]}],
    [{"Key": "name", "Values": ["!app/"]}],
    [{"Key": "tag-key", "Values": ["team"]}, {"Key": "tag-value", "Values": ["Platform", "web"]}],
    [{"Key": "description", "Values": ["database"]}],
    [{"Key": "all", "Values": ["platform"]}],
    [{"Key": "primary-region", "Values": ["us-east-1"]}],
    [{"Key": "owning-service", "Values": ["rds"]}],
]


@pytest.fixture
def clock() -> Clock:
    return Clock()


def commit_files(path: Path, files: dict[str, bytes], message: str) -> None:
    """Commit ``files`` with plain git (as a person editing the store by hand would)."""
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
        git(path, "add", name)
    git(path, "commit", "-qm", message)


@pytest.fixture
def varied(repo_path: Path, clock: Clock) -> Path:
    """A store of 40 secrets of every kind the listing shows."""
    store = SecretStore.open(repo_path, clock=clock)
    c = SecretsManagerClient(store)
    for i in range(30):
        name = ["app/web", "app/db", "infra/key", "misc"][i % 4] + f"-{i:02d}"
        kw: dict[str, Any] = {"Name": name}
        if i % 3:
            kw["Description"] = ["the primary database", "web tier Ünïcode ✓", ""][i % 3]
        if i % 5 == 0:
            kw["Tags"] = [{"Key": "team", "Value": ["Platform", "web"][i % 2]}]
        if i % 2:
            kw["SecretString"] = f"value {i}"
        else:
            kw["SecretBinary"] = bytes([i, 0, 255])
        c.create_secret(**kw)
        clock.advance(seconds=[3, 1, 7][i % 3])
        if i % 4 == 1:
            c.put_secret_value(SecretId=name, SecretString="next", VersionStages=["AWSCURRENT"])
        if i % 7 == 3:
            c.tag_resource(SecretId=name, Tags=[{"Key": "gone", "Value": ""}])
            c.untag_resource(SecretId=name, TagKeys=["gone"])  # "Tags": [] from now on
        if i % 9 == 4:
            c.put_resource_policy(SecretId=name, ResourcePolicy=POLICY)
        if i % 8 == 6:  # PrimaryRegion, which the primary-region filter reads
            c.replicate_secret_to_regions(
                SecretId=name, AddReplicaRegions=[{"Region": "eu-west-1"}]
            )
    for i in (2, 11, 17):
        c.delete_secret(SecretId=f"{['app/web', 'app/db', 'infra/key', 'misc'][i % 4]}-{i:02d}",
                        RecoveryWindowInDays=7 + i)  # fmt: skip
    config = store.config()
    rotating = store.describe_secret("misc-03")
    rotating.rotation = Rotation(True, "arn:aws:lambda:us-east-1:123456789012:function:f", 30,
                                 None, "2h", clock.now, clock.now + timedelta(days=30), None)  # fmt: skip
    commit_files(repo_path, {
        paths.manifest_path("misc-03"): dump_secret(rotating),
        paths.manifest_path("hand/odd"): HAND_WRITTEN % config.account_id.encode(),
    }, "Hand-written manifests")  # fmt: skip
    return repo_path


def both(path: Path, clock: Clock) -> tuple[SecretsManagerClient, SecretsManagerClient]:
    """A client that reads the listing index and one that parses every manifest."""
    indexed = SecretsManagerClient(SecretStore.open(path, clock=clock))
    parsing = SecretStore.open(path, clock=clock)
    parsing.list_index = False
    return indexed, SecretsManagerClient(parsing)


def shown(out: dict[str, Any]) -> str:
    """An answer as text, without its ResponseMetadata (a fresh RequestId each call)."""
    return repr({k: v for k, v in out.items() if k != "ResponseMetadata"})


def pages(call: Any, **kw: Any) -> Iterator[str]:
    """``repr`` of every page of a listing call, following NextToken to the end."""
    token = None
    while True:
        out = call(**kw, **({"NextToken": token} if token else {}))
        yield shown(out)
        token = out.get("NextToken")
        if not token:
            return


def answers(c: SecretsManagerClient, *, every: bool = True) -> list[str]:
    """The listing calls of the test (``every`` sort and filter, else a few), paged through, as
    text."""
    out: list[str] = []
    for flt in FILTERS if every else FILTERS[:2]:
        extra = {"Filters": flt} if flt else {}
        for n, sort in enumerate(SORTS if every else SORTS[2:4]):
            out += pages(c.list_secrets, MaxResults=3 if n % 3 == 0 else 100, **sort, **extra)
        out += pages(c.list_secrets, IncludePlannedDeletion=True, MaxResults=4, **extra)
        if flt:
            out += pages(c.batch_get_secret_value, Filters=flt, MaxResults=5)
    return out


def index_files(path: Path) -> list[Path]:
    return sorted((path / ".git" / "gitsm" / listindex.INDEX_DIR).glob("*"))


def test_listings_with_the_index_answer_as_parsing_every_manifest(
    varied: Path, clock: Clock
) -> None:
    indexed, parsing = both(varied, clock)
    expected = answers(parsing)
    assert answers(indexed) == expected
    assert len(expected) > 150
    odd = indexed.describe_secret(SecretId="hand/odd")["CreatedDate"]
    assert odd.utcoffset() == timedelta(hours=2)  # a time zone kept through the index
    (kept,) = index_files(varied)  # one index, in the git dir: nothing in the work tree
    assert kept.name == git(varied, "rev-parse", "HEAD^{tree}").strip()
    assert git(varied, "status", "--porcelain", "--ignored") == ""
    fresh, _ = both(varied, clock)  # another process: the index as kept on disk
    before = answers(fresh, every=False)
    assert before == answers(parsing, every=False)
    clock.advance(days=20)  # the deletion date of two of the deleted secrets passes
    later = answers(fresh, every=False)
    assert later == answers(parsing, every=False) and later != before


def test_a_write_updates_the_index_from_the_last_one_parsing_only_what_changed(
    varied: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexed = both(varied, clock)[0]
    indexed.list_secrets()
    indexed.update_secret(SecretId="app/db-01", Description="changed")
    indexed.delete_secret(SecretId="misc-07", ForceDeleteWithoutRecovery=True)
    git(varied, "rm", "-q", paths.manifest_path("infra/key-06"))  # by hand: envelopes left over
    git(varied, "commit", "-qm", "Remove a manifest by hand")
    parsed: list[str] = []
    real = treefiles.load_secret
    with monkeypatch.context() as patch:
        patch.setattr(treefiles, "load_secret", lambda d, w: parsed.append(w) or real(d, w))
        got = answers(both(varied, clock)[0], every=False)
    assert parsed == [paths.manifest_path("app/db-01")]  # one manifest parsed: the changed one
    assert got == answers(both(varied, clock)[1], every=False)
    git(varied, "commit", "-q", "--allow-empty", "-m", "Same tree")
    with monkeypatch.context() as patch:
        patch.setattr(treefiles, "load_secret", None)  # nothing is parsed: the tree's index
        assert both(varied, clock)[0].list_secrets()["SecretList"]
    assert len(index_files(varied)) == 2  # the same tree reuses its index
    for i in range(listindex.KEEP + 1):
        indexed.update_secret(SecretId="misc-15", Description=f"d{i}")
        indexed.list_secrets(MaxResults=1)
    assert len(index_files(varied)) == listindex.KEEP  # older indexes are removed


def test_the_first_page_reads_only_its_own_records(
    varied: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    both(varied, clock)[0].list_secrets()  # builds the index
    decoded: list[bytes] = []
    real = listcodec.decode
    monkeypatch.setattr(listcodec, "decode", lambda line: decoded.append(line) or real(line))
    monkeypatch.setattr(treefiles, "load_secret", None)  # no manifest may be parsed
    page = both(varied, clock)[0].list_secrets(MaxResults=2, SortBy="name")
    assert [s["Name"] for s in page["SecretList"]] == ["app/db-01", "app/db-05"]
    assert len(decoded) == 3  # the page and the one after it (is there a next page?)
    decoded.clear()
    flt = [{"Key": "name", "Values": ["infra/"]}, {"Key": "description", "Values": ["web"]}]
    page = both(varied, clock)[0].list_secrets(MaxResults=2, Filters=flt, SortBy="name")
    assert [s["Name"] for s in page["SecretList"]] == ["infra/key-10", "infra/key-22"]
    assert len(decoded) == 2  # selected from the summaries: only what is shown is decoded


@pytest.mark.parametrize("damage", ["record", "tables", "columns", "truncated", "format"])
def test_a_damaged_index_is_never_used(
    varied: Path, clock: Clock, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexed, parsing = both(varied, clock)
    expected = shown(indexed.list_secrets(SortBy="last-changed-date"))
    (kept,) = index_files(varied)
    data = bytearray(kept.read_bytes())
    head = data.index(b"\n")
    columns = head + 1 + int(data[:head].split()[6])  # after the tables, whose size the head says
    at = {"record": len(data) - 40, "tables": head + 5, "columns": columns + 3}
    if damage in at:
        data[at[damage]] ^= 0x01
    elif damage == "truncated":
        del data[-100:]
    else:
        data[: len(b"gitsm-list-index 1")] = b"gitsm-list-index 9"
    kept.write_bytes(bytes(data))
    again = both(varied, clock)[0]
    assert shown(again.list_secrets(SortBy="last-changed-date")) == expected
    assert shown(again.list_secrets(SortBy="name")) == shown(parsing.list_secrets(SortBy="name"))
    filtered = {"Filters": FILTERS[3], "MaxResults": 2}  # reads the columns
    assert shown(again.list_secrets(**filtered)) == shown(parsing.list_secrets(**filtered))
    assert kept.read_bytes() != bytes(data)  # rebuilt and kept again


def test_refused_manifests_fail_the_listing_as_without_the_index(
    varied: Path, clock: Clock
) -> None:
    both(varied, clock)[0].list_secrets()
    where = varied / paths.manifest_path("app/web-04")
    os.chmod(where, 0o755)  # an executable manifest is refused
    git(varied, "commit", "-qam", "Make a manifest executable")
    for c in both(varied, clock):
        with pytest.raises(Exception) as info:
            c.list_secrets()
        assert "app/web-04" in str(info.value) and "executable" in str(info.value)
    os.chmod(where, 0o644)
    git(varied, "commit", "-qam", "Fix it")
    assert answers(both(varied, clock)[0], every=False) == answers(
        both(varied, clock)[1], every=False
    )


def test_an_unwritable_git_dir_still_lists(varied: Path, clock: Clock) -> None:
    shutil.rmtree(varied / ".git" / "gitsm", ignore_errors=True)  # (the config stamp made it)
    (varied / ".git" / "gitsm").write_text("not a directory")  # the index cannot be kept
    indexed, parsing = both(varied, clock)
    assert answers(indexed, every=False) == answers(parsing, every=False)


def test_the_codec_holds_every_field_of_the_model() -> None:
    assert listcodec.missing_fields() == []


def test_threads_sharing_a_handle_page_through_one_walk(varied: Path, clock: Clock) -> None:
    indexed, parsing = both(varied, clock)
    expected = list(pages(parsing.list_secrets, MaxResults=2, SortBy="last-changed-date"))
    with ThreadPoolExecutor(4) as pool:  # one query, one kept walk, taken from four threads
        runs = list(pool.map(lambda _: list(pages(indexed.list_secrets, MaxResults=2,
                                                  SortBy="last-changed-date")), range(8)))  # fmt: skip
    assert all(run == expected for run in runs)


def test_tree_changes_name_every_differing_file_and_skip_the_rest(repo_path: Path) -> None:
    commit_files(repo_path, {"a/x": b"1", "a/y": b"2", "b/z": b"3", "c": b"4"}, "Files")
    repo = SecretStore.open(repo_path).repo
    old = repo.tip().tree_id
    assert old is not None
    os.chmod(repo_path / "a/y", 0o755)  # a mode change
    (repo_path / "b/z").unlink()
    (repo_path / "b/z").mkdir()  # a file becomes a directory
    (repo_path / "b/z/inner").write_bytes(b"5")
    (repo_path / "c").write_bytes(b"changed")
    git(repo_path, "add", "-A")
    git(repo_path, "commit", "-qm", "Change")
    found = {(c.path, c.old is None, c.new is None, c.new_mode)
             for c in repo.tree_changes(old, repo.tip(), "")}  # fmt: skip
    assert found == {("a/y", False, False, 0o100755), ("b/z", False, True, None),
                     ("b/z/inner", True, False, 0o100644), ("c", False, False, 0o100644)}  # fmt: skip
    assert [c.path for c in repo.tree_changes(old, repo.tip(), "a")] == ["a/y"]
    assert repo.tree_changes(old, repo.tip(), "nowhere") == []
    assert repo.tree_changes("0" * 40, repo.tip(), "") is None  # a tree not in the repository
