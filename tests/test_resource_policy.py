"""Resource policies through the client: Terraform's and ESO's call patterns, the checks of a
policy document, the pending-deletion rule, and the manifest field that keeps the policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import gitsm
from gitsm import errors, policy
from gitsm.awsclient import ParamValidationError, SecretsManagerClient
from gitsm.errors import MalformedStoreFile
from gitsm.manifest import _fast_doc, dump_secret, load_secret
from gitsm.model import MANIFEST_MAX_BYTES, RESOURCE_POLICY_MAX, Secret
from tests.conftest import commits, error, git

ACCOUNT_ROOT = "arn:aws:iam::123456789012:root"


def statement(**fields: Any) -> dict[str, Any]:
    """An Allow of GetSecretValue to one account, with ``fields`` replaced (None drops one)."""
    base: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": ACCOUNT_ROOT},
                            "Action": "secretsmanager:GetSecretValue", "Resource": "*"}  # fmt: skip
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def document(*statements: dict[str, Any]) -> str:
    """A policy document as a person writes it (indented, keys in their own order)."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements or [statement()])},
                      indent=2)  # fmt: skip


def path_of(client: SecretsManagerClient) -> Path:
    repo = client.store.repo
    return repo.workdir or repo.gitdir


def operations(path: Path) -> list[str]:
    """``<subject> | <Gitsm-Operation trailer>`` of each commit, newest first."""
    out = git(path, "log", "--format=%s | %(trailers:key=Gitsm-Operation,valueonly)%x00")
    return [entry.strip() for entry in out.split("\x00") if entry.strip()]


@pytest.fixture
def app(client: SecretsManagerClient) -> SecretsManagerClient:
    client.create_secret(Name="app", SecretString="value")
    return client


@pytest.fixture
def one(repo_path: Path) -> SecretsManagerClient:
    """A checkout store with secret ``app`` (for tests that need no bare variant)."""
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="app", SecretString="value")
    return client


# -- the operations, as Terraform and External Secrets Operator call them ---------------------------


def test_terraform_refresh_and_eso_push_on_a_secret_without_a_policy(
    app: SecretsManagerClient,
) -> None:
    before = commits(path_of(app))
    got = app.get_resource_policy(SecretId="app")
    assert "ResourcePolicy" not in got and got["Name"] == "app" and got["ARN"].startswith("arn:")
    deleted = app.delete_resource_policy(SecretId="app")  # ESO, on every push
    assert (deleted["ARN"], deleted["Name"]) == (got["ARN"], "app")
    assert commits(path_of(app)) == before  # nothing to delete: no commit


def test_put_get_delete_one_commit_each(app: SecretsManagerClient) -> None:
    path, before = path_of(app), commits(path_of(app))
    arn = app.describe_secret(SecretId="app")["ARN"]
    put = app.put_resource_policy(SecretId=arn, ResourcePolicy=document())
    assert (put["ARN"], put["Name"]) == (arn, "app") and "PolicyName" not in put
    stored = app.get_resource_policy(SecretId="app")["ResourcePolicy"]
    assert json.loads(stored) == json.loads(document())
    assert stored == json.dumps(json.loads(document()), sort_keys=True, separators=(",", ":"))
    app.put_resource_policy(SecretId="app", ResourcePolicy=stored)  # the same policy: no commit
    assert commits(path) == before + 1
    assert operations(path)[0] == "PutResourcePolicy app | PutResourcePolicy"
    app.tag_resource(SecretId="app", Tags=[{"Key": "k", "Value": "v"}])  # other writes keep it
    app.put_secret_value(SecretId="app", SecretString="next")
    assert app.get_resource_policy(SecretId="app")["ResourcePolicy"] == stored
    app.delete_resource_policy(SecretId="app")
    assert "ResourcePolicy" not in app.get_resource_policy(SecretId="app")
    assert operations(path)[0] == "DeleteResourcePolicy app | DeleteResourcePolicy"
    assert commits(path) == before + 4


