"""While git waits for the user (a merge, rebase, cherry-pick or revert stopped on a conflict, or
unmerged index entries), every write is refused with nothing written; verify names the unmerged
store paths; the fix for an envelope its manifest lost never tells the user to delete it.

Conflicts are made with the git CLI on real checkouts, between branches that gitsm wrote."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import gitsm
from gitsm import paths
from gitsm.awsclient import SecretsManagerClient
from gitsm.cli.app import app
from gitsm.errors import (
    ERROR_TABLE,
    EXIT_ENVIRONMENT,
    LocalChangesError,
    MergeInProgressError,
    StoreError,
)
from gitsm.gitrepo import GitRepo
from gitsm.verify import UNMERGED, run_verify
from tests.conftest import git

MANIFEST = paths.manifest_path("app")
Write = Callable[[SecretsManagerClient], object]

WRITES: dict[str, Write] = {
    "create-secret": lambda c: c.create_secret(Name="fresh", SecretString="fresh-value"),
    "put-secret-value": lambda c: c.put_secret_value(SecretId="other", SecretString="new-value"),
    "update-secret": lambda c: c.update_secret(SecretId="app", Description="during the merge"),
    "tag-resource": lambda c: c.tag_resource(SecretId="other", Tags=[{"Key": "k", "Value": "v"}]),
    "delete-secret": lambda c: c.delete_secret(SecretId="other", RecoveryWindowInDays=7),
}


def try_git(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the git CLI in ``path`` without raising (a stopped merge exits 1)."""
    return subprocess.run(["git", *args], cwd=path, capture_output=True, text=True)


def state(path: Path) -> tuple[str, str, str]:
    """The branch tip, HEAD, and ``git status --porcelain`` (with untracked files)."""
    return (
        git(path, "rev-parse", "refs/heads/main"),
        git(path, "rev-parse", "HEAD"),
        git(path, "status", "--porcelain", "--untracked-files=all"),
    )


def on_branch(path: Path, branch: str, write: Write) -> None:
    """Check out ``branch`` and make one write there through gitsm."""
    git(path, "checkout", "-q", branch)
    write(gitsm.client(repo=path))


def diverged(path: Path) -> None:
    """``main`` and ``topic`` each changed app's description through gitsm, from one base."""
    client = gitsm.client(repo=path)
    client.create_secret(Name="app", SecretString="app-value", Description="base")
    client.create_secret(Name="other", SecretString="other-value")
    git(path, "branch", "topic")
    client.update_secret(SecretId="app", Description="ours")
    on_branch(path, "topic", lambda c: c.update_secret(SecretId="app", Description="theirs"))
    git(path, "checkout", "-q", "main")


@pytest.fixture
def merging(repo_path: Path) -> Path:
    """A checkout stopped in ``git merge topic`` with a conflict in app's manifest."""
    diverged(repo_path)
    merged = try_git(repo_path, "merge", "topic")
    assert merged.returncode == 1 and "CONFLICT" in merged.stdout
    assert (repo_path / ".git" / "MERGE_HEAD").exists()
    return repo_path


