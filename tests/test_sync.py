"""gitsm sync between real clones of one origin served by ``git daemon`` on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import gitsm
from gitsm import paths
from gitsm.errors import LocalChangesError, RemoteError, SyncConflict
from gitsm.model import AWSCURRENT, AWSPREVIOUS
from gitsm.store import SecretStore
from gitsm.verify import run_verify
from tests.gitremote import Daemon, clone, fsck, run_git


class Team:
    """An origin on the daemon holding a store with secret ``app``, and clones of it."""

    def __init__(self, tmp_path: Path, daemon: Daemon) -> None:
        self.tmp = tmp_path
        self.url = daemon.new_origin(f"{tmp_path.name}.git")
        seed = tmp_path / "seed"
        gitsm.init(seed)
        store = SecretStore.open(seed)
        store.create_secret("app", secret_string="first value")  # makes the default key: the
        store.create_secret("other", secret_string="other value")  # clones share GITSM_HOME
        run_git(seed, "remote", "add", "origin", self.url)
        store.sync()

    def clone(self, name: str) -> SecretStore:
        """A fresh clone of the origin, opened as a store."""
        return SecretStore.open(clone(self.url, self.tmp / name))

    def origin_tip(self) -> str:
        """The origin's main, as git ls-remote sees it."""
        return run_git(self.tmp, "ls-remote", self.url, "refs/heads/main").stdout.split()[0]


@pytest.fixture
def team(tmp_path: Path, git_daemon: Daemon) -> Iterator[Team]:
    yield Team(tmp_path, git_daemon)


def path_of(store: SecretStore) -> Path:
    assert store.repo.workdir is not None
    return store.repo.workdir


def stages(store: SecretStore, name: str = "app") -> dict[str, list[str]]:
    secret = store._load(store.repo.tip(), name)
    assert secret is not None
    return secret.stage_map()


def assert_clean(store: SecretStore) -> None:
    """Work tree and index match the tip, the tip verifies, the repository is sound."""
    path = path_of(store)
    assert run_git(path, "status", "--porcelain").stdout == ""
    assert run_verify(path) == []
    fsck(path)


