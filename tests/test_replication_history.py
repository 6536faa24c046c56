"""Replication across clones and in history: ``gitsm sync`` replays the replication operations,
``gitsm verify --range`` recognises exactly their change, the merge driver merges replica Regions,
and the strict reader and ``gitsm verify`` bound the manifest's ``replicas``."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import gitsm
from gitsm import paths
from gitsm.errors import MalformedStoreFile, SyncConflict
from gitsm.manifest import dump_secret, load_secret
from gitsm.merge3 import merge_secret
from gitsm.model import Secret
from gitsm.rangecheck import verify_range
from gitsm.store import SecretStore
from gitsm.verify import run_verify
from tests.gitremote import run_git
from tests.test_mergedriver import two_clones
from tests.test_rangecheck import forge, trailers
from tests.test_sync import Team, assert_clean, team

__all__ = ["team"]

T0 = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf"


def manifest(store: SecretStore, name: str = "app") -> bytes:
    return store.repo.tip().read(paths.manifest_path(name)) or b""


# -- gitsm sync ----------------------------------------------------------------------------------


def test_replication_replays_on_top_of_upstreams_replicas(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    alice.replicate_secret_to_regions("app", [{"Region": "eu-west-1"}, {"Region": "us-west-2"}])
    alice.remove_regions_from_replication("app", ["us-west-2"])
    alice.create_secret("a/new", secret_string="v", add_replica_regions=[{"Region": "ap-south-1"}])
    bob.replicate_secret_to_regions("app", [{"Region": "us-west-2"}, {"Region": "eu-north-1"}])
    bob.sync()
    report = alice.sync()
    assert not report.failed and report.pushed
    assert [o.outcome for o in report.operations] == ["replayed"] * 3
    # bob's us-west-2 came first; alice then added eu-west-1 and removed us-west-2
    assert alice.describe_secret("app").replicas == ["eu-north-1", "eu-west-1"]
    assert alice.describe_secret("a/new").replicas == ["ap-south-1"]
    assert_clean(alice)
    assert verify_range(alice.repo.workdir or alice.repo.gitdir, "..main") == []


def test_a_replication_already_upstream_is_already_done(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    alice.replicate_secret_to_regions("app", [{"Region": "eu-west-1"}])
    bob.replicate_secret_to_regions("app", [{"Region": "eu-west-1"}])
    bob.sync()
    report = alice.sync()
    assert [o.outcome for o in report.operations] == ["already-upstream"]
    assert alice.describe_secret("app").replicas == ["eu-west-1"]


def test_a_deletion_of_a_secret_replicated_upstream_is_refused(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    alice.delete_secret("other", recovery_window_in_days=7)
    bob.replicate_secret_to_regions("other", [{"Region": "eu-west-1"}])
    bob.sync()
    with pytest.raises(SyncConflict, match="upstream replicated other to eu-west-1") as info:
        alice.sync()
    assert "remove-regions-from-replication --secret-id other" in info.value.message
    assert alice.describe_secret("other").deleted_date is None


# -- gitsm verify --range ------------------------------------------------------------------------


@pytest.fixture
def history(tmp_path: Path) -> tuple[SecretStore, str]:
    """A store whose history holds every replication operation, and its tip's commit."""
    store = gitsm.init(tmp_path / "store")
    store.create_secret("app", secret_string="v", add_replica_regions=[{"Region": "eu-west-1"}])
    store.replicate_secret_to_regions("app", [{"Region": "us-west-2"}, {"Region": "eu-west-1"}])
    store.remove_regions_from_replication("app", ["eu-west-1", "ap-south-1"])
    store.create_secret("plain", secret_string="p")
    store.replicate_secret_to_regions("plain", [{"Region": "eu-west-1"}])
    return store, str(store.repo.tip().commit_id)


def problems(store: SecretStore, base: str) -> list[str]:
    where = store.repo.workdir or store.repo.gitdir
    return [str(p) for p in verify_range(where, f"{base}..main")]


def test_every_replication_commit_verifies(history: tuple[SecretStore, str]) -> None:
    store, _ = history
    assert problems(store, "") == []


def test_replicas_changed_otherwise_than_the_trailers_say(
    history: tuple[SecretStore, str],
) -> None:
    store, base = history
    app = store.describe_secret("app")
    arn = app.arn
    wider = replace(app, replicas=[*app.replicas, "eu-north-1", "ap-east-1"])
    forge(store, {paths.manifest_path("app"): dump_secret(wider)},
          trailers("ReplicateSecretToRegions", "app", Secret_Arn=arn,
                   Replica_Regions=json.dumps(["eu-north-1"])))  # fmt: skip
    forge(store, {paths.manifest_path("app"): dump_secret(app)},
          trailers("TagResource", "app", Secret_Arn=arn))  # fmt: skip
    plain = store.describe_secret("plain")
    forge(store, {paths.manifest_path("plain"): dump_secret(replace(plain, replicas=[]))},
          trailers("RemoveRegionsFromReplication", "plain", Secret_Arn=plain.arn,
                   Replica_Regions="not json"))  # fmt: skip
    forge(store, store._removal("app"),
          trailers("DeleteSecret", "app", Secret_Arn=arn, Force_Delete_Without_Recovery="true"))  # fmt: skip
    found = problems(store, base)
    assert any("ReplicateSecretToRegions as its trailers say would leave "
               "['us-west-2', 'eu-north-1']" in p for p in found), found  # fmt: skip
    assert any("TagResource" in p and "changes replicas outside an operation that sets it" in p
               for p in found), found  # fmt: skip
    assert any("Gitsm-Replica-Regions trailer that is not a JSON list" in p for p in found), found
    assert any("deletes a secret that still has replica Regions" in p for p in found), found


