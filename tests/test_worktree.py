"""The checked-out work tree follows every write; local edits block only the paths a write touches;
another branch's checkout is left alone; an interrupted work-tree sync is repaired by the next writer."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

import gitsm
from gitsm import paths
from gitsm.awsclient import SecretsManagerClient
from gitsm.errors import EXIT_ENVIRONMENT, LocalChangesError
from gitsm.gitrepo import JOURNAL_NAME
from gitsm.model import utcnow
from gitsm.providers.local import LocalProvider
from gitsm.store import SecretStore
from tests.conftest import git


def status(path: Path) -> str:
    return git(path, "status", "--porcelain", "--untracked-files=all")


def assert_clean(path: Path) -> None:
    """``git status`` is empty and every tracked file matches HEAD byte for byte."""
    assert status(path) == ""
    assert git(path, "diff", "HEAD", "--stat") == ""
    assert git(path, "ls-files", "--deleted", "--modified", "--others") == ""
    tracked = set()
    for line in git(path, "ls-tree", "-r", "HEAD").splitlines():
        meta, file = line.split("\t", 1)
        data = (path / file).read_bytes()
        blob_id = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        assert blob_id == meta.split()[2], f"{file} differs from HEAD"
        tracked.add(file)
    on_disk = {
        str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    assert on_disk == tracked
    assert not [
        p for p in path.rglob("*") if p.is_dir() and ".git" not in p.parts and not any(p.iterdir())
    ]


def head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def _config_edit(path: Path, **retention: float) -> None:
    """Change the store's retention in .gitsm/config.yaml with plain git (a reviewed commit)."""
    file = path / paths.CONFIG_PATH
    doc = yaml.safe_load(file.read_text())
    doc["retention"].update(retention)
    file.write_text(yaml.safe_dump(doc, sort_keys=False))
    git(path, "commit", "-qam", "Lower retention")


def _operations(path: Path) -> list[tuple[str, Callable[[SecretsManagerClient], object]]]:
    key = LocalProvider().create_key()  # in the test's own GITSM_HOME
    pending, odd = "p" * 32, "../" * 12
    later = utcnow() + timedelta(days=40)
    return [
        ("create string", lambda c: c.create_secret(Name="a/b", SecretString="one-value")),
        ("create binary", lambda c: c.create_secret(Name="a/b/c", SecretBinary=b"\x00\x01")),
        ("create nested odd", lambda c: c.create_secret(Name="a/../.git/x/", SecretString="odd")),
        ("create empty", lambda c: c.create_secret(Name="meta-only", Description="no value")),
        ("update value", lambda c: c.update_secret(SecretId="a/b", SecretString="two-value")),
        ("update description", lambda c: c.update_secret(SecretId="a/b", Description="desc")),
        ("put pending", lambda c: c.put_secret_value(SecretId="a/b", SecretString="three",
                                                      ClientRequestToken=pending,
                                                      VersionStages=["AWSPENDING"])),
        ("put odd token", lambda c: c.put_secret_value(
            SecretId="a/b", SecretString="four", ClientRequestToken=odd)),
        ("move label", lambda c: c.update_secret_version_stage(
            SecretId="a/b", VersionStage="AWSCURRENT", RemoveFromVersionId=odd,
            MoveToVersionId=pending)),
        ("rekey", lambda c: c.update_secret(SecretId="a/b", KmsKeyId=key)),
        ("tag", lambda c: c.tag_resource(SecretId="a/b", Tags=[{"Key": "k", "Value": "v"}])),
        ("untag", lambda c: c.untag_resource(SecretId="a/b", TagKeys=["k"])),
        ("lower retention", lambda c: _config_edit(path, max_versions=1, min_version_age_hours=0)),
        ("prune on put", lambda c: c.put_secret_value(SecretId="a/b/c", SecretString="s1")),
        ("prune on update", lambda c: c.update_secret(SecretId="a/b/c", SecretString="s2")),
        ("schedule delete", lambda c: c.delete_secret(SecretId="a/b/c", RecoveryWindowInDays=7)),
        ("restore", lambda c: c.restore_secret(SecretId="a/b/c")),
        ("delete again", lambda c: c.delete_secret(SecretId="a/b/c", RecoveryWindowInDays=7)),
        ("purge", lambda c: SecretStore.open(path, clock=lambda: later).purge_deleted_secrets()),
        ("force delete", lambda c: c.delete_secret(SecretId="a/../.git/x/", ForceDeleteWithoutRecovery=True)),
        ("recreate", lambda c: c.create_secret(Name="a/../.git/x/", SecretString="again")),
    ]  # fmt: skip