def test_concurrent_writes_replay_in_push_order(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    a = alice.update_secret("app", secret_string="alice's value").version_id
    b = bob.update_secret("app", secret_string="bob's value").version_id
    bob.tag_resource("app", [{"Key": "team", "Value": "payments"}])
    assert bob.sync().pushed
    report = alice.sync()
    assert report.pushed and [o.outcome for o in report.operations] == ["replayed"]
    assert team.origin_tip() == alice.repo.tip().commit_id == report.after
    labels = stages(alice)
    assert labels[a] == [AWSCURRENT] and labels[b] == [AWSPREVIOUS]  # alice pushed last
    assert alice.get_secret_value("app").secret_string == "alice's value"
    assert alice.get_secret_value("app", version_id=b).secret_string == "bob's value"
    assert alice.describe_secret("app").tags == [("team", "payments")]
    parents = run_git(path_of(alice), "log", "--format=%p", "main").stdout.split("\n")
    assert all(len(p.split()) <= 1 for p in parents), "sync never makes merge commits"
    # the replayed commit is the same operation: message and author kept, new parent
    local = run_git(path_of(alice), "log", "-1", "--format=%B%an%ae", report.operations[0].commit)
    replayed = run_git(path_of(alice), "log", "-1", "--format=%B%an%ae", "main")
    assert local.stdout == replayed.stdout and f"Gitsm-Version-Id: {a}" in replayed.stdout
    assert_clean(alice)
    assert bob.sync().fast_forward
    assert bob.repo.tip().commit_id == alice.repo.tip().commit_id
    assert_clean(bob)


def test_nothing_to_do_and_first_push(team: Team, git_daemon: Daemon, tmp_path: Path) -> None:
    alice = team.clone("alice")
    report = alice.sync()
    assert not report.pushed and report.after == report.before == team.origin_tip()
    fresh = tmp_path / "fresh"
    gitsm.init(fresh)
    url = git_daemon.new_origin(f"{tmp_path.name}-empty.git")
    store = SecretStore.open(fresh)
    store.create_secret("x", secret_string="x value")
    run_git(fresh, "remote", "add", "origin", url)
    first = store.sync()
    assert first.pushed and [o.outcome for o in first.operations] == ["pushed"] * 2
    assert run_git(tmp_path, "ls-remote", url, "refs/heads/main").stdout.split()[0] == first.after


def test_every_operation_replays_exactly(team: Team) -> None:
    """Secrets only alice touched end up byte for byte as alice wrote them, on top of bob's."""
    alice, bob = team.clone("alice"), team.clone("bob")
    alias_key = alice.create_local_key()
    alice.create_key_alias("alias/alice", [alias_key])
    alice.create_secret(
        "a/one", secret_string="one", description="d", tags=[{"Key": "k", "Value": "v"}]
    )
    alice.put_secret_value("a/one", secret_string="pending", version_stages=["AWSPENDING"])
    v3 = alice.update_secret("a/one", secret_string="three").version_id
    assert v3 is not None
    alice.update_secret_version_stage("a/one", "BLUE", move_to_version_id=v3)
    alice.update_secret("a/one", description="new description")
    alice.untag_resource("a/one", ["k"])
    alice.tag_resource("a/one", [{"Key": "x", "Value": "y"}])
    alice.create_secret("a/two", secret_binary=b"\x00\x01", kms_key_id="alias/alice")
    alice.delete_secret("a/two", recovery_window_in_days=7)
    alice.restore_secret("a/two")
    alice.tag_resource("a/two", [{"Key": "t", "Value": "1"}])
    alice.untag_resource("a/two", ["t"])  # its last tag: "tags: []" replays too
    alice.create_secret("a/gone", secret_string="gone")
    alice.delete_secret("a/gone", force_delete_without_recovery=True)
    alice.delete_secret("other", recovery_window_in_days=30)
    bob.create_secret("b/one", secret_string="bob")
    bob.update_secret("app", secret_string="bob again")
    bob.sync()
    before = alice.repo.tip()
    report = alice.sync()
    assert not report.failed and report.pushed
    after = alice.repo.tip()
    for name in ("a/one", "a/two", "other"):
        for path in [paths.manifest_path(name), *after.files_under(paths.secret_dir(name))]:
            assert after.read(path) == before.read(path), path
    assert not after.is_dir(paths.secret_dir("a/gone"))
    assert b"\ntags: []\n" in after.read(paths.manifest_path("a/two"))
    assert alice.describe_key_alias("alias/alice").recipients[0].key_id == alias_key
    assert after.read(paths.manifest_path("b/one")) is not None
    assert alice.get_secret_value("a/one").secret_string == "three"
    assert alice.get_secret_value("a/two").secret_binary == b"\x00\x01"
    assert_clean(alice)


def test_same_token_after_sync_is_a_retry(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    token = "retry-token-0123456789abcdef0123456789"
    first = alice.put_secret_value("app", secret_string="once", client_request_token=token)
    bob.update_secret("app", secret_string="bob")
    bob.sync()
    alice.sync()
    tip = alice.repo.tip().commit_id
    again = alice.put_secret_value("app", secret_string="once", client_request_token=token)
    assert again.version_id == first.version_id == token and alice.repo.tip().commit_id == tip
    bob.sync()
    assert (
        bob.put_secret_value("app", secret_string="once", client_request_token=token).version_id
        == token
    )
    assert bob.repo.tip().commit_id == tip
    with pytest.raises(Exception, match="already in use") as info:
        bob.put_secret_value("app", secret_string="other", client_request_token=token)
    assert type(info.value).__name__ == "ResourceExistsException"


def test_writes_already_upstream_are_not_replayed_twice(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync that dies after its push, before the local branch moved, is finished by the next:
    the replayed label move, tag and description are not applied a second time."""
    alice, bob = team.clone("alice"), team.clone("bob")
    v = alice.put_secret_value("app", secret_string="mine").version_id
    assert v is not None
    alice.update_secret_version_stage("app", "GREEN", move_to_version_id=v)
    alice.tag_resource("other", [{"Key": "k", "Value": "v"}])
    alice.update_secret("other", description="alice's")
    bob.update_secret("app", secret_string="bob")
    bob.sync()
    local = alice.repo.tip().commit_id

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("killed after the push")

    with monkeypatch.context() as patch:
        patch.setattr(type(alice.repo), "advance", killed)
        with pytest.raises(KeyboardInterrupt):
            alice.sync()
    pushed = team.origin_tip()
    assert alice.repo.tip().commit_id == local != pushed  # pushed, local branch not moved
    alice.tag_resource("other", [{"Key": "later", "Value": "1"}])  # a new local write meanwhile
    bob.update_secret("other", description="bob's")  # and the next upstream write on top
    bob.sync()
    again = alice.sync()
    outcomes = [o.outcome for o in again.operations]
    assert outcomes == ["already-upstream"] * 4 + ["replayed"]
    described = alice.describe_secret("other")
    assert described.description == "bob's"  # alice's older update is not replayed over it
    assert described.tags == [("k", "v"), ("later", "1")]
    assert "GREEN" in stages(alice)[v]
    assert run_git(path_of(alice), "for-each-ref", "refs/gitsm/sync").stdout == ""
    assert_clean(alice)


def test_same_token_with_another_value_upstream_is_refused(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    token = "shared-token-0123456789abcdef01234567"
    alice.put_secret_value("app", secret_string="alice", client_request_token=token)
    bob.put_secret_value("app", secret_string="bob", client_request_token=token)
    bob.sync()
    with pytest.raises(SyncConflict, match="ClientRequestToken") as info:
        alice.sync()
    assert "ResourceExistsException" in info.value.message and "redo:" in info.value.message
    assert alice.get_secret_value("app", version_id=token).secret_string == "bob"


def test_a_new_version_past_the_quota_upstream_is_refused(team: Team) -> None:
    """Replay keeps the quota of versions of a secret: a version that would make the upstream
    secret hold more than 200 (none prunable) is refused, and the other clone's state stands."""
    alice, bob = team.clone("alice"), team.clone("bob")
    alice.put_secret_value("app", secret_string="alice")
    bob.repo.auto_pack = False
    for i in range(199):  # 200 versions, all younger than 24 hours
        bob.put_secret_value("app", secret_string=f"bob {i}")
    bob.sync()
    with pytest.raises(SyncConflict, match="the quota for versions of a secret") as info:
        alice.sync()
    assert "redo: remove labels from versions of app" in info.value.message
    assert len(alice._load(alice.repo.tip(), "app").versions) == 200  # type: ignore[union-attr]


def test_label_move_whose_remove_from_lost_the_label(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    old = stages(alice)
    v1 = next(iter(old))
    v2 = alice.update_secret("app", secret_string="v2").version_id
    alice.sync()
    bob.sync()
    # alice rolls back to v1; meanwhile bob puts v3, so v2 no longer holds AWSCURRENT upstream
    alice.update_secret_version_stage("app", AWSCURRENT, move_to_version_id=v1,
                                      remove_from_version_id=v2)  # fmt: skip
    alice.tag_resource("other", [{"Key": "kept", "Value": "yes"}])
    v3 = bob.update_secret("app", secret_string="v3").version_id
    bob.sync()
    local = alice.repo.tip().commit_id
    with pytest.raises(SyncConflict) as info:
        alice.sync()
    report = info.value.report
    message = info.value.message
    assert (
        "UpdateSecretVersionStage app" in message
        and "redo: gitsm update-secret-version-stage" in message
    )
    assert [o.outcome for o in report.operations] == ["failed", "replayed"]
    assert report.pushed and team.origin_tip() == alice.repo.tip().commit_id
    assert report.unsynced_ref and report.unsynced_ref.startswith("refs/gitsm/unsynced/main/")
    assert run_git(path_of(alice), "rev-parse", report.unsynced_ref).stdout.strip() == local
    assert report.unsynced_ref in message
    assert stages(alice)[v3] == [AWSCURRENT]  # the failed move did not land
    assert alice.describe_secret("other").tags == [("kept", "yes")]
    assert_clean(alice)


def test_later_operations_on_a_failed_secret_are_held(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    alice.tag_resource("app", [{"Key": "k", "Value": "1"}])
    alice.update_secret("app", description="held back")
    alice.tag_resource("other", [{"Key": "k", "Value": "2"}])
    bob.delete_secret("app", force_delete_without_recovery=True)
    bob.sync()
    with pytest.raises(SyncConflict, match="no longer exists upstream") as info:
        alice.sync()
    outcomes = [(o.secrets, o.outcome) for o in info.value.report.operations]
    assert outcomes == [(["app"], "failed"), (["app"], "held"), (["other"], "replayed")]
    assert alice.describe_secret("other").tags == [("k", "2")]


def test_write_to_secret_scheduled_for_deletion_upstream(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    alice.put_secret_value("app", secret_string="late")
    bob.delete_secret("app", recovery_window_in_days=7)
    bob.sync()
    with pytest.raises(SyncConflict, match="scheduled for deletion upstream") as info:
        alice.sync()
    assert "restore-secret" in info.value.message


def test_name_created_twice(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    alice.create_secret("new", secret_string="alice")
    bob.create_secret("new", secret_string="bob")
    bob.sync()
    with pytest.raises(SyncConflict, match="already exists") as info:
        alice.sync()
    assert "ResourceExistsException" in info.value.message
    assert alice.get_secret_value("new").secret_string == "bob"


def test_key_change_when_upstream_added_a_version_under_the_old_key(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    alice.create_key_alias("alias/new", [alice.create_local_key()])
    alice.sync()
    bob.sync()
    alice.update_secret("app", kms_key_id="alias/new")
    bob.update_secret("app", secret_string="under the old key")
    bob.sync()
    with pytest.raises(SyncConflict, match="wrapped for the old key") as info:
        alice.sync()
    assert "gitsm update-secret --secret-id app --kms-key-id alias/new" in info.value.message


def test_two_clones_add_aliases_and_recipients(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    keys = [alice.create_local_key() for _ in range(4)]
    alice.create_key_alias("alias/shared", [keys[0]])
    alice.sync()
    bob.sync()
    alice.create_key_alias("alias/alice", [keys[1]])
    alice.add_key_recipients("alias/shared", [keys[2]])
    bob.create_key_alias("alias/bob", [keys[1]])
    bob.add_key_recipients("alias/shared", [keys[3]])
    bob.sync()
    alice.sync()
    config = alice.config()
    assert {"alias/alice", "alias/bob", "alias/shared"} <= set(config.keys)
    assert [r["key_id"] for r in config.keys["alias/shared"]] == [keys[0], keys[3], keys[2]]
    assert_clean(alice)


def test_commits_outside_the_store_rebase_like_git(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    a, b = path_of(alice), path_of(bob)
    (b / "README.md").write_text("one\ntwo\nthree\nfour\nfive\n")
    run_git(b, "add", "README.md")
    run_git(b, "commit", "-q", "-m", "Add a README")
    bob.sync()
    alice.sync()
    (a / "README.md").write_text("one\ntwo (alice)\nthree\nfour\nfive\n")
    run_git(a, "commit", "-q", "-am", "README: alice's line")
    alice.update_secret("app", secret_string="alice")
    (b / "README.md").write_text("one\ntwo\nthree\nfour\nfive (bob)\n")
    run_git(b, "commit", "-q", "-am", "README: bob's line")
    bob.sync()
    report = alice.sync()
    assert [o.outcome for o in report.operations] == ["replayed", "replayed"]
    assert (a / "README.md").read_text() == "one\ntwo (alice)\nthree\nfour\nfive (bob)\n"
    assert_clean(alice)
    assert bob.sync().fast_forward
    (a / "README.md").write_text("alice rewrote it\n")
    run_git(a, "commit", "-q", "-am", "README: alice rewrites")
    (b / "README.md").write_text("bob rewrote it\n")
    run_git(b, "commit", "-q", "-am", "README: bob rewrites")
    bob.sync()
    with pytest.raises(SyncConflict, match="rebase this commit by hand"):
        alice.sync()


def test_plain_commit_that_changes_the_store_stops_the_sync(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    a = path_of(alice)
    manifest = a / paths.manifest_path("app")
    manifest.write_text(
        manifest.read_text().replace("versions:", 'description: "by hand"\nversions:')
    )
    run_git(a, "commit", "-q", "-am", "edit the manifest by hand")
    bob.update_secret("app", secret_string="bob")
    bob.sync()
    with pytest.raises(SyncConflict, match="not a gitsm operation"):
        alice.sync()


@pytest.mark.parametrize("split", [False, True], ids=["index", "split-index"])
def test_local_edits_in_the_way_stop_the_sync_before_it_pushes(team: Team, split: bool) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    if split:  # git's split index, which libgit2 cannot read: gitsm reads it itself
        run_git(path_of(alice), "config", "core.splitIndex", "true")
        run_git(path_of(alice), "update-index", "--split-index")
    alice.tag_resource("other", [{"Key": "k", "Value": "v"}])
    bob.update_secret("app", secret_string="bob")
    bob.sync()
    upstream = team.origin_tip()
    manifest = path_of(alice) / paths.manifest_path("app")
    manifest.write_text(manifest.read_text() + "# local edit\n")
    with pytest.raises(LocalChangesError):
        alice.sync()
    assert team.origin_tip() == upstream


def test_no_remote(tmp_path: Path) -> None:
    store = gitsm.init(tmp_path / "alone")
    with pytest.raises(RemoteError, match="git remote add origin"):
        store.sync()


def test_unreachable_remote(tmp_path: Path) -> None:
    store = gitsm.init(tmp_path / "s")
    run_git(tmp_path / "s", "remote", "add", "origin", "git://127.0.0.1:9/nothing.git")
    with pytest.raises(RemoteError, match="could not fetch from origin"):
        store.sync()


def test_cli_sync(team: Team) -> None:
    from tests.cli.conftest import run_gitsm

    alice, bob = team.clone("alice"), team.clone("bob")
    alice.put_secret_value("app", secret_string="a")
    bob.delete_secret("app", force_delete_without_recovery=True)
    bob.sync()
    alice.tag_resource("other", [{"Key": "k", "Value": "v"}])
    out = run_gitsm(["sync"], cwd=path_of(alice))
    assert out.returncode == 254, out.stderr
    data = json.loads(out.stdout)
    assert [o["Outcome"] for o in data["Operations"]] == ["failed", "replayed"]
    assert data["Pushed"] is True and data["UnsyncedRef"].startswith("refs/gitsm/unsynced/")
    assert b"SyncConflict" in out.stderr and b"no longer exists upstream" in out.stderr
    again = run_gitsm(["sync", "--output", "text", "--query", "Pushed"], cwd=path_of(alice))
    assert again.returncode == 0 and again.stdout.strip() == b"False"
    lone = run_gitsm(["sync", "--remote", "nope"], cwd=path_of(alice))
    assert lone.returncode == 253 and b"no git remote 'nope'" in lone.stderr


def test_cli_sync_checks_the_query_first_and_reports_what_it_pushed(team: Team) -> None:
    from tests.cli.conftest import run_gitsm

    alice = team.clone("alice")
    alice.put_secret_value("app", secret_string="from alice")
    upstream = team.origin_tip()
    refused = run_gitsm(["sync", "--query", "foo(After)"], cwd=path_of(alice))
    assert refused.returncode == 252 and b"Unknown function: foo()" in refused.stderr
    assert team.origin_tip() == upstream  # nothing fetched into the branch, nothing pushed
    pushed = run_gitsm(["sync", "--query", "abs(After)"], cwd=path_of(alice))
    assert pushed.returncode == 0 and pushed.stdout == b"", pushed.stderr
    tip = alice.repo.tip().commit_id
    assert team.origin_tip() == tip != upstream
    assert f"Sync took effect (After {tip}, Pushed True)".encode() in pushed.stderr
    # a sync that pushed some operations and could not replay another: the conflict is the
    # news (254), and the warning says the output is missing
    bob = team.clone("bob")
    bob.delete_secret("app", force_delete_without_recovery=True)
    bob.tag_resource("other", [{"Key": "k", "Value": "v"}])
    bob.sync()
    alice.put_secret_value("app", secret_string="Alice-Value-2f17")
    alice.tag_resource("other", [{"Key": "k2", "Value": "v2"}])
    conflict = run_gitsm(["sync", "--query", "abs(After)"], cwd=path_of(alice))
    assert conflict.returncode == 254 and conflict.stdout == b""
    assert b"Sync took effect" in conflict.stderr and b"SyncConflict" in conflict.stderr
    assert b"Alice-Value-2f17" not in conflict.stderr


def test_sync_is_refused_while_a_merge_is_unfinished(team: Team) -> None:
    from gitsm.errors import MergeInProgressError

    alice, bob = team.clone("alice"), team.clone("bob")
    alice.update_secret("app", description="alice's")
    bob.update_secret("app", description="bob's")
    bob.sync()
    upstream = team.origin_tip()
    pulled = run_git(
        path_of(alice), "pull", "--no-rebase", "--no-edit", "origin", "main", check=False
    )
    assert pulled.returncode != 0  # no merge driver here: a textual conflict
    with pytest.raises(MergeInProgressError, match="git merge --abort"):
        alice.sync()
    assert team.origin_tip() == upstream
    run_git(path_of(alice), "merge", "--abort")
    alice.sync()
    assert alice.describe_secret("app").description == "alice's"  # pushed last


def test_quick_path_when_there_is_nothing_to_do(team: Team) -> None:
    """A sync with nothing to do answers from one fetch without loading the store (no pygit2),
    with exactly the report the full command prints."""
    from gitsm.cli.agent.native import is_native, python_launcher
    from tests.cli.conftest import GITSM_BIN

    alice = team.clone("alice")
    cwd = path_of(alice)
    # the Python launcher, as the console script or the native launcher (for no agent) runs it
    python = (
        python_launcher(GITSM_BIN) if is_native(GITSM_BIN) else [sys.executable, str(GITSM_BIN)]
    )

    def sync(*extra: str) -> tuple[dict[str, object], str]:
        proc = subprocess.run([python[0], "-X", "importtime", *python[1:], "sync", *extra],
                              cwd=cwd, capture_output=True, text=True)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout), proc.stderr

    quick, imports = sync()
    assert " pygit2" not in imports and " typer" not in imports
    full, imports = sync("--debug")  # an option the quick path leaves to the full command
    assert " pygit2" in imports
    assert quick == full and quick["Before"] == quick["After"] == team.origin_tip()
    alice.tag_resource("app", [{"Key": "k", "Value": "v"}])  # now there is something to push
    pushed, imports = sync()
    assert pushed["Pushed"] is True and " pygit2" in imports
    assert team.origin_tip() == alice.repo.tip().commit_id


def test_clones_with_a_split_index(team: Team) -> None:
    """A sync's fast-forward (git read-tree on a private copy of the index) and its replay work
    in checkouts whose index git keeps split (core.splitIndex), which libgit2 cannot read."""
    alice, bob = team.clone("alice"), team.clone("bob")
    for store in (alice, bob):
        run_git(path_of(store), "config", "core.splitIndex", "true")
        run_git(path_of(store), "update-index", "--split-index")
    alice.update_secret("app", secret_string="alice's value")
    assert alice.sync().pushed
    bob.update_secret("other", secret_string="bob's value")
    assert bob.sync().pushed  # bob's write replayed on alice's
    assert alice.sync().fast_forward
    for store in (alice, bob):
        assert store.get_secret_value("other").secret_string == "bob's value"
        assert store.get_secret_value("app").secret_string == "alice's value"
        assert_clean(store)
        assert list(path_of(store).joinpath(".git").glob("sharedindex.*"))
