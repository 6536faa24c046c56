"""Output like aws CLI v2: JSON with ISO 8601 timestamps, base64 blobs, text, table, yaml, query."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from gitsm.cli.errors import UsageFailure
from gitsm.cli.output import check_format, compile_query, render
from gitsm.cli.table import render_table

WHEN = datetime(2026, 11, 28, 7, 4, 33, 731000, tzinfo=UTC)
ARN = "arn:aws:secretsmanager:us-west-2:123456789012:secret:MyTestSecret-lWCpkG"
VID = "5ee2bd41-3c36-49d3-81c2-c405c8c24deb"


def test_json_timestamps_blobs_and_metadata() -> None:
    response = {
        "Name": "n",
        "SecretBinary": b"\x00\x01",
        "CreatedDate": WHEN,
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }
    text = render(response, output="json", query=None, title="GetSecretValue")
    assert json.loads(text) == {
        "Name": "n",
        "SecretBinary": "AAE=",
        "CreatedDate": "2026-11-28T07:04:33.731000+00:00",
    }
    assert text.startswith('{\n    "Name": "n",')
    assert render({"ResponseMetadata": {}}, output="json", query=None, title="TagResource") == ""


def test_query_and_formats() -> None:
    response = {"Name": "n", "VersionStages": ["AWSCURRENT"], "Flag": True}
    query = compile_query("{N: Name, S: VersionStages[0]}")
    assert json.loads(render(response, output="json", query=query, title="T")) == {
        "N": "n",
        "S": "AWSCURRENT",
    }
    assert render(response, output="text", query=compile_query("Name"), title="T") == "n\n"
    assert render(response, output="json", query=compile_query("Missing"), title="T") == "null\n"
    assert render(response, output="yaml", query=None, title="T") == (
        "Name: n\nVersionStages:\n- AWSCURRENT\nFlag: true\n"
    )
    with pytest.raises(UsageFailure, match="Bad value for --query"):
        compile_query("foo[")
    with pytest.raises(UsageFailure, match="json \\| yaml \\| text \\| table"):
        check_format("xml")


def test_every_jmespath_function_compiles_with_its_arity_and_fails_without_it() -> None:
    from jmespath.functions import Functions  # type: ignore[import-untyped,unused-ignore]

    for name, spec in Functions.FUNCTION_TABLE.items():
        arity = len(spec["signature"])
        compile_query(f"{name}({', '.join(['@'] * arity)})")  # accepted as jmespath would be
        variadic = bool(spec["signature"]) and spec["signature"][-1].get("variadic")
        if variadic:
            compile_query(f"{name}({', '.join(['@'] * (arity + 2))})")
        with pytest.raises(UsageFailure, match=f"function {name}\\(\\) takes"):
            compile_query(f"{name}({', '.join(['@'] * (arity - 1))})")
        if not variadic:
            with pytest.raises(UsageFailure, match=f"function {name}\\(\\) takes"):
                compile_query(f"{name}({', '.join(['@'] * (arity + 1))})")
    # deep in the tree: in a projection, a filter, a multi-select, an expression reference
    for nested in (
        "SecretList[].nope(Name)",
        "a[?nope(b)]",
        "{x: nope(y)}",
        "sort_by(@, &nope(x))",
    ):
        with pytest.raises(UsageFailure, match="Unknown function: nope\\(\\)"):
            compile_query(nested)
    with pytest.raises(UsageFailure, match="slice step cannot be 0"):
        compile_query("SecretList[::0]")
    assert compile_query("SecretList[::-1].Name") is not None


def test_text_format_follows_the_aws_cli() -> None:
    response = {
        "ARN": ARN,
        "Name": "MyTestSecret",
        "Versions": [
            {"VersionId": VID, "VersionStages": ["AWSCURRENT"], "CreatedDate": "1795850168"},
        ],
        "Tags": [{"Key": "a", "Value": "b"}, {"Key": "c"}],
    }
    assert render(response, output="text", query=None, title="T").splitlines() == [
        f"{ARN}\tMyTestSecret",
        "TAGS\ta\tb",
        "TAGS\tc\t",
        f"VERSIONS\t1795850168\t{VID}",
        "VERSIONSTAGES\tAWSCURRENT",
    ]


def test_table_matches_the_aws_cli_byte_for_byte() -> None:
    """Expected output captured from the aws CLI (v1.45) against moto, terminal width 80."""
    response = {
        "ARN": "MyTestSecret",
        "Name": "MyTestSecret",
        "NextToken": "",
        "Versions": [
            {"CreatedDate": "1795850165", "LastAccessedDate": "1795850165", "VersionId": VID,
             "VersionStages": ["AWSCURRENT"]},
        ],
    }  # fmt: skip
    assert (
        render_table("ListSecretVersionIds", response, 80)
        == """\
-------------------------------------------------------------------------------
|                            ListSecretVersionIds                             |
+--------------------------+---------------------------+----------------------+
|            ARN           |           Name            |      NextToken       |
+--------------------------+---------------------------+----------------------+
|  MyTestSecret            |  MyTestSecret             |                      |
+--------------------------+---------------------------+----------------------+
||                                 Versions                                  ||
|+-------------+--------------------+----------------------------------------+|
|| CreatedDate | LastAccessedDate   |               VersionId                ||
|+-------------+--------------------+----------------------------------------+|
||  1795850165 |  1795850165        |  5ee2bd41-3c36-49d3-81c2-c405c8c24deb  ||
|+-------------+--------------------+----------------------------------------+|
|||                              VersionStages                              |||
||+-------------------------------------------------------------------------+||
|||  AWSCURRENT                                                             |||
||+-------------------------------------------------------------------------+||
"""
    )
    wide = {"ARN": ARN, "Name": "MyTestSecret", "VersionId": VID}
    assert (
        render_table("CreateSecret", wide, 80)
        == """\
-------------------------------------------------------------------------------------------
|                                      CreateSecret                                       |
+-----------+-----------------------------------------------------------------------------+
|  ARN      |  arn:aws:secretsmanager:us-west-2:123456789012:secret:MyTestSecret-lWCpkG   |
|  Name     |  MyTestSecret                                                               |
|  VersionId|  5ee2bd41-3c36-49d3-81c2-c405c8c24deb                                       |
+-----------+-----------------------------------------------------------------------------+
"""
    )
    assert render_table("TagResource", {}, 80) == ""
