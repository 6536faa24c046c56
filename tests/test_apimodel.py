"""gitsm/apimodel.py is botocore's model as tests/gen_apimodel.py makes it, and the client, the CLI
and the commit checks agree with it: the operations the client serves, the members it accepts,
each operation's read/write access, the aws CLI's names and skeletons."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest

from gitsm import apimodel, opcheck
from gitsm.awsclient import ParamValidationError, SecretsManagerClient
from gitsm.cli import awsmodel, params
from tests import gen_apimodel

REFUSED = {"StopReplicationToReplica"}
"""A write to AWS that gitsm refuses before it changes anything (docs/SEMANTICS.md,
"Replication"): no commit operation judges it."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def test_generated_module_is_current() -> None:
    assert Path(apimodel.__file__).read_text() == gen_apimodel.render(), (
        "gitsm/apimodel.py is stale: run .venv/bin/python tests/gen_apimodel.py"
    )


def test_the_client_serves_exactly_the_operations_of_the_model() -> None:
    methods = {n for n in dir(SecretsManagerClient) if not n.startswith("_")} - {"exceptions"}
    assert methods == {_snake(op) for op in apimodel.ACCESS}
    assert set(apimodel.CLI) == set(apimodel.ACCESS)


def test_reads_leave_no_commit_and_writes_are_commit_operations() -> None:
    """A read never names a commit; every write that gitsm does not refuse is an operation that
    ``gitsm verify --range`` knows how to judge."""
    assert set(apimodel.ACCESS) == apimodel.READS | apimodel.WRITES
    assert not apimodel.READS & opcheck.KNOWN
    assert apimodel.WRITES - opcheck.KNOWN == REFUSED


def _botocore_shape(shape: Any) -> Any:
    """A botocore shape in the CLI's compact encoding (gitsm/cli/awsmodel.py's docstring)."""
    kind = shape.type_name
    if kind == "structure":
        return {name: _botocore_shape(member) for name, member in shape.members.items()}
    if kind == "list":
        return [_botocore_shape(shape.member)]
    if kind == "map":
        return {"*": _botocore_shape(shape.value)}
    if kind == "string" and shape.enum:
        return "enum:" + "|".join(shape.enum)
    return kind


@pytest.mark.parametrize("op", list(apimodel.CLI))
def test_a_command_takes_the_members_the_client_checks(op: str) -> None:
    """Every CLI option is a member the client checks (the client's others are refused ones),
    with botocore's shape; every member the client requires is an option, required."""
    import botocore.session

    command, shape = awsmodel.OPERATIONS[op], apimodel.OPERATIONS[op]
    assert set(shape["members"]) - set(command["members"]) == set(
        gen_apimodel.CLIENT_ONLY.get(op, [])
    )
    assert command["required"] == shape["required"]
    model = botocore.session.get_session().get_service_model("secretsmanager")
    members = model.operation_model(op).input_shape.members
    assert command["members"] == {m: _botocore_shape(members[m]) for m in command["members"]}


def test_option_names_are_the_aws_cli_names() -> None:
    from botocore import xform_name

    for op, data in awsmodel.OPERATIONS.items():
        assert data["command"] == xform_name(op, "-")
        for member, option in data["options"].items():
            assert option == "--" + xform_name(member, "-")


def _fixed_enums(value: Any, shape: Any) -> Any:
    """botocore picks a random enum value for skeletons; gitsm the first one."""
    if isinstance(shape, dict):
        return {k: _fixed_enums(value[k], shape.get(k, shape.get("*"))) for k in value}
    if isinstance(shape, list):
        return [_fixed_enums(v, shape[0]) for v in value]
    if isinstance(shape, str) and shape.startswith("enum:"):
        return shape[5:].split("|")[0]
    return value


def test_input_skeletons_match_botocore() -> None:
    import botocore.session
    from botocore.utils import ArgumentGenerator

    model = botocore.session.get_session().get_service_model("secretsmanager")
    for op, data in awsmodel.OPERATIONS.items():
        full = ArgumentGenerator().generate_skeleton(model.operation_model(op).input_shape)
        expected = {m: _fixed_enums(full[m], data["members"][m]) for m in data["members"]}
        ours = {m: params.skeleton(s) for m, s in data["members"].items()}
        assert ours == expected, op


def _typed_paths(value: Any, shape: Any, path: str = "") -> dict[str, str]:
    """Where ``value`` holds what the pruned ``shape`` marks: path -> "timestamp" or "blob"."""
    if isinstance(shape, str):
        return {path: shape}
    out: dict[str, str] = {}
    if isinstance(shape, list):
        for i, item in enumerate(value):
            out.update(_typed_paths(item, shape[0], f"{path}[{i}]"))
    elif "*" in shape:
        for key, item in value.items():
            out.update(_typed_paths(item, shape["*"], f"{path}.{key}"))
    else:
        for key, item in value.items():
            if key in shape:
                out.update(_typed_paths(item, shape[key], f"{path}.{key}"))
    return out


def _kinds_found(value: Any, path: str = "") -> dict[str, str]:
    """Where ``value`` holds a datetime or bytes: path -> "timestamp" or "blob"."""
    if isinstance(value, datetime.datetime):
        return {path: "timestamp"}
    if isinstance(value, bytes):
        return {path: "blob"}
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out.update(_kinds_found(item, f"{path}.{key}"))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.update(_kinds_found(item, f"{path}[{i}]"))
    return out


def test_output_timestamps_and_blobs_are_where_the_client_puts_them(bare_path: Path) -> None:
    """What the client returns as datetimes and bytes is exactly what the model marks."""
    import gitsm

    client = gitsm.client(repo=bare_path)
    client.create_secret(Name="text", SecretString="v", Tags=[{"Key": "k", "Value": "v"}])
    client.create_secret(Name="bytes", SecretBinary=b"\x00\x01")
    calls: dict[str, dict[str, Any]] = {
        "GetSecretValue": {"SecretId": "bytes"},
        "DescribeSecret": {"SecretId": "text"},
        "ListSecrets": {},
        "ListSecretVersionIds": {"SecretId": "text"},
        "BatchGetSecretValue": {"SecretIdList": ["text", "bytes"]},
        "DeleteSecret": {"SecretId": "text"},
    }
    for op, call in calls.items():
        response = getattr(client, _snake(op))(**call)
        response.pop("ResponseMetadata")
        marked = _typed_paths(response, apimodel.OUTPUT_TIMESTAMPS_BLOBS[op])
        assert marked == _kinds_found(response), op
        assert marked, op


@pytest.mark.parametrize("op", list(apimodel.OPERATIONS))
def test_members_are_what_the_client_accepts(op: str) -> None:
    client = SecretsManagerClient(store=None)  # type: ignore[arg-type]
    method = getattr(client, _snake(op))
    with pytest.raises(ParamValidationError) as info:
        method(NoSuchMember=1)
    allowed = re.search(r"must be one of: (.*)", info.value.message)
    assert allowed is not None
    assert set(allowed.group(1).split(", ")) == set(apimodel.OPERATIONS[op]["members"])