BAD = {
    "not JSON": ('{"Version": "2012-10-17", "Statement": [', "It is not valid JSON"),
    "a JSON list": ("[1, 2]", "The policy is not a JSON object."),
    "a repeated key": ('{"Statement": [], "Statement": []}', "appears twice"),
    "an unknown version": (json.dumps({"Version": "2019-10-19", "Statement": [statement()]}),
                           "Version must be 2012-10-17 or 2008-10-17."),
    "no statement": ('{"Version": "2012-10-17"}', "The policy has no Statement"),
    "an empty statement list": ('{"Statement": []}', "The policy has no Statement"),
    "a bad effect": (document(statement(Effect="allow")), 'Statement[0] has no Effect of "Allow"'),
    "no principal": (document(statement(Principal=None)),
                     "Statement[0] must have exactly one of Principal and NotPrincipal."),
    "both actions": (document(statement(NotAction="secretsmanager:*")),
                     "Statement[0] must have exactly one of Action and NotAction."),
    "no resource": (document(statement(Resource=None)), "exactly one of Resource and NotResource"),
    "a bare ARN principal": (document(statement(Principal=ACCOUNT_ROOT)), "Principal is neither"),
    "an unknown principal type": (document(statement(Principal={"User": "x"})),
                                  'unknown principal type "User"'),
    "an empty action list": (document(statement(Action=[])), "Action is not a string"),
    "an unknown element": (document(statement(Effects="Allow")), 'unknown element "Effects"'),
    "a condition of the wrong shape": (document(statement(Condition={"StringEquals": "x"})),
                                       "Condition has an operator"),
    "a number too large": (document(statement(Condition={"NumericLessThan": {"k": 1}})).replace(
        '"k": 1', '"k": 1e999'), "It is not valid JSON: a number is too large"),
    "a second statement broken": (document(statement(), statement(Sid=7)),
                                  "Statement[1] has a Sid that is not a string."),
}  # fmt: skip


def test_every_shape_the_policy_grammar_allows_is_accepted() -> None:
    condition = {
        "NumericLessThan": {"aws:MultiFactorAuthAge": 3600},
        "Bool": {"aws:SecureTransport": True},
        "StringEquals": {"secretsmanager:VersionStage": ["AWSCURRENT", "AWSPREVIOUS"]},
    }
    valid = [
        {"Statement": statement()},  # no Version; one statement object rather than a list
        {"Version": "2008-10-17", "Id": "id-1", "Statement": [statement(Sid="")]},
        {"Statement": [statement(Principal={"Service": ["a.amazonaws.com", "b.amazonaws.com"]},
                                 Action=None, NotAction=["secretsmanager:Delete*"],
                                 Resource=None, NotResource="arn:aws:secretsmanager:*",
                                 Condition=condition)]},
        {"Statement": [statement(Effect="Deny", Principal="*"), statement()]},
    ]  # fmt: skip
    for doc in valid:
        assert policy.shape_problems(doc) == [], doc
        assert json.loads(policy.canonical(json.dumps(doc))) == doc


def test_malformed_and_public_policies_are_refused_and_nothing_is_written(
    one: SecretsManagerClient,
) -> None:
    one.put_resource_policy(SecretId="app", ResourcePolicy=document())
    path, before = path_of(one), commits(path_of(one))
    kept = one.get_resource_policy(SecretId="app")["ResourcePolicy"]
    for case, (text, reason) in BAD.items():
        with pytest.raises(one.exceptions.MalformedPolicyDocumentException) as info:
            one.put_resource_policy(SecretId="app", ResourcePolicy=text)
        _, message = error(info)
        assert message.startswith(policy.MALFORMED) and reason in message, case
    public = [statement(Principal="*"), statement(Principal={"AWS": ["*"]}),
              statement(Principal=None, NotPrincipal={"AWS": ACCOUNT_ROOT})]  # fmt: skip
    for granted in public:
        with pytest.raises(one.exceptions.PublicPolicyException) as info:
            one.put_resource_policy(
                SecretId="app", ResourcePolicy=document(granted), BlockPublicPolicy=True
            )
        assert error(info)[1].startswith(policy.PUBLIC)
    assert commits(path) == before
    assert one.get_resource_policy(SecretId="app")["ResourcePolicy"] == kept


