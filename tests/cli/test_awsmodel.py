"""The CLI's slice of the API model matches botocore (names, shapes, skeletons) and the client, and
the client's input shapes (gitsm/apimodel.py) are botocore's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from gitsm import apimodel
from gitsm.awsclient import ParamValidationError, SecretsManagerClient
from gitsm.cli import awsmodel, params
from tests.cli import gen_awsmodel


def test_generated_module_is_current() -> None:
    assert gen_awsmodel.build() == awsmodel.OPERATIONS, (
        "gitsm/cli/awsmodel.py is stale: run .venv/bin/python tests/cli/gen_awsmodel.py"
    )


def test_generated_api_module_is_current() -> None:
    fresh = gen_awsmodel.build_api()
    assert (fresh["OPERATIONS"], fresh["ERRORS"]) == (apimodel.OPERATIONS, apimodel.ERRORS), (
        "gitsm/apimodel.py is stale: run .venv/bin/python tests/cli/gen_awsmodel.py"
    )


def test_the_cli_and_the_client_take_the_same_members() -> None:
    """Every CLI option is a member the client checks; the client's others are refused ones."""
    for op, data in awsmodel.OPERATIONS.items():
        client_members = set(apimodel.OPERATIONS[op]["members"])
        assert client_members - set(data["members"]) == set(gen_awsmodel.CLIENT_ONLY.get(op, []))
        assert set(data["required"]) == set(apimodel.OPERATIONS[op]["required"])


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


@pytest.mark.parametrize("op", sorted(apimodel.OPERATIONS))
def test_members_are_what_the_client_accepts(op: str, tmp_path: Path) -> None:
    client = SecretsManagerClient(store=None)  # type: ignore[arg-type]
    method = getattr(client, re.sub(r"(?<!^)([A-Z])", r"_\1", op).lower())
    with pytest.raises(ParamValidationError) as info:
        method(NoSuchMember=1)
    allowed = re.search(r"must be one of: (.*)", info.value.message)
    assert allowed is not None
    assert set(allowed.group(1).split(", ")) == set(apimodel.OPERATIONS[op]["members"])
