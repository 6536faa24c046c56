"""Resource policies: the shape of a policy document, its canonical form and the broad-access check.

A secret's resource policy is JSON text of at most 20,480 characters holding an IAM policy document:
``Version`` (optional; ``2012-10-17`` or ``2008-10-17``), ``Id`` (optional) and ``Statement`` (one
statement object or a non-empty list of them). Each statement has an ``Effect`` (``Allow`` or
``Deny``), exactly one of ``Principal``/``NotPrincipal``, of ``Action``/``NotAction`` and of
``Resource``/``NotResource``, and optionally a ``Sid`` and a ``Condition``. Anything else is
MalformedPolicyDocumentException. The store keeps the policy as canonical JSON (sorted keys, no
spaces), so that two equal policies are one text and a changed one diffs as one line.

A statement grants broad ("public") access when it allows every principal (``"Principal": "*"``,
``{"AWS": "*"}``, or any ``NotPrincipal``) and no condition pins the caller to fixed values of the
keys that AWS counts as limiting (its definition of a public policy for S3 Block Public Access:
accounts, organizations, ARNs, networks, source accounts). AWS decides this with an automated
reasoning engine; this is a simpler reading of the same rule (docs/SEMANTICS.md).

Pure: no git, no store, no values. Messages quote element names and positions, never the policy.
"""

from __future__ import annotations

import json
import math
from typing import Any

from gitsm.errors import (
    InvalidParameterException,
    MalformedPolicyDocumentException,
    PublicPolicyException,
)
from gitsm.model import RESOURCE_POLICY_MAX

MALFORMED = "The resource policy has syntax errors."
"""AWS's description of MalformedPolicyDocumentException; the reason follows it."""
PUBLIC = (
    "The BlockPublicPolicy parameter is set to true, and the resource policy did not prevent "
    "broad access to the secret."
)
"""AWS's description of PublicPolicyException; the statement that grants it follows."""
SYNTAX_CHECK = "SyntaxCheck"
BROAD_ACCESS_CHECK = "BroadAccessCheck"
"""The CheckName of ValidateResourcePolicy's findings (AWS does not document its own names)."""

OPERATIONS = frozenset({"PutResourcePolicy", "DeleteResourcePolicy"})
"""The operations that change a secret's resource policy (and nothing else of it)."""
VERSIONS = ("2012-10-17", "2008-10-17")
_TOP = frozenset({"Version", "Id", "Statement"})
_STATEMENT = frozenset({"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
                        "Resource", "NotResource", "Condition"})  # fmt: skip
_PRINCIPAL_TYPES = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})
_LIMITING_KEYS = frozenset({
    "aws:principalaccount", "aws:principalarn", "aws:principalorgid", "aws:principalorgpaths",
    "aws:sourceaccount", "aws:sourcearn", "aws:sourceowner", "aws:sourceorgid",
    "aws:sourceorgpaths", "aws:sourceip", "aws:sourcevpc", "aws:sourcevpce", "aws:userid",
})  # fmt: skip
"""Condition keys whose fixed values limit who can call (lower case: keys are case-insensitive)."""
_LIMITING_OPERATORS = frozenset({"StringEquals", "StringEqualsIgnoreCase", "StringLike",
                                 "ArnEquals", "ArnLike", "IpAddress"})  # fmt: skip
_OPEN_VALUES = frozenset({"0.0.0.0/0", "::/0"})


def check_text(text: object) -> str:
    """A ResourcePolicy parameter: a string of 1-20,480 characters (InvalidParameterException)."""
    if not isinstance(text, str) or not 1 <= len(text) <= RESOURCE_POLICY_MAX:
        raise InvalidParameterException(
            f"ResourcePolicy must be a string of 1-{RESOURCE_POLICY_MAX:,} characters."
        )
    return text


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the element {json.dumps(key)} appears twice in one object")
        out[key] = value
    return out


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number is too large")
    return value


def _constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse(text: str) -> Any:
    """The JSON document ``text`` holds; MalformedPolicyDocumentException when it is not JSON
    (or repeats a key in one object, which would make its meaning depend on the reader)."""
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_float=_number,
                          parse_constant=_constant)  # fmt: skip
    except json.JSONDecodeError as exc:
        reason = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except (ValueError, RecursionError) as exc:  # nested too deep for the reader; our own checks
        reason = str(exc) if isinstance(exc, ValueError) else "it is nested too deeply"
    raise MalformedPolicyDocumentException(f"{MALFORMED} It is not valid JSON: {reason}.")