def test_block_public_policy_is_about_wildcards_without_a_limiting_condition(
    one: SecretsManagerClient,
) -> None:
    org = {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    for allowed in (statement(), statement(Principal="*", Condition=org),
                    statement(Effect="Deny", Principal="*")):  # fmt: skip
        one.put_resource_policy(
            SecretId="app", ResourcePolicy=document(allowed), BlockPublicPolicy=True
        )
    wide = {"StringLike": {"aws:PrincipalOrgID": "*"}}
    with pytest.raises(one.exceptions.PublicPolicyException):
        one.put_resource_policy(SecretId="app", ResourcePolicy=document(
            statement(Principal="*", Condition=wide)), BlockPublicPolicy=True)  # fmt: skip
    public = document(statement(Principal="*"))
    one.put_resource_policy(SecretId="app", ResourcePolicy=public, BlockPublicPolicy=False)
    one.put_resource_policy(SecretId="app", ResourcePolicy=document())  # the default: not blocked
    assert json.loads(one.get_resource_policy(SecretId="app")["ResourcePolicy"]) == json.loads(
        document()
    )


def test_parameters_are_checked_like_the_other_operations(one: SecretsManagerClient) -> None:
    with pytest.raises(ParamValidationError, match=r'Missing required parameter.*"ResourcePolicy"'):
        one.put_resource_policy(SecretId="app")
    with pytest.raises(ParamValidationError, match='Unknown parameter in input: "PolicyName"'):
        one.get_resource_policy(SecretId="app", PolicyName="default")
    too_long = document(statement(Sid="x" * RESOURCE_POLICY_MAX))
    with pytest.raises(one.exceptions.InvalidParameterException) as info:  # boto3 sends it
        one.put_resource_policy(SecretId="app", ResourcePolicy=too_long)
    assert error(info)[1] == "ResourcePolicy must be a string of 1-20,480 characters."
    for bad in ("", 7):  # refused by boto3 before any request (the model's min length and type)
        with pytest.raises(ParamValidationError, match="ResourcePolicy"):
            one.put_resource_policy(SecretId="app", ResourcePolicy=bad)
        with pytest.raises(errors.InvalidParameterException):  # and by the store itself
            one.store.put_resource_policy("app", bad)  # type: ignore[arg-type]
    with pytest.raises(ParamValidationError, match="BlockPublicPolicy"):
        one.put_resource_policy(SecretId="app", ResourcePolicy=document(), BlockPublicPolicy="yes")
    for call in (one.get_resource_policy, one.delete_resource_policy):
        with pytest.raises(one.exceptions.ResourceNotFoundException) as info:
            call(SecretId="nope")
        assert error(info)[1] == errors.SECRET_NOT_FOUND
    with pytest.raises(one.exceptions.ResourceNotFoundException):
        one.put_resource_policy(SecretId="nope", ResourcePolicy=document())


def test_the_secret_is_looked_up_before_the_document_is_read(one: SecretsManagerClient) -> None:
    """A document is judged as the policy of a secret: a missing secret (or one pending deletion)
    is reported before a malformed document, as moto's test_policies_for_unknown_secrets expects
    (``ResourcePolicy="p"`` on an unknown secret: ResourceNotFoundException); only the length
    limit, a check of the parameter itself, comes first."""
    for call in (one.put_resource_policy, one.validate_resource_policy):
        with pytest.raises(one.exceptions.ResourceNotFoundException):
            call(SecretId="nope", ResourcePolicy="p")
    with pytest.raises(one.exceptions.InvalidParameterException):
        one.put_resource_policy(SecretId="nope", ResourcePolicy="x" * (RESOURCE_POLICY_MAX + 1))
    with pytest.raises(one.exceptions.MalformedPolicyDocumentException):
        one.put_resource_policy(SecretId="app", ResourcePolicy="p")
    one.delete_secret(SecretId="app", RecoveryWindowInDays=7)
    with pytest.raises(one.exceptions.InvalidRequestException):
        one.put_resource_policy(SecretId="app", ResourcePolicy="p")


def test_a_secret_pending_deletion_refuses_all_three_and_keeps_its_policy(
    one: SecretsManagerClient,
) -> None:
    one.put_resource_policy(SecretId="app", ResourcePolicy=document())
    one.delete_secret(SecretId="app", RecoveryWindowInDays=7)
    before = commits(path_of(one))
    calls = [lambda: one.get_resource_policy(SecretId="app"),
             lambda: one.delete_resource_policy(SecretId="app"),
             lambda: one.put_resource_policy(SecretId="app", ResourcePolicy=document())]  # fmt: skip
    for call in calls:
        with pytest.raises(one.exceptions.InvalidRequestException) as info:
            call()
        assert error(info)[1] == errors.MARKED_DELETED
    assert commits(path_of(one)) == before
    one.restore_secret(SecretId="app")
    assert json.loads(one.get_resource_policy(SecretId="app")["ResourcePolicy"]) == json.loads(
        document()
    )


def test_validate_reports_each_check_and_writes_nothing(one: SecretsManagerClient) -> None:
    before = commits(path_of(one))
    passed = one.validate_resource_policy(ResourcePolicy=document(), SecretId="app")
    assert (passed["PolicyValidationPassed"], passed["ValidationErrors"]) == (True, [])
    public = one.validate_resource_policy(ResourcePolicy=document(statement(Principal="*")))
    assert public["PolicyValidationPassed"] is False
    assert [e["CheckName"] for e in public["ValidationErrors"]] == [policy.BROAD_ACCESS_CHECK]
    bad = document(statement(Effect=None, Action=None))
    shape = one.validate_resource_policy(ResourcePolicy=bad)
    assert [(e["CheckName"], e["ErrorMessage"]) for e in shape["ValidationErrors"]] == [
        (policy.SYNTAX_CHECK, 'Statement[0] has no Effect of "Allow" or "Deny".'),
        (policy.SYNTAX_CHECK, "Statement[0] must have exactly one of Action and NotAction."),
    ]
    with pytest.raises(one.exceptions.MalformedPolicyDocumentException):
        one.validate_resource_policy(ResourcePolicy="{not json")
    with pytest.raises(one.exceptions.ResourceNotFoundException):
        one.validate_resource_policy(ResourcePolicy=document(), SecretId="nope")
    assert commits(path_of(one)) == before


# -- the manifest field -----------------------------------------------------------------------------

T0 = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
words = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)