def test_checkout_follows_every_operation(repo_path: Path) -> None:
    client = gitsm.client(repo=repo_path)
    assert_clean(repo_path)
    seen_heads = [head(repo_path)]
    for label, op in _operations(repo_path):
        op(client)
        try:
            assert_clean(repo_path)
        except AssertionError as exc:
            raise AssertionError(f"after {label}: {exc}") from exc
        seen_heads.append(head(repo_path))
        assert seen_heads[-1] != seen_heads[-2], f"{label} made no commit"
    assert client.get_secret_value(SecretId="a/b")["SecretString"] == "three"
    assert client.get_secret_value(SecretId="a/../.git/x/")["SecretString"] == "again"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_secret(SecretId="a/b/c")
    versions = client.list_secret_version_ids(SecretId="a/b", IncludeDeprecated=True)["Versions"]
    files = git(repo_path, "ls-files", paths.secret_dir("a/b") + "/" + paths.VERSIONS).split()
    assert len(files) == len(versions) == 4
    # pruning removed a version file of a/b/c (before the purge removed the rest)
    log = git(repo_path, "log", "--format=%x1e%s", "--name-status").split("\x1e")
    (update_c,) = [e for e in log if e.startswith("UpdateSecret a/b/c\n")]
    deleted = [line for line in update_c.splitlines() if line.startswith("D\t")]
    assert len(deleted) == 1 and paths.secret_dir("a/b/c") + "/~versions/" in deleted[0]
    assert git(repo_path, "fsck", "--strict") == ""


def test_bare_store_runs_every_operation(bare_path: Path) -> None:
    client = gitsm.client(repo=bare_path)
    for _label, op in _operations(bare_path):
        if _label == "lower retention":
            continue  # needs a work tree; the rest must all work bare
        op(client)
    assert client.get_secret_value(SecretId="a/b")["SecretString"] == "three"
    assert git(bare_path, "fsck", "--strict") == ""
    assert not list(bare_path.glob(JOURNAL_NAME))


# -- local edits ----------------------------------------------------------------------------------


def _store_with_two(repo_path: Path) -> SecretsManagerClient:
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="team/app", SecretString="app-value")
    client.create_secret(Name="team/other", SecretString="other-value")
    assert_clean(repo_path)
    return client


MANIFEST = paths.manifest_path("team/app")


def _modify(path: Path) -> Callable[[], None]:
    def check() -> None:
        assert (path / MANIFEST).read_text().endswith("# local edit\n")
        assert status(path) == f" M {MANIFEST}\n"

    with (path / MANIFEST).open("a") as fh:
        fh.write("# local edit\n")
    return check


def _stage(path: Path) -> Callable[[], None]:
    with (path / MANIFEST).open("a") as fh:
        fh.write("# staged edit\n")
    git(path, "add", MANIFEST)

    def check() -> None:
        assert status(path) == f"M  {MANIFEST}\n"
        assert git(path, "show", f":{MANIFEST}").endswith("# staged edit\n")

    return check


def _stage_only_index(path: Path) -> Callable[[], None]:
    """The index differs from HEAD while the file on disk matches HEAD again."""
    original = (path / MANIFEST).read_bytes()
    (path / MANIFEST).write_bytes(original + b"# staged only\n")
    git(path, "add", MANIFEST)
    (path / MANIFEST).write_bytes(original)

    def check() -> None:
        assert status(path) == f"MM {MANIFEST}\n"

    return check


def _delete(path: Path) -> Callable[[], None]:
    (path / MANIFEST).unlink()

    def check() -> None:
        assert not (path / MANIFEST).exists()
        assert status(path) == f" D {MANIFEST}\n"

    return check


def _git_rm(path: Path) -> Callable[[], None]:
    git(path, "rm", "-q", MANIFEST)

    def check() -> None:
        assert status(path) == f"D  {MANIFEST}\n"

    return check


EDITS = [_modify, _stage, _stage_only_index, _delete, _git_rm]