def dump(doc: Any) -> str:
    """The canonical JSON text of a parsed policy: sorted keys, no spaces, characters as they are."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _strings(value: object) -> bool:
    """A non-empty string, or a non-empty list of them."""
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(isinstance(v, str) and v for v in items)


def _principal_problem(value: object) -> str | None:
    if value == "*":
        return None
    if not isinstance(value, dict) or not value:
        return 'is neither "*" nor an object of principal types (AWS, Service, Federated, ...)'
    for kind, names in value.items():
        if kind not in _PRINCIPAL_TYPES:
            return f"names an unknown principal type {json.dumps(kind)}"
        if not _strings(names):
            return f"has a {kind} that is not a string or a non-empty list of strings"
    return None


def _condition_problem(value: object) -> str | None:
    if not isinstance(value, dict) or not value:
        return "is not an object of condition operators"
    for operator, block in value.items():
        if not operator or not isinstance(block, dict) or not block:
            return f"has an operator {json.dumps(operator)} that is not an object of condition keys"
        for key, values in block.items():
            items = values if isinstance(values, list) else [values]
            if not key or not items or not all(isinstance(v, str | int | float) for v in items):
                return (f"has a key {json.dumps(key)} whose value is not a string, number, "
                        "boolean or a non-empty list of them")  # fmt: skip
    return None


def _statement_problems(statement: object, where: str) -> list[str]:
    if not isinstance(statement, dict):
        return [f"{where} is not an object."]
    out = [
        f"{where} has an unknown element {json.dumps(k)}." for k in statement if k not in _STATEMENT
    ]
    if "Sid" in statement and not isinstance(statement["Sid"], str):
        out.append(f"{where} has a Sid that is not a string.")
    if statement.get("Effect") not in ("Allow", "Deny"):
        out.append(f'{where} has no Effect of "Allow" or "Deny".')
    for one, other in (("Principal", "NotPrincipal"), ("Action", "NotAction"),
                       ("Resource", "NotResource")):  # fmt: skip
        given = [k for k in (one, other) if k in statement]
        if len(given) != 1:
            out.append(f"{where} must have exactly one of {one} and {other}.")
            continue
        value = statement[given[0]]
        if one == "Principal":
            problem = _principal_problem(value)
        else:
            problem = None if _strings(value) else "is not a string or a non-empty list of strings"
        if problem is not None:
            out.append(f"{where}: {given[0]} {problem}.")
    if "Condition" in statement and (problem := _condition_problem(statement["Condition"])):
        out.append(f"{where}: Condition {problem}.")
    return out


def shape_problems(doc: object) -> list[str]:
    """Every way ``doc`` (parsed JSON) is not a policy document; empty when it is one."""
    if not isinstance(doc, dict):
        return ["The policy is not a JSON object."]
    out = [f"The policy has an unknown element {json.dumps(k)}." for k in doc if k not in _TOP]
    if "Version" in doc and doc["Version"] not in VERSIONS:
        out.append(f"Version must be {' or '.join(VERSIONS)}.")
    if "Id" in doc and not isinstance(doc["Id"], str):
        out.append("Id is not a string.")
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        out += _statement_problems(statements, "Statement")
    elif isinstance(statements, list) and statements:
        for i, statement in enumerate(statements):
            out += _statement_problems(statement, f"Statement[{i}]")
    else:
        out.append("The policy has no Statement (an object or a non-empty list of them).")
    return out


def _everyone(principal: object) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return any(
        "*" in (names if isinstance(names, list) else [names]) for names in principal.values()
    )


def _limited(condition: object) -> bool:
    """True when a condition pins the caller to fixed values of a limiting key."""
    if not isinstance(condition, dict):
        return False
    for operator, block in condition.items():
        if operator not in _LIMITING_OPERATORS or not isinstance(block, dict):
            continue
        for key, values in block.items():
            items = values if isinstance(values, list) else [values]
            fixed = all(
                isinstance(v, str) and v and "*" not in v and "?" not in v and v not in _OPEN_VALUES
                for v in items
            )
            if str(key).lower() in _LIMITING_KEYS and items and fixed:
                return True
    return False


def broad_access(doc: object) -> list[str]:
    """One sentence per statement of ``doc`` that grants broad access (empty: none does)."""
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    listed = statements if isinstance(statements, list) else [statements]
    out: list[str] = []
    for i, statement in enumerate(listed):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        where = f"Statement[{i}]" if isinstance(statements, list) else "Statement"
        if "NotPrincipal" in statement:
            out.append(f"{where} allows every principal that NotPrincipal does not name.")
        elif _everyone(statement.get("Principal")) and not _limited(statement.get("Condition")):
            out.append(f'{where} allows every principal ("*") without a condition that limits '
                       "the caller to fixed accounts, organizations, ARNs or networks.")  # fmt: skip
    return out


def canonical(text: object, *, block_public: bool = False) -> str:
    """PutResourcePolicy's policy checked and in canonical form: InvalidParameterException (not a
    string of 1-20,480 characters), MalformedPolicyDocumentException (not JSON, not a policy
    document), PublicPolicyException (``block_public`` and a statement grants broad access)."""
    doc = parse(check_text(text))
    problems = shape_problems(doc)
    if problems:
        more = f" ({len(problems) - 1} more problem(s).)" if len(problems) > 1 else ""
        raise MalformedPolicyDocumentException(f"{MALFORMED} {problems[0]}{more}")
    if block_public and (broad := broad_access(doc)):
        raise PublicPolicyException(f"{PUBLIC} {broad[0]}")
    out = dump(doc)
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedPolicyDocumentException(
            f"{MALFORMED} It holds an unpaired surrogate (\\ud800-\\udfff), which is not text."
        ) from None
    if len(out) > RESOURCE_POLICY_MAX:
        raise MalformedPolicyDocumentException(
            f"{MALFORMED} Its canonical form (sorted keys, no spaces) is over "
            f"{RESOURCE_POLICY_MAX:,} characters: write its numbers as integers or strings."
        )
    return out


def findings(text: object) -> list[tuple[str, str]]:
    """ValidateResourcePolicy's (CheckName, ErrorMessage) pairs: empty when the policy passes.
    Text that is not JSON at all is MalformedPolicyDocumentException, as for PutResourcePolicy."""
    doc = parse(check_text(text))
    out = [(SYNTAX_CHECK, problem) for problem in shape_problems(doc)]
    return out + [(BROAD_ACCESS_CHECK, problem) for problem in broad_access(doc)]


def stored_problem(text: str) -> str | None:
    """Why ``text`` is not a policy as a manifest keeps it (canonical JSON of an object), or None."""
    try:
        doc = parse(text)
    except MalformedPolicyDocumentException:
        return "is not valid JSON"
    if not isinstance(doc, dict):
        return "is not a JSON object"
    if dump(doc) != text:
        return "is not canonical JSON (sorted keys, no spaces)"
    return None
