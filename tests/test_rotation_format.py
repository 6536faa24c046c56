"""Rotation in the store's files: the manifest's rotation lines and the config's rotation
functions and default function (canonical form, strict reading), and their three-way merges."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gitsm.errors import MalformedStoreFile
from gitsm.manifest import StoreConfig, _fast_doc, dump_secret, load_secret
from gitsm.merge3 import merge_config, merge_secret
from gitsm.model import Rotation, Secret, VersionInfo
from gitsm.rotationconfig import RotationFunction
from tests.test_manifest import secrets, stamps

T0 = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


@st.composite
def rotations(draw: st.DrawFn) -> Rotation:
    schedule = draw(st.sampled_from([(30, None), (None, "rate(10 days)"), (None, None)]))
    return Rotation(
        enabled=draw(st.booleans()),
        lambda_arn=draw(st.none() | st.text(min_size=1, max_size=60)),
        after_days=schedule[0],
        schedule=schedule[1],
        duration=draw(st.none() | st.sampled_from(["3h", "24h"])),
        last_rotated=draw(st.none() | stamps),
        next_rotation=draw(st.none() | stamps),
        token=draw(st.none() | st.text(min_size=32, max_size=64)),
    )


@settings(max_examples=50, deadline=None)
@given(secrets(), rotations())
def test_rotation_lines_round_trip_and_both_parsers_agree(secret: Secret, rot: Rotation) -> None:
    secret = replace(secret, rotation=rot)
    data = dump_secret(secret)
    assert _fast_doc(data) == yaml.safe_load(data)
    assert load_secret(data, "m") == secret
    assert dump_secret(load_secret(data, "m")) == data


def manifest(rotation: Rotation | None = None, **stages: list[str]) -> Secret:
    versions = {
        vid * 32: VersionInfo(vid * 32, T0, "string", ["k"], s) for vid, s in stages.items()
    }
    return Secret("app", "arn:app", T0, T0, versions=versions, rotation=rotation)


def test_a_secret_never_set_up_has_no_rotation_lines() -> None:
    data = dump_secret(manifest(a=["AWSCURRENT"]))
    assert b"rotation" not in data
    assert load_secret(data, "m").rotation is None


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ('rotation_enabled: "yes"\n', "rotation_enabled is a string, not true or false"),
        ('rotation_lambda_arn: "f"\n', "rotation_enabled is missing"),
        ("rotation_enabled: true\nrotation_after_days: 1001\n", "outside 1 to 1000"),
        ('rotation_enabled: true\nrotation_token: "short"\n', "shorter than 32 characters"),
        ('rotation_enabled: true\nnext_rotation: "soon"\n', "is not a timestamp"),
    ],
)
def test_malformed_rotation_lines_are_refused(lines: str, problem: str) -> None:
    data = dump_secret(manifest(a=["AWSCURRENT"])).replace(
        b"versions:", lines.encode() + b"versions:"
    )
    with pytest.raises(MalformedStoreFile) as info:
        load_secret(data, "secrets/app/~secret.yaml")
    assert problem in info.value.problem


PW = RotationFunction(("gitsm", "rotation", "run-lambda", "gitsm.rotation.password"))


def config(**functions: RotationFunction) -> StoreConfig:
    return StoreConfig("123456789012", "us-east-1", rotation_functions=dict(functions))


def test_config_functions_round_trip_and_an_empty_registry_writes_nothing() -> None:
    assert b"rotation_functions" not in config().dump()
    with_pw = config(pw=PW, slow=RotationFunction(("./rotate.sh", "--fast"), 900))
    assert StoreConfig.load(with_pw.dump()) == with_pw
    assert b"timeout_seconds: 300" in with_pw.dump()


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("{pw: {command: [x], shell: true}}", "shell is not a field of a rotation function"),
        ("{'bad name': {command: [x]}}", "is not a function name"),
        ("{pw: {command: []}}", "command is missing or empty"),
        ("{pw: {command: [x], timeout_seconds: 0}}", "outside 1 to 86400"),
        ("{pw: {command: x}}", "command is a string, not a list"),
        ("[pw]", "rotation_functions is a list, not a mapping"),
    ],
)
def test_malformed_rotation_functions_are_refused(entry: str, problem: str) -> None:
    data = config().dump() + f"rotation_functions: {entry}\n".encode()
    with pytest.raises(MalformedStoreFile) as info:
        StoreConfig.load(data)
    assert problem in info.value.problem


def test_functions_merge_one_by_one() -> None:
    other = RotationFunction(("./other.sh",))
    merged, conflicts = merge_config(config(), config(pw=PW), config(other=other))
    assert merged.rotation_functions == {"pw": PW, "other": other} and not conflicts
    merged, conflicts = merge_config(config(pw=PW), config(), config(pw=PW))
    assert merged.rotation_functions == {} and not conflicts  # removed on one side
    merged, conflicts = merge_config(config(), config(pw=PW), config(pw=other))
    assert [c.field for c in conflicts] == ["rotation function pw"]
    assert merged.rotation_functions == {"pw": PW}


def test_the_default_function_round_trips_is_read_strictly_and_merges_as_one_fact() -> None:
    with_default = replace(config(pw=PW), default_rotation_function="pw")
    data = with_default.dump()
    assert data.endswith(b"default_rotation_function: pw\n") and b"default_rotation" not in (
        config(pw=PW).dump()
    )
    assert StoreConfig.load(data) == with_default
    for bad, problem in (("'bad name'", "is not a function name"), ("[pw]", "a list")):
        with pytest.raises(MalformedStoreFile) as info:
            StoreConfig.load(config().dump() + f"default_rotation_function: {bad}\n".encode())
        assert "default_rotation_function" in info.value.problem and problem in info.value.problem

    def side(default: str | None) -> StoreConfig:
        return replace(config(pw=PW, other=PW), default_rotation_function=default)

    for base, ours, theirs, want in (
        (None, "pw", None, "pw"),
        (None, None, "pw", "pw"),
        ("pw", None, "pw", None),
        ("pw", "pw", None, None),
        (None, None, None, None),
        ("pw", "other", "other", "other"),
    ):
        merged, conflicts = merge_config(side(base), side(ours), side(theirs))
        assert merged.default_rotation_function == want and not conflicts, (base, ours, theirs)
    merged, conflicts = merge_config(side(None), side("pw"), side("other"))
    assert [c.field for c in conflicts] == ["default_rotation_function"]
    assert merged.default_rotation_function == "pw"
    merged, _ = merge_config(side(None), side("pw"), side("other"), prefer_theirs=True)
    assert merged.default_rotation_function == "other"
    merged, conflicts = merge_config(None, side("pw"), side(None))  # both created the config
    assert merged.default_rotation_function == "pw" and not conflicts


ON = Rotation(enabled=True, lambda_arn="f", after_days=30, next_rotation=T0)


def test_rotation_merges_three_way() -> None:
    base = manifest(ON, a=["AWSCURRENT"])
    later_day = T0 + timedelta(days=30)
    rotated = replace(base, rotation=replace(ON, last_rotated=T0, next_rotation=later_day))
    cancelled = replace(base, rotation=replace(ON, enabled=False, next_rotation=None))
    merged, conflicts = merge_secret(base, rotated, cancelled)
    assert not conflicts and merged.rotation == replace(
        ON, enabled=False, last_rotated=T0, next_rotation=later_day
    )
    weekly = replace(base, rotation=replace(ON, after_days=7))
    merged, conflicts = merge_secret(base, rotated, weekly)
    assert not conflicts and merged.rotation is not None
    assert (merged.rotation.after_days, merged.rotation.last_rotated) == (7, T0)
    one = replace(base, rotation=replace(ON, token="1" * 32))
    two = replace(base, rotation=replace(ON, token="2" * 32))
    merged, conflicts = merge_secret(base, one, two)
    assert [c.field for c in conflicts] == ["rotation in progress"]
    fresh, conflicts = merge_secret(manifest(a=["AWSCURRENT"]), manifest(a=["AWSCURRENT"]), base)
    assert fresh.rotation == ON and not conflicts
