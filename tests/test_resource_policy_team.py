"""Resource policies across history and clones: verify --range, gitsm sync and the merge driver."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

import gitsm
from gitsm import paths, policy
from gitsm.manifest import dump_secret
from gitsm.merge3 import merge_secret
from gitsm.rangecheck import verify_range
from gitsm.store import SecretStore
from tests.gitremote import Daemon, run_git
from tests.test_mergedriver import V, _where, secret, two_clones
from tests.test_rangecheck import forge, trailers
from tests.test_sync import Team, assert_clean

ONE = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
    "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})  # fmt: skip
TWO = ONE.replace("111111111111", "222222222222")


def stored(store: SecretStore, name: str = "app") -> str | None:
    return store.get_resource_policy(name).resource_policy


# -- verify --range ---------------------------------------------------------------------------------


def test_a_history_with_policy_operations_verifies(tmp_path: Path) -> None:
    path = tmp_path / "store"
    store = gitsm.init(path)
    store.create_secret("app", secret_string="v1")
    store.put_resource_policy("app", ONE)
    store.put_resource_policy("app", TWO, block_public_policy=True)
    store.put_secret_value("app", secret_string="v2")
    store.delete_resource_policy("app")
    store.delete_resource_policy("app")  # nothing to delete: no commit
    store.put_resource_policy("app", ONE)
    assert verify_range(path, "..main") == []
    log = run_git(path, "log", "--format=%(trailers:key=Gitsm-Operation,valueonly)").stdout
    assert log.split().count("PutResourcePolicy") == 3
    assert log.split().count("DeleteResourcePolicy") == 1

    base = str(store.repo.tip().commit_id)
    app = store.describe_secret("app")
    other = replace(app, resource_policy=policy.canonical(TWO))
    forge(store, {paths.manifest_path("app"): dump_secret(other)}, trailers("TagResource", "app"))
    forge(store, {paths.manifest_path("app"): dump_secret(app)},  # ONE again, in a "Delete"
          trailers("DeleteResourcePolicy", "app"))  # fmt: skip
    problems = [str(p) for p in verify_range(path, f"{base}..main")]
    assert len(problems) == 2, problems
    assert "(TagResource app) changes resource_policy outside an operation that sets it" in (
        problems[0] + problems[1]
    )
    assert any("sets a resource policy in DeleteResourcePolicy" in p for p in problems), problems


# -- gitsm sync -------------------------------------------------------------------------------------


@pytest.fixture
def team(tmp_path: Path, git_daemon: Daemon) -> Team:
    return Team(tmp_path, git_daemon)


def test_two_clones_each_put_a_policy_and_the_later_push_wins(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    alice.put_resource_policy("app", ONE)
    alice.delete_resource_policy("other")  # no policy there: no commit, nothing to replay
    bob.put_resource_policy("app", TWO)
    bob.put_resource_policy("other", ONE)
    bob.sync()
    report = alice.sync()  # alice's Put reaches the remote after bob's
    assert not report.failed and report.pushed
    assert [(o.operation, o.outcome) for o in report.operations] == [
        ("PutResourcePolicy", "replayed")
    ]
    assert stored(alice) == policy.canonical(ONE) and stored(alice, "other") == policy.canonical(
        ONE
    )
    bob.sync()
    assert stored(bob) == policy.canonical(ONE)
    assert verify_range(team.tmp / "alice", "..main") == []
    assert_clean(alice)


def test_a_delete_replays_as_a_no_op_when_upstream_has_no_policy_left(team: Team) -> None:
    first = team.clone("first")
    first.put_resource_policy("app", ONE)
    first.sync()
    alice, bob = team.clone("alice"), team.clone("bob")
    alice.delete_resource_policy("app")
    bob.delete_resource_policy("app")
    bob.put_resource_policy("other", TWO)
    bob.sync()
    report = alice.sync()
    assert [o.outcome for o in report.operations] == ["already-upstream"]
    assert stored(alice) is None and stored(alice, "other") == policy.canonical(TWO)
    carol = team.clone("carol")
    carol.put_resource_policy("app", TWO)
    alice.delete_secret("app", recovery_window_in_days=7)
    alice.sync()
    with pytest.raises(Exception, match="scheduled for deletion upstream") as info:
        carol.sync()  # AWS refuses a policy change on a secret marked for deletion
    assert type(info.value).__name__ == "SyncConflict"


# -- the merge driver -------------------------------------------------------------------------------


def test_merge3_takes_the_side_that_changed_the_policy_and_conflicts_on_two() -> None:
    one, two = policy.canonical(ONE), policy.canonical(TWO)
    base = secret({V[0]: ["AWSCURRENT"]}, resource_policy=one)
    dropped = secret({V[0]: ["AWSCURRENT"]})
    merged, conflicts = merge_secret(base, dropped, base)  # a Delete against no change
    assert conflicts == [] and merged.resource_policy is None
    merged, conflicts = merge_secret(
        base, base, secret({V[0]: ["AWSCURRENT"]}, resource_policy=two)
    )
    assert conflicts == [] and merged.resource_policy == two
    fresh = secret({V[0]: ["AWSCURRENT"]})
    merged, conflicts = merge_secret(fresh, replace(fresh, resource_policy=one),
                                     replace(fresh, resource_policy=two))  # fmt: skip
    assert [c.field for c in conflicts] == ["resource_policy"] and merged.resource_policy == one
    assert 'one side has \'{"Statement"' in str(conflicts[0]) and "...'" in str(conflicts[0])
    _, deleted = merge_secret(base, dropped, replace(base, resource_policy=two))
    assert "no policy" in str(deleted[0])


def test_git_pull_with_two_different_policies_stops_with_a_named_conflict(tmp_path: Path) -> None:
    alice, bob, _ = two_clones(tmp_path)
    alice.put_resource_policy("app", ONE)
    bob.put_resource_policy("app", TWO)
    run_git(_where(bob), "push", "-q", "origin", "main")
    pulled = run_git(
        _where(alice), "pull", "--no-rebase", "--no-edit", "origin", "main", check=False
    )
    assert pulled.returncode != 0 and "CONFLICT" in pulled.stdout
    text = (_where(alice) / paths.manifest_path("app")).read_text()
    assert "# gitsm merge conflict: resource_policy" in text and "<<<<<<< ours" in text
    assert "111111111111" in text and "222222222222" in text