def test_a_secret_created_with_other_replicas_than_its_trailer(tmp_path: Path) -> None:
    store = gitsm.init(tmp_path / "store")
    base = str(store.repo.tip().commit_id)
    secret = Secret("made", ARN.replace("app-", "made-"), T0, T0, replicas=["eu-west-1"])
    account = store.config().account_id
    secret.arn = secret.arn.replace("123456789012", account)
    forge(store, {paths.manifest_path("made"): dump_secret(secret)},
          trailers("CreateSecret", "made", Secret_Arn=secret.arn))  # fmt: skip
    found = problems(store, base)
    assert any("leaves replicas ['eu-west-1']; CreateSecret" in p for p in found), found


# -- the tree ------------------------------------------------------------------------------------


def test_verify_reports_replicas_gitsm_never_writes(tmp_path: Path) -> None:
    store = gitsm.init(tmp_path / "store")
    store.create_secret("app", secret_string="v")
    app = store.describe_secret("app")
    own = replace(app, replicas=["us-east-1"])
    gone = replace(app, name="gone", arn=app.arn.replace("app-", "gone-"), replicas=["eu-west-1"],
                   deleted_date=T0, deletion_date=T0 + timedelta(days=3650))  # fmt: skip
    where = tmp_path / "store"
    for secret in (own, gone):
        path = where / paths.manifest_path(secret.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(dump_secret(secret))
    run_git(where, "add", "-A")
    run_git(where, "commit", "-qm", "by hand")
    found = [f"{p.path}: {p.problem}" for p in run_verify(where)]
    assert any("lists its own Region us-east-1 among its replicas" in p for p in found), found
    assert any("is scheduled for deletion while replicated to eu-west-1" in p for p in found)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('replicas: ["us-east-2", "us-east-2"]', "repeats Region us-east-2"),
        ('replicas: ["Nowhere"]', "not a Region code"),
        ('replicas: ["' + "a-1" * 50 + '"]', "characters"),
        ("replicas: " + json.dumps([f"xx-r-{i}" for i in range(65)]), "over the limit of 64"),
    ],
)
def test_the_reader_bounds_replicas(line: str, problem: str) -> None:
    text = dump_secret(Secret("app", ARN, T0, T0, replicas=["eu-west-1"])).decode()
    bad = text.replace('replicas: ["eu-west-1"]', line).encode()
    with pytest.raises(MalformedStoreFile, match=problem):
        load_secret(bad, "secrets/app/~secret.yaml")


def test_the_fast_reader_and_yaml_agree_on_replicas() -> None:
    text = dump_secret(Secret("app", ARN, T0, T0, replicas=["eu-west-1", "ap-south-1"]))
    assert b'\nreplicas: ["eu-west-1", "ap-south-1"]\n' in text
    block = text.replace(b'replicas: ["eu-west-1", "ap-south-1"]',
                         b"replicas:\n- eu-west-1\n- ap-south-1")  # fmt: skip
    assert load_secret(text, "x").replicas == load_secret(block, "x").replicas
    assert load_secret(block, "x").primary_region == "us-east-1"


# -- the merge driver ----------------------------------------------------------------------------


def test_replica_regions_merge_as_a_set() -> None:
    base = Secret("app", ARN, T0, T0, replicas=["eu-west-1", "us-west-2"])
    first = replace(base, replicas=["eu-west-1", "ap-south-1"])  # removed us-west-2
    later = replace(base, replicas=["eu-west-1", "us-west-2", "eu-north-1"])
    merged, conflicts = merge_secret(base, first, later)
    assert conflicts == [] and merged.replicas == ["eu-west-1", "ap-south-1", "eu-north-1"]
    deleted = replace(base, deleted_date=T0, deletion_date=T0 + timedelta(days=7))
    _, conflicts = merge_secret(base, deleted, later)
    assert [c.field for c in conflicts] == ["deletion"]
    assert "replicated to eu-north-1" in str(conflicts[0])


def test_git_pull_merges_two_replications(tmp_path: Path) -> None:
    alice, bob, _ = two_clones(tmp_path)  # of a store holding "app", the merge driver in each
    alice.replicate_secret_to_regions("app", [{"Region": "eu-west-1"}])
    bob.replicate_secret_to_regions("app", [{"Region": "ap-south-1"}])
    run_git(tmp_path / "bob", "push", "-q", "origin", "main")
    pulled = run_git(tmp_path / "alice", "pull", "--no-rebase", "--no-edit", "origin", "main",
                     check=False)  # fmt: skip
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    # bob's side came first (pushed first), alice's Region after it
    assert alice.describe_secret("app").replicas == ["ap-south-1", "eu-west-1"]
    assert manifest(alice) == dump_secret(alice.describe_secret("app"))
    assert run_verify(tmp_path / "alice") == []