@pytest.mark.parametrize("edit", EDITS, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize(
    "operation",
    [
        lambda c: c.update_secret(SecretId="team/app", SecretString="new-value"),
        lambda c: c.put_secret_value(SecretId="team/app", SecretString="new-value"),
        lambda c: c.tag_resource(SecretId="team/app", Tags=[{"Key": "k", "Value": "v"}]),
        lambda c: c.delete_secret(SecretId="team/app", ForceDeleteWithoutRecovery=True),
    ],
    ids=["update", "put", "tag", "force-delete"],
)
def test_local_edits_to_touched_paths_block_and_survive(
    repo_path: Path,
    edit: Callable[[Path], Callable[[], None]],
    operation: Callable[[SecretsManagerClient], object],
) -> None:
    client = _store_with_two(repo_path)
    tip = head(repo_path)
    check = edit(repo_path)
    check()
    with pytest.raises(LocalChangesError) as info:
        operation(client)
    assert info.value.exit_code == EXIT_ENVIRONMENT == 253
    assert MANIFEST in info.value.message and "nothing was written" in info.value.message
    assert head(repo_path) == tip
    check()
    # other secrets are still writable, and the edit still survives
    client.update_secret(SecretId="team/other", SecretString="other-new")
    check()
    assert client.get_secret_value(SecretId="team/other")["SecretString"] == "other-new"
    assert not (repo_path / ".git" / JOURNAL_NAME).exists()


def test_untracked_file_where_a_new_version_goes_blocks(repo_path: Path) -> None:
    client = _store_with_two(repo_path)
    token = str(uuid.uuid4())
    target = repo_path / paths.version_path("team/app", token)
    target.write_text("mine, not gitsm's\n")
    tip = head(repo_path)
    with pytest.raises(LocalChangesError):
        client.put_secret_value(SecretId="team/app", SecretString="v", ClientRequestToken=token)
    assert head(repo_path) == tip
    assert target.read_text() == "mine, not gitsm's\n"


def test_unrelated_local_edits_do_not_block_and_survive(repo_path: Path) -> None:
    client = _store_with_two(repo_path)
    other = repo_path / paths.manifest_path("team/other")
    with other.open("a") as fh:
        fh.write("# unstaged\n")
    (repo_path / "README.local").write_text("notes\n")
    (repo_path / "docs").mkdir()
    (repo_path / "docs" / "staged.md").write_text("staged\n")
    git(repo_path, "add", "docs/staged.md")
    before = status(repo_path)
    client.update_secret(SecretId="team/app", SecretString="new-app-value")
    client.create_secret(Name="team/new", SecretString="fresh")
    client.delete_secret(SecretId="team/app", ForceDeleteWithoutRecovery=True)
    assert status(repo_path) == before
    assert other.read_text().endswith("# unstaged\n")
    assert git(repo_path, "diff", "--cached", "--name-only").split() == ["docs/staged.md"]
    assert (repo_path / "README.local").read_text() == "notes\n"
    assert not (repo_path / paths.secret_dir("team/app")).exists()


def test_checkout_of_another_branch_is_left_alone(repo_path: Path) -> None:
    client = _store_with_two(repo_path)
    git(repo_path, "checkout", "-q", "-b", "feature")
    (repo_path / "feature.txt").write_text("feature work\n")
    git(repo_path, "add", "feature.txt")
    git(repo_path, "commit", "-qm", "feature work")
    with (repo_path / MANIFEST).open("a") as fh:
        fh.write("# edit on the feature branch\n")  # a local edit the main-branch store must ignore
    feature_tip, main_tip = head(repo_path), git(repo_path, "rev-parse", "main").strip()
    before = status(repo_path)
    snapshot = {
        p: p.read_bytes() for p in repo_path.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    for store_client in (client, gitsm.client(repo=repo_path, branch="main")):
        store_client.update_secret(SecretId="team/app", SecretString="on-main")
        store_client.create_secret(Name=f"team/more-{uuid.uuid4().hex[:6]}", SecretString="x")
    git(repo_path, "config", "gitsm.branch", "main")
    gitsm.client(repo=repo_path).put_secret_value(SecretId="team/app", SecretString="via-config")
    assert head(repo_path) == feature_tip
    assert git(repo_path, "rev-parse", "--abbrev-ref", "HEAD").strip() == "feature"
    assert git(repo_path, "rev-list", "--count", f"{main_tip}..main").strip() == "5"
    assert status(repo_path) == before
    after = {
        p: p.read_bytes() for p in repo_path.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    assert after == snapshot
    assert client.get_secret_value(SecretId="team/app")["SecretString"] == "via-config"
    git(repo_path, "checkout", "-q", "--", MANIFEST)
    git(repo_path, "checkout", "-q", "main")
    assert_clean(repo_path)


# -- crash recovery -------------------------------------------------------------------------------


def _interrupt_last_sync(path: Path) -> list[str]:
    """Put the paths of HEAD's commit back at HEAD~1 in index and work tree, with the journal."""
    touched = git(path, "diff", "--name-only", "HEAD~1", "HEAD").split()
    previous = set(git(path, "ls-tree", "-r", "--name-only", "HEAD~1").split())
    for file in touched:
        if file in previous:
            git(path, "checkout", "HEAD~1", "--", file)
        else:
            git(path, "rm", "-q", "--cached", file)
            (path / file).unlink()
    gitdir = Path(git(path, "rev-parse", "--absolute-git-dir").strip())
    (gitdir / JOURNAL_NAME).write_text(json.dumps({"paths": touched}))
    assert status(path) != ""
    return touched


@pytest.mark.parametrize(
    "interrupted",
    [
        lambda c: c.update_secret(SecretId="team/app", SecretString="landed-value"),
        lambda c: c.create_secret(Name="team/brand/new", SecretString="landed-value"),
        lambda c: c.delete_secret(SecretId="team/app", ForceDeleteWithoutRecovery=True),
    ],
    ids=["update", "create", "force-delete"],
)
def test_next_write_finishes_an_interrupted_sync(
    repo_path: Path, interrupted: Callable[[SecretsManagerClient], object]
) -> None:
    client = _store_with_two(repo_path)
    interrupted(client)
    touched = _interrupt_last_sync(repo_path)
    assert touched
    tip = head(repo_path)
    client.update_secret(SecretId="team/other", SecretString="next-write")
    assert git(repo_path, "rev-parse", "HEAD~1").strip() == tip
    assert_clean(repo_path)
    assert not (repo_path / ".git" / JOURNAL_NAME).exists()


def test_interrupted_sync_does_not_block_a_write_to_the_same_paths(repo_path: Path) -> None:
    client = _store_with_two(repo_path)
    client.update_secret(SecretId="team/app", SecretString="landed-value")
    _interrupt_last_sync(repo_path)
    client.update_secret(SecretId="team/app", SecretString="after-crash")
    assert_clean(repo_path)
    assert client.get_secret_value(SecretId="team/app")["SecretString"] == "after-crash"
    assert client.get_secret_value(SecretId="team/app", VersionStage="AWSPREVIOUS")[
        "SecretString"
    ] == ("landed-value")


@pytest.mark.parametrize("kind", ["file-for-dir", "dir-for-file", "symlink-dir", "symlink-file"])
def test_things_in_the_way_block_without_writing(
    repo_path: Path, tmp_path: Path, kind: str
) -> None:
    """An untracked file where a new secret's directory goes, a directory where its manifest goes,
    or a symlink on the way must refuse the write; nothing is committed or written through links."""
    client = _store_with_two(repo_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    new_dir = repo_path / paths.secret_dir("team/app/x")
    if kind == "file-for-dir":
        new_dir.write_text("a user's file\n")
    elif kind == "dir-for-file":
        (new_dir / paths.MANIFEST).mkdir(parents=True)
    elif kind == "symlink-dir":
        new_dir.symlink_to(outside, target_is_directory=True)
    else:
        new_dir.mkdir()
        (new_dir / paths.MANIFEST).symlink_to(outside / "target")
    before = status(repo_path)
    tip = head(repo_path)
    with pytest.raises(LocalChangesError):
        client.create_secret(Name="team/app/x", SecretString="blocked-value")
    assert head(repo_path) == tip
    assert status(repo_path) == before
    assert list(outside.iterdir()) == []
    # the store is not wedged: other writes go on
    client.update_secret(SecretId="team/other", SecretString="still-writable")
    assert status(repo_path) == before
