"""gitsm sync replays the rotation operations (serial rules), between real clones."""

from __future__ import annotations

import uuid

import pytest

from gitsm import paths
from gitsm.errors import SyncConflict
from gitsm.store.rotation import RotationFailed
from tests.rotating import ARN, NOOP, rotate_by_hand
from tests.test_sync import Team, assert_clean, team

__all__ = ["team"]


def test_rotation_operations_replay_exactly(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    alice.create_secret("a/rot", secret_string="before rotation")
    rotate_by_hand(alice, "a/rot", str(uuid.uuid4()))
    alice.rotate_secret("a/rot", rotate_immediately=False,
                        rotation_rules={"ScheduleExpression": "rate(7 days)"})  # fmt: skip
    alice.cancel_rotate_secret("a/rot")
    alice.register_rotation_function("spare", NOOP)
    alice.deregister_rotation_function("spare")
    bob.register_rotation_function("bobs", NOOP)  # the config moved upstream too
    bob.update_secret("app", secret_string="bob")
    bob.sync()
    before = alice.repo.tip()
    report = alice.sync()
    assert not report.failed and report.pushed
    after = alice.repo.tip()
    for path in [paths.manifest_path("a/rot"), *after.files_under(paths.secret_dir("a/rot"))]:
        assert after.read(path) == before.read(path), path
    assert set(alice.rotation_functions()) == {"noop", "bobs"}
    assert_clean(alice)


def test_a_rotation_started_upstream_first_refuses_the_later_one(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    tokens = {}
    for who, store in (("alice", alice), ("bob", bob)):
        store.register_rotation_function("noop", NOOP)
        tokens[who] = str(uuid.uuid4())
        with pytest.raises(RotationFailed, match="put no version"):
            store.rotate_secret("app", client_request_token=tokens[who],
                                rotation_lambda_arn=ARN.format("noop"))  # fmt: skip
    bob.sync()
    with pytest.raises(SyncConflict, match="A previous rotation isn't complete") as info:
        alice.sync()
    assert tokens["bob"] in info.value.message and "(upstream)" in info.value.message
    rotation = alice.describe_secret("app").rotation
    assert rotation is not None and rotation.token == tokens["bob"]
    assert_clean(alice)


def test_the_default_function_and_rotations_with_it_replay_exactly(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    alice.register_rotation_function("noop", NOOP)
    alice.set_default_rotation_function("noop")
    alice.create_secret("a/managed", secret_string="before rotation")
    rotate_by_hand(alice, "a/managed", str(uuid.uuid4()), function=None)
    alice.rotate_secret("a/managed", rotate_immediately=False,
                        rotation_rules={"AutomaticallyAfterDays": 7})  # fmt: skip
    bob.register_rotation_function("bobs", NOOP)  # the config moved upstream too
    bob.update_secret("app", secret_string="bob")
    bob.sync()
    before = alice.repo.tip()
    report = alice.sync()
    assert not report.failed and report.pushed
    after = alice.repo.tip()
    manifest = paths.manifest_path("a/managed")
    for path in [manifest, *after.files_under(paths.secret_dir("a/managed"))]:
        assert after.read(path) == before.read(path), path
    assert b"rotation_lambda_arn" not in after.read(manifest)
    assert alice.default_rotation_function() == "noop"
    assert set(alice.rotation_functions()) == {"noop", "bobs"}
    assert_clean(alice)
    bob.sync()
    assert bob.default_rotation_function() == "noop"


def test_a_default_deregistered_upstream_refuses_the_later_choice(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    alice.register_rotation_function("shared", NOOP)
    alice.sync()
    bob.sync()
    bob.deregister_rotation_function("shared")
    bob.sync()
    alice.set_default_rotation_function("shared")
    with pytest.raises(SyncConflict, match="shared, the store's default rotation function, is "
                       "not registered upstream"):  # fmt: skip
        alice.sync()
    assert "shared" not in alice.rotation_functions() and alice.default_rotation_function() is None
    assert_clean(alice)


def test_defaults_chosen_on_both_sides_the_later_write_wins(team: Team) -> None:
    alice, bob = team.clone("alice"), team.clone("bob")
    for name in ("a", "b"):
        alice.register_rotation_function(name, NOOP)
    alice.sync()
    bob.sync()
    bob.set_default_rotation_function("b")
    bob.sync()
    alice.set_default_rotation_function("a")
    report = alice.sync()
    assert not report.failed and report.pushed
    assert alice.default_rotation_function() == "a"
    bob.sync()
    assert bob.default_rotation_function() == "a"
    assert_clean(alice)