def cli(path: Path, *args: str) -> tuple[int, str, str]:
    """Run ``gitsm --repo PATH ARGS...`` in-process: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(app, ["--repo", str(path), *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_error_is_an_environment_error() -> None:
    assert issubclass(MergeInProgressError, StoreError)
    assert ERROR_TABLE["MergeInProgress"][1] == EXIT_ENVIRONMENT == 253


@pytest.mark.parametrize("name", WRITES)
def test_every_write_is_refused_mid_merge_with_nothing_written(merging: Path, name: str) -> None:
    client = gitsm.client(repo=merging)
    assert not hasattr(client.exceptions, "MergeInProgress")  # not a service error
    before = state(merging)
    with pytest.raises(MergeInProgressError) as info:
        WRITES[name](client)
    message = info.value.message
    assert message.startswith(f"A merge is in progress in {merging} (MERGE_HEAD exists).")
    assert "git merge --abort" in message and "git commit" in message
    assert message.endswith("nothing was written.")
    assert info.value.exit_code == 253
    assert state(merging) == before
    assert not (merging / ".git" / "gitsm-worktree.json").exists()


def test_the_cli_exits_253_naming_merge_abort(merging: Path) -> None:
    before = state(merging)
    code, out, err = cli(merging, "put-secret-value", "--secret-id", "other",
                         "--secret-string", "cli-value")  # fmt: skip
    assert code == 253 and out == ""
    assert "A merge is in progress" in err and "git merge --abort" in err
    assert "Internal error" not in err
    assert state(merging) == before


def test_writes_work_again_after_the_merge_is_aborted(merging: Path) -> None:
    git(merging, "merge", "--abort")
    client = gitsm.client(repo=merging)
    client.put_secret_value(SecretId="other", SecretString="after-abort")
    client.update_secret(SecretId="app", Description="after-abort")
    assert client.get_secret_value(SecretId="other")["SecretString"] == "after-abort"
    assert git(merging, "status", "--porcelain") == ""
    assert git(merging, "log", "-1", "--format=%s").strip() == "UpdateSecret app"


def test_a_stopped_rebase_is_refused(repo_path: Path) -> None:
    diverged(repo_path)
    rebased = try_git(repo_path, "rebase", "topic")
    assert rebased.returncode != 0
    assert (repo_path / ".git" / "rebase-merge").is_dir()
    before = state(repo_path)
    with pytest.raises(MergeInProgressError) as info:
        gitsm.client(repo=repo_path).update_secret(SecretId="other", Description="mid-rebase")
    message = info.value.message
    assert message.startswith(f"A rebase is in progress in {repo_path} (rebase-merge/ exists).")
    assert "git rebase --continue" in message and "git rebase --abort" in message
    code, _, err = cli(repo_path, "tag-resource", "--secret-id", "other",
                       "--tags", "Key=k,Value=v")  # fmt: skip
    assert code == 253 and "git rebase --continue" in err and "git rebase --abort" in err
    assert state(repo_path) == before


def test_a_stopped_cherry_pick_is_refused(repo_path: Path) -> None:
    diverged(repo_path)
    picked = try_git(repo_path, "cherry-pick", "topic")
    assert picked.returncode != 0 and (repo_path / ".git" / "CHERRY_PICK_HEAD").exists()
    before = state(repo_path)
    with pytest.raises(MergeInProgressError) as info:
        gitsm.client(repo=repo_path).create_secret(Name="fresh", SecretString="fresh-value")
    assert "A cherry-pick is in progress" in info.value.message
    assert "git cherry-pick --continue" in info.value.message
    assert "git cherry-pick --abort" in info.value.message
    assert state(repo_path) == before


def test_a_stopped_revert_is_refused(repo_path: Path) -> None:
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="app", SecretString="app-value", Description="one")
    client.update_secret(SecretId="app", Description="two")
    client.update_secret(SecretId="app", Description="three")
    reverted = try_git(repo_path, "revert", "--no-edit", "HEAD~1")
    assert reverted.returncode != 0 and (repo_path / ".git" / "REVERT_HEAD").exists()
    before = state(repo_path)
    with pytest.raises(MergeInProgressError) as info:
        client.update_secret(SecretId="app", Description="four")
    assert "A revert is in progress" in info.value.message
    assert "git revert --abort" in info.value.message
    assert state(repo_path) == before


def test_unmerged_entries_without_an_operation_are_refused(repo_path: Path) -> None:
    """``git stash pop`` that conflicts leaves unmerged entries and no MERGE_HEAD."""
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="app", SecretString="app-value", Description="base")
    client.create_secret(Name="other", SecretString="other-value")
    manifest = repo_path / MANIFEST
    manifest.write_text(manifest.read_text().replace('"base"', '"stashed"'))
    git(repo_path, "stash")
    client.update_secret(SecretId="app", Description="committed")
    popped = try_git(repo_path, "stash", "pop")
    assert popped.returncode != 0 and not (repo_path / ".git" / "MERGE_HEAD").exists()
    before = state(repo_path)
    with pytest.raises(MergeInProgressError) as info:
        client.put_secret_value(SecretId="other", SecretString="new-value")
    assert "has unmerged paths (" in info.value.message and MANIFEST in info.value.message
    assert info.value.message.endswith("nothing was written.")
    assert state(repo_path) == before


def test_local_changes_check_reads_a_conflicted_index(merging: Path) -> None:
    """The clean check used to fail with KeyError on a path that has only conflict stages."""
    repo = GitRepo.open(merging)
    with pytest.raises(LocalChangesError) as info:
        repo._check_clean(repo.tip(), [MANIFEST, paths.manifest_path("other")])
    assert MANIFEST in info.value.message
    assert paths.manifest_path("other") not in info.value.message


def test_a_merge_in_a_linked_worktree_blocks_that_worktree_only(repo_path: Path) -> None:
    diverged(repo_path)
    linked = repo_path.parent / "linked"
    git(repo_path, "worktree", "add", "-q", "-b", "side", str(linked), "main")
    merged = try_git(linked, "merge", "topic")
    assert merged.returncode == 1
    with pytest.raises(MergeInProgressError) as info:
        gitsm.client(repo=linked).update_secret(SecretId="other", Description="linked")
    assert f"in progress in {linked} " in info.value.message
    # the main checkout has no merge going on: its branch is still writable
    gitsm.client(repo=repo_path).update_secret(SecretId="other", Description="main")
    assert git(repo_path, "log", "-1", "--format=%s", "main").strip() == "UpdateSecret other"


def test_verify_reports_the_unmerged_store_paths(merging: Path) -> None:
    (merging / "README.md").write_text("conflict-free\n")
    expected = (
        f"{MANIFEST}: is unmerged (a merge or rebase left a conflict here) (resolve it: with the "
        "gitsm merge driver installed (gitsm init) re-run the merge, or edit the file, then git "
        "add it)"
    )
    for staged in (False, True):
        problems = run_verify(merging, staged=staged, leaks=False)
        assert [str(p) for p in problems if p.problem == UNMERGED] == [expected]
    assert not [p for p in run_verify(merging, rev="HEAD") if p.problem == UNMERGED]
    for args in (["verify"], ["verify", "--staged", "--no-leak-guard"]):
        code, out, err = cli(merging, *args)
        assert code == 1 and expected in out.splitlines(), err


def test_verify_of_a_conflicted_index_still_checks_the_other_staged_secrets(
    merging: Path,
) -> None:
    """Other staged changes are checked (the unmerged path taken at 'ours'); app is held back."""
    broken = merging / paths.manifest_path("other")
    broken.write_text(broken.read_text().replace("format: 1", "format: 99"))
    git(merging, "add", str(broken))
    found = {p.path: p.problem for p in run_verify(merging, staged=True, leaks=False)}
    assert found[MANIFEST] == UNMERGED
    assert "newer than this gitsm reads" in found[paths.manifest_path("other")]


def test_an_envelope_a_lossy_merge_dropped_gets_a_fix_that_keeps_it(repo_path: Path) -> None:
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="app", SecretString="app-value")
    git(repo_path, "branch", "topic")
    client.put_secret_value(SecretId="app", SecretString="ours-value")
    on_branch(repo_path, "topic",
              lambda c: c.put_secret_value(SecretId="app", SecretString="teammate-value"))  # fmt: skip
    written = git(repo_path, "rev-parse", "HEAD").strip()
    git(repo_path, "checkout", "-q", "main")
    assert try_git(repo_path, "merge", "topic").returncode == 1
    # resolve the manifest by keeping only our side: the teammate's envelope stays, unlisted
    git(repo_path, "checkout", "--ours", "--", MANIFEST)
    git(repo_path, "add", MANIFEST)
    git(repo_path, "commit", "-q", "--no-edit")
    (orphan,) = [p for p in run_verify(repo_path) if "manifest does not list" in p.problem]
    assert orphan.path.startswith(paths.secret_dir("app") + "/" + paths.VERSIONS + "/")
    assert "git rm" not in orphan.fix and "delete" not in orphan.fix
    assert "teammate" in orphan.fix and "merge" in orphan.fix
    command = f"git log --all --diff-filter=A -- {orphan.path}"
    assert command in orphan.fix
    # the command it names finds the commit that wrote the envelope
    log, *rest = command.split()[1:]
    found = git(repo_path, log, "--format=%H", *rest).split()
    assert found == [written]
