"""The resource-policy commands: get-, put-, delete- and validate-resource-policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import Invoke
from tests.conftest import commits

POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/MyRole"},
    "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}  # fmt: skip
PUBLIC = {**POLICY, "Statement": [{**POLICY["Statement"][0], "Principal": "*"}]}


def out(result: Any) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.stderr)
    return json.loads(result.stdout)


def written(tmp_path: Path, doc: object, name: str = "policy.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc, indent=4))
    return f"file://{path}"


def test_the_aws_cli_examples_put_get_validate_delete(
    cli: Invoke, store: Path, tmp_path: Path
) -> None:
    created = out(cli("create-secret", "--name", "MyTestSecret", "--secret-string", "x"))
    assert list(out(cli("get-resource-policy", "--secret-id", "MyTestSecret"))) == ["ARN", "Name"]
    before = commits(store)
    put = out(cli("put-resource-policy", "--secret-id", "MyTestSecret",
                  "--resource-policy", written(tmp_path, POLICY), "--block-public-policy"))  # fmt: skip
    assert put == {"ARN": created["ARN"], "Name": "MyTestSecret"}
    got = out(cli("get-resource-policy", "--secret-id", "MyTestSecret"))
    assert json.loads(got["ResourcePolicy"]) == POLICY
    text = cli("get-resource-policy", "--secret-id", "MyTestSecret", "--query", "ResourcePolicy",
               "--output", "text")  # fmt: skip
    assert json.loads(text.stdout) == POLICY
    validated = out(cli("validate-resource-policy", "--resource-policy", written(tmp_path, POLICY)))
    assert validated == {"PolicyValidationPassed": True, "ValidationErrors": []}
    public = out(cli("validate-resource-policy", "--resource-policy", written(tmp_path, PUBLIC),
                     "--secret-id", "MyTestSecret"))  # fmt: skip
    assert public["PolicyValidationPassed"] is False
    assert [e["CheckName"] for e in public["ValidationErrors"]] == ["BroadAccessCheck"]
    deleted = out(cli("delete-resource-policy", "--secret-id", "MyTestSecret"))
    assert deleted == {"ARN": created["ARN"], "Name": "MyTestSecret"}
    assert out(cli("delete-resource-policy", "--secret-id", "MyTestSecret")) == deleted
    assert "ResourcePolicy" not in out(cli("get-resource-policy", "--secret-id", "MyTestSecret"))
    assert commits(store) == before + 2


def test_refusals_exit_254_with_aws_error_names_and_write_nothing(
    cli: Invoke, store: Path, tmp_path: Path
) -> None:
    assert cli("create-secret", "--name", "app").exit_code == 0
    before = commits(store)
    public = cli("put-resource-policy", "--secret-id", "app", "--resource-policy",
                 written(tmp_path, PUBLIC), "--block-public-policy")  # fmt: skip
    assert public.exit_code == 254 and public.stdout == ""
    assert "An error occurred (PublicPolicyException) when calling the PutResourcePolicy " in (
        public.stderr
    )
    broken = cli("put-resource-policy", "--secret-id", "app", "--resource-policy", '{"Version":')
    assert broken.exit_code == 254 and "(MalformedPolicyDocumentException)" in broken.stderr
    missing = cli("get-resource-policy", "--secret-id", "nope")
    assert missing.exit_code == 254 and "(ResourceNotFoundException)" in missing.stderr
    usage = cli("put-resource-policy", "--secret-id", "app")
    assert usage.exit_code == 252 and "--resource-policy" in usage.stderr
    assert commits(store) == before
    public_allowed = cli("put-resource-policy", "--secret-id", "app", "--resource-policy",
                         written(tmp_path, PUBLIC), "--no-block-public-policy")  # fmt: skip
    assert public_allowed.exit_code == 0 and commits(store) == before + 1