@st.composite
def policies(draw: st.DrawFn) -> str:
    actions = draw(st.lists(words, min_size=1, max_size=3))
    condition = {"StringEquals": {draw(words): draw(words)}}
    doc = {"Version": "2012-10-17", "Statement": [
        statement(Sid=draw(words), Action=actions, Condition=draw(st.sampled_from([None, condition])))
    ]}  # fmt: skip
    return policy.canonical(json.dumps(doc, ensure_ascii=draw(st.booleans())))


@settings(max_examples=60, deadline=None)
@given(policies())
def test_the_policy_line_reads_back_through_both_parsers(text: str) -> None:
    secret = Secret("app", "arn:x", T0, T0, description="d", resource_policy=text)
    data = dump_secret(secret)
    data.decode("ascii")  # canonical manifests are pure ASCII, whatever the policy holds
    assert _fast_doc(data) == yaml.safe_load(data)
    assert load_secret(data, "m") == secret and dump_secret(load_secret(data, "m")) == data


def test_the_reader_refuses_a_policy_over_the_limit_or_not_canonical() -> None:
    doc = json.loads(document(statement(Sid="")))
    doc["Statement"][0]["Sid"] = "\U0001f600" * (RESOURCE_POLICY_MAX - len(policy.dump(doc)))
    largest = policy.canonical(policy.dump(doc))  # each character escaped as 10 in the manifest
    assert len(largest) == RESOURCE_POLICY_MAX
    secret = Secret("app", "arn:x", T0, T0, resource_policy=largest)
    data = dump_secret(secret)
    assert len(data) < MANIFEST_MAX_BYTES - 50_000  # room left for versions
    assert load_secret(data, "m").resource_policy == largest
    for text, problem in (
        ("x" * (RESOURCE_POLICY_MAX + 1), "is 20,481 characters long, over the limit of 20,480"),
        ('{"b":1, "a":2}', "is not canonical JSON"),
        ("[]", "is not a JSON object"),
        ("{", "is not valid JSON"),
    ):
        data = dump_secret(Secret("app", "arn:x", T0, T0, resource_policy=text))
        for parsed in (data, data.replace(b"format: 1\n", b"format: 1\n# by hand\n")):
            with pytest.raises(MalformedStoreFile, match=f"resource_policy {problem}"):
                load_secret(parsed, "m")


def test_may_have_policy_is_false_only_when_no_policy_can_be_there(
    one: SecretsManagerClient, repo_path: Path
) -> None:
    """gitsm serve's authorizer skips reading the resource policy of a secret whose manifest
    cannot hold one: the answer is False only for a plain name whose manifest is missing or
    holds neither the key's text nor a YAML escape that could spell it."""
    store = one.store
    arn = one.describe_secret(SecretId="app")["ARN"]
    assert store.may_have_policy("app") is False
    assert store.may_have_policy("missing") is False  # the operation answers: not found
    assert store.may_have_policy(arn) is True  # an ARN: the full lookup decides
    one.put_resource_policy(SecretId="app", ResourcePolicy=document())
    assert store.may_have_policy("app") is True
    one.delete_resource_policy(SecretId="app")
    assert store.may_have_policy("app") is False
    manifest = repo_path / "secrets" / "app" / "~secret.yaml"
    text = manifest.read_text()
    policy_text = json.dumps(json.loads(document()), sort_keys=True, separators=(",", ":"))
    hidden = text.replace("format: 1\n", "format: 1\n\"resource\\x5fpolicy\": "
                          + json.dumps(policy_text) + "\n")  # fmt: skip
    manifest.write_text(hidden)
    git(repo_path, "commit", "-qam", "a policy under an escaped key (hand edit)")
    assert store.resource_policy_of("app").resource_policy == policy_text  # YAML reads the key
    assert store.may_have_policy("app") is True
