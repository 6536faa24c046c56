"""gitsm serve's authorization: the ``.gitsm/server.yaml`` format, the operation classes, name
prefixes, SecretIds given as ARNs, and resource policies (Allow, Deny, wildcards).

The store-backed half (loading from the branch tip, the existence oracle, listings, gitsm verify and
the hooks) is tests/test_serve_authz_store.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gitsm import policy
from gitsm.apimodel import OPERATIONS as API_OPERATIONS
from gitsm.apimodel import READS, WRITES
from gitsm.errors import MalformedStoreFile
from gitsm.serve.authz import ServerPolicy, names_of, principal_arn
from gitsm.serve.caller import Caller, EndpointError
from gitsm.serve.statements import matches
from gitsm.serverpolicy import (
    EXAMPLE,
    LIST,
    NONE,
    OPERATION_CLASS,
    READ,
    SERVER_MAX_BYTES,
    WRITE,
)

ACCOUNT = "123456789012"
ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:"
RULES = b"""\
format: 1
principals:
  reader: {read: [prod/]}
  writer: {write: [prod/]}
  admin: {read: ["*"], write: ["*"]}
  narrow: {read: ["*"], operations: [GetSecretValue, ListSecrets]}
  nobody:
  dashed: {read: [prod/db-]}
"""
POLICY = ServerPolicy.parse(RULES, account_id=ACCOUNT)


def caller(principal: str) -> Caller:
    return Caller(principal, "AKIAEXAMPLE", "us-east-1")


def denied(policy_: ServerPolicy, who: str, operation: str, secret_id: str | None) -> str:
    """The message of the AccessDeniedException ``check`` raises (fails when it allows)."""
    with pytest.raises(EndpointError) as info:
        policy_.check(caller(who), operation, secret_id)
    assert (info.value.code, info.value.http_status) == ("AccessDeniedException", 400)
    return str(info.value)


# -- the file -------------------------------------------------------------------------------------


def test_a_good_file_and_the_example_parse() -> None:
    grants = POLICY.rules.principals
    assert grants["reader"].read == ("prod/",) and grants["reader"].write == ()
    assert grants["narrow"].operations == frozenset({"GetSecretValue", "ListSecrets"})
    assert grants["admin"].operations is None and grants["nobody"].read == ()
    example = ServerPolicy.parse(EXAMPLE.encode())
    assert example.allows(caller("admin"), "PutSecretValue", "anything")
    assert example.allows(caller("ci-prod"), "GetSecretValue", "prod/db")
    assert not example.allows(caller("ci-prod"), "GetSecretValue", "dev/db")


BAD = [
    (b"format: 1\nprincipals:\n  ci: {read: [*]}\n", "not valid YAML", 'write "*" in quotes'),
    (b"format: 1\nprincipals:\n  ci: {read: [prod/*]}\n", "read[0] is 'prod/*'", "FORMAT.md"),
    (b"format: 1\nprincipals:\n  ci: {read: ['prod db']}\n", 'not "*" or the start', "FORMAT"),
    (b"format: 1\nprincipals:\n  ci: {read: [7]}\n", "read[0] is a number", "FORMAT.md"),
    (b"format: 1\nprincipals:\n  ci: {read: prod/}\n", "read is a string, not a list", "FORMAT"),
    (b"format: 1\nprincipals:\n  ci: {red: []}\n", "ci.red is not a setting", "FORMAT.md"),
    (b"format: 1\nprincipal: {}\n", "principal is not a setting", "FORMAT.md"),
    (b"format: 1\nprincipals: [ci]\n", "principals is a list, not a mapping", "FORMAT.md"),
    (b"format: 1\nprincipals:\n  ci: [prod/]\n", "principals.ci is a list", "FORMAT.md"),
    (b"format: 1\nprincipals:\n  a/b: {}\n", "is not a principal name", "FORMAT.md"),
    (b"format: 1\nprincipals:\n  ci: {operations: [GetSecret]}\n", "'GetSecret', not an", "FORMAT"),
    (b"principals: {}\n", "has no format number", "FORMAT.md"),
    (b"format: 2\nprincipals: {}\n", "server policy format 2, newer", "upgrade gitsm"),
    (b"format: 1\nprincipals:\n  a: &x {read: [p/]}\n  b: *x\n", "YAML anchor", "tags, or edit"),
    (b"- format: 1\n", "is not a YAML mapping", "FORMAT.md"),
    (
        b"format: 1\nprincipals:\n  a: {read: [x/]}\n  a: {read: ['*']}\n",
        "'principals.a' is given twice",
        "FORMAT.md",
    ),
    (b"format: 1\nprincipals:\n  a: {read: [x/], read: ['*']}\n", "a.read' is given", "FORMAT"),
    (b"format: 1\nprincipals:\n  a: {read: [" + b"x" * 5000 + b"]}\n", "unquoted", "quote it, or"),
    (b"format: 1\n" + b"#" * SERVER_MAX_BYTES, "over the limit of the server policy", "FORMAT"),
]


@pytest.mark.parametrize(("text", "problem", "fix"), BAD)
def test_each_bad_shape_is_refused_naming_the_file_the_field_and_the_fix(
    text: bytes, problem: str, fix: str
) -> None:
    with pytest.raises(MalformedStoreFile) as info:
        ServerPolicy.parse(text, "the/server.yaml")
    assert info.value.path == "the/server.yaml"
    assert problem in info.value.problem and fix in info.value.fix, info.value


# -- operations and prefixes ----------------------------------------------------------------------


def test_every_operation_of_the_service_has_a_class_agreeing_with_the_cli() -> None:
    assert set(OPERATION_CLASS) == set(API_OPERATIONS)
    assert {op for op in WRITES if OPERATION_CLASS[op] != WRITE} == set()
    assert {op for op in READS if OPERATION_CLASS[op] == WRITE} == {"ValidateResourcePolicy"}
    assert {op for op, kind in OPERATION_CLASS.items() if kind in (LIST, NONE)} == {
        "ListSecrets", "BatchGetSecretValue", "GetRandomPassword"
    }  # fmt: skip


@pytest.mark.parametrize("operation", sorted(OPERATION_CLASS))
def test_each_operation_needs_the_prefixes_of_its_class(operation: str) -> None:
    kind = OPERATION_CLASS[operation]
    secret = None if kind in (LIST, NONE) else "prod/db"
    assert POLICY.allows(caller("reader"), operation, secret) == (kind in (READ, LIST, NONE))
    assert POLICY.allows(caller("writer"), operation, secret) == (kind in (WRITE, NONE))
    assert POLICY.allows(caller("admin"), operation, secret)
    for who in ("nobody", "stranger"):  # listed without grants, or not listed at all
        if POLICY.allows(caller(who), operation, secret):
            assert who == "nobody" and kind == NONE
        else:
            assert f"secretsmanager:{operation} on resource: {secret or '*'} because" in denied(
                POLICY, who, operation, secret
            )
    if secret is not None:
        assert not POLICY.allows(caller("admin" if kind == READ else "writer"), "Nope", secret)


def test_validate_resource_policy_without_a_secret_touches_none() -> None:
    assert POLICY.allows(caller("reader"), "ValidateResourcePolicy", None)
    assert not POLICY.allows(caller("reader"), "ValidateResourcePolicy", "prod/db")
    assert not POLICY.allows(caller("stranger"), "ValidateResourcePolicy", None)


def test_the_operation_allow_list_limits_every_class() -> None:
    narrow = caller("narrow")
    assert POLICY.allows(narrow, "GetSecretValue", "any/name")
    assert POLICY.allows(narrow, "ListSecrets", None)
    for operation in ("DescribeSecret", "BatchGetSecretValue", "GetRandomPassword"):
        denied(POLICY, "narrow", operation, "x" if operation == "DescribeSecret" else None)


def test_prefixes_are_prefixes_of_names() -> None:
    reader = caller("reader")
    assert POLICY.allows(reader, "GetSecretValue", "prod/db/password")
    for other in ("prod", "production/db", "dev/prod/db", "Prod/db"):
        assert not POLICY.allows(reader, "GetSecretValue", other), other
    assert POLICY.may_read(reader, "prod/a") and not POLICY.may_read(reader, "dev/a")
    assert not POLICY.may_read(caller("writer"), "prod/a")


def test_the_denial_reads_as_aws_writes_it() -> None:
    message = denied(POLICY, "reader", "PutSecretValue", "prod/db")
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/reader is not authorized to perform: "
        "secretsmanager:PutSecretValue on resource: prod/db because no identity-based policy "
        "allows the secretsmanager:PutSecretValue action"
    )
    assert principal_arn("111122223333", "ci") == "arn:aws:iam::111122223333:user/ci"


def test_no_file_denies_everything() -> None:
    empty = ServerPolicy.empty(ACCOUNT)
    for operation in OPERATION_CLASS:
        assert not empty.allows(caller("admin"), operation, "x")
    assert empty.advice is not None and EXAMPLE in empty.advice
    assert POLICY.advice is None


# -- SecretIds given as ARNs ----------------------------------------------------------------------


def test_arns_and_partial_arns_are_checked_as_the_names_they_spell() -> None:
    assert names_of("prod/db") == ["prod/db"]
    assert names_of(ARN + "prod/db-AbCdEf") == ["prod/db", "prod/db-AbCdEf"]
    assert names_of(ARN + "prod/db") == ["prod/db"]
    assert names_of("arn:aws:s3:::bucket") == ["arn:aws:s3:::bucket"]
    reader = caller("reader")
    for given in (ARN + "prod/db-AbCdEf", ARN + "prod/db", "arn:aws:secretsmanager:eu-west-1:"
                  "999999999999:secret:prod/x-123456"):  # fmt: skip
        assert POLICY.allows(reader, "GetSecretValue", given), given
    message = denied(POLICY, "reader", "GetSecretValue", ARN + "dev/db-AbCdEf")
    assert f"on resource: {ARN}dev/db-AbCdEf because" in message  # as given
    denied(POLICY, "reader", "GetSecretValue", "arn:aws:s3:::prod/x")  # no secret: only "*"
    assert POLICY.allows(caller("admin"), "GetSecretValue", "arn:aws:s3:::prod/x")


def test_a_full_arn_is_allowed_only_when_both_names_it_may_stand_for_are() -> None:
    # "prod/db-AbCdEf" is covered by "prod/db-", but the ARN may name the secret "prod/db"
    dashed = caller("dashed")
    assert POLICY.allows(dashed, "GetSecretValue", "prod/db-AbCdEf")
    denied(POLICY, "dashed", "GetSecretValue", ARN + "prod/db-AbCdEf")


# -- resource policies ----------------------------------------------------------------------------


def doc(*statements: dict[str, Any]) -> str:
    """The canonical text of a policy, as the manifest keeps it."""
    return policy.canonical(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


def stmt(effect: str | None = None, who: object = None, action: object = "secretsmanager:Get*",
         resource: object = "*", **more: Any) -> dict[str, Any]:  # fmt: skip
    out = {"Effect": effect or "Allow", "Principal": who or {"AWS": principal_arn(ACCOUNT, "stranger")},
           "Action": action, "Resource": resource}  # fmt: skip
    out.update(more)
    return {k: v for k, v in out.items() if v is not None}


SECRET_ARN = ARN + "prod/db-AbCdEf"


def outcome(who: str, operation: str, text: str | None, arn: str = SECRET_ARN) -> str:
    """ "ok", "denied" or "explicit" for the call after the lookup of secret prod/db."""
    asker = caller(who)
    try:
        POLICY.check_resource(asker, operation, "prod/db", text,
                              POLICY.allows(asker, operation, "prod/db"), secret_arn=arn)  # fmt: skip
    except EndpointError as exc:
        assert exc.code == "AccessDeniedException"
        return "explicit" if "explicit deny in a resource-based policy" in str(exc) else "denied"
    return "ok"


def test_an_allow_grants_what_the_server_policy_does_not() -> None:
    text = doc(stmt())
    assert outcome("stranger", "GetSecretValue", text) == "ok"
    assert outcome("stranger", "GetResourcePolicy", text) == "ok"  # Get*
    assert outcome("stranger", "PutSecretValue", text) == "denied"
    assert outcome("other", "GetSecretValue", text) == "denied"  # names someone else
    assert outcome("stranger", "GetSecretValue", None) == "denied"
    assert outcome("reader", "GetSecretValue", None) == "ok"
    assert POLICY.may_read(caller("stranger"), "prod/db", resource_policy=text)
    assert not POLICY.may_read(caller("stranger"), "prod/db", "PutSecretValue",
                               resource_policy=text)  # fmt: skip


def test_an_explicit_deny_wins_over_the_server_policy() -> None:
    text = doc(stmt(), stmt("Deny", "*", "secretsmanager:*"))
    assert outcome("admin", "GetSecretValue", text) == "explicit"
    assert outcome("stranger", "GetSecretValue", text) == "denied"  # said as before the lookup
    assert not POLICY.may_read(caller("admin"), "prod/db", resource_policy=text)


def test_principals_the_account_and_everyone() -> None:
    root = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert outcome("stranger", "GetSecretValue", doc(stmt(who=root))) == "denied"  # delegates
    assert outcome("admin", "GetSecretValue", doc(stmt("Deny", root))) == "explicit"
    assert outcome("admin", "GetSecretValue", doc(stmt("Deny", {"AWS": ACCOUNT}))) == "explicit"
    assert outcome("anyone", "GetSecretValue", doc(stmt(who="*"))) == "ok"
    assert outcome("anyone", "GetSecretValue", doc(stmt(who={"AWS": "*"}))) == "ok"
    service = {"Service": "lambda.amazonaws.com"}
    assert outcome("admin", "GetSecretValue", doc(stmt("Deny", service))) == "ok"
    assert outcome("stranger", "GetSecretValue", doc(stmt(who={"Service": "*"}))) == "denied"
    assert outcome("admin", "GetSecretValue", doc(stmt("Deny", {"Service": "*"}))) == "explicit"


def test_action_and_resource_wildcards() -> None:
    for action, expected in (("*", "ok"), ("secretsmanager:*", "ok"), ("SecretsManager:get*",
                             "ok"), ("secretsmanager:GetSecret?alue", "ok"),
                             ("secretsmanager:Describe*", "denied"), ("s3:*", "denied")):  # fmt: skip
        assert outcome("stranger", "GetSecretValue", doc(stmt(action=action))) == expected, action
    for resource, expected in ((ARN + "prod/*", "ok"), ("arn:aws:secretsmanager:*:*:secret:prod/db-"
                               "??????", "ok"), (SECRET_ARN, "ok"), (ARN + "dev/*", "denied"),
                               (ARN + "PROD/*", "denied")):  # fmt: skip
        assert outcome("stranger", "GetSecretValue", doc(stmt(resource=resource))) == expected
    assert matches("a*c", "abbbc") and not matches("a?c", "abbc") and matches("a.c", "a.c")
    assert not matches("a.c", "abc")


def test_not_action_not_resource_not_principal_and_conditions() -> None:
    only_reads = doc(stmt("Deny", "*", None, NotAction="secretsmanager:Get*"))
    assert outcome("admin", "PutSecretValue", only_reads) == "explicit"
    assert outcome("admin", "GetSecretValue", only_reads) == "ok"
    elsewhere = doc(stmt("Deny", "*", resource=None, NotResource=ARN + "prod/*"))
    assert outcome("admin", "GetSecretValue", elsewhere) == "ok"
    me = principal_arn(ACCOUNT, "admin")
    but_admin = doc(stmt("Deny", None, "*", Principal=None, NotPrincipal={"AWS": [me, ACCOUNT]}))
    assert outcome("admin", "GetSecretValue", but_admin) == "ok"
    assert outcome("reader", "GetSecretValue", but_admin) == "explicit"
    only_me = doc(stmt("Deny", None, "*", Principal=None, NotPrincipal={"AWS": me}))
    assert outcome("admin", "GetSecretValue", only_me) == "explicit"  # AWS: name the account too
    everyone_but = doc(stmt(None, None, "*", Principal=None, NotPrincipal={"AWS": me}))
    assert outcome("stranger", "GetSecretValue", everyone_but) == "denied"  # AWS: Deny only
    condition = {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}
    assert outcome("stranger", "GetSecretValue", doc(stmt(Condition=condition))) == "denied"
    assert outcome("admin", "GetSecretValue", doc(stmt("Deny", "*", Condition=condition))) == (
        "explicit"
    )


def test_an_unreadable_policy_denies() -> None:
    assert outcome("admin", "GetSecretValue", "{not json") == "explicit"
    assert outcome("admin", "GetSecretValue", '{"Statement":[]}') == "explicit"
