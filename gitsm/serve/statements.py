"""A secret's resource policy evaluated for one request: does a statement deny it, allow it, or
neither (docs/SERVE.md, "Authorization").

The policy is the canonical JSON the manifest keeps (:mod:`gitsm.policy` checked its shape when it
was put). A statement applies to a request when its principal, action and resource elements all
match it:

* **Principal**: ``"*"``, or an ``AWS`` list holding ``"*"`` or the caller's user ARN
  (``arn:aws:iam::<account>:user/<principal>``); in a Deny, ``"*"`` in a list of any type too. The account itself (``arn:aws:iam::<account>:root``
  or the bare 12 digits) names every principal of the account in a Deny; in an Allow it grants
  nothing by itself, as on AWS, where naming the account delegates to its identity-based policies
  (for gitsm, ``.gitsm/server.yaml``). ``NotPrincipal`` in a Deny applies it to every caller it
  does not name, a caller being left out only when both its user ARN and its account are named, as
  AWS requires; AWS does not support ``NotPrincipal`` in an Allow, and here such a statement allows
  nothing.
* **Action** / **NotAction**: ``secretsmanager:<Operation>`` matched case-insensitively against
  each pattern, ``*`` any run of characters and ``?`` one (``*``, ``secretsmanager:*``,
  ``secretsmanager:Get*``).
* **Resource** / **NotResource**: the secret's ARN matched case-sensitively against each pattern,
  with the same wildcards (``*``, ``arn:aws:secretsmanager:*:*:secret:prod/*``).
* **Condition**: gitsm evaluates no condition keys, so it reads every condition the cautious way:
  an Allow with a Condition allows nothing, a Deny with a Condition denies as if it held.

An explicit Deny wins over every Allow (and over ``.gitsm/server.yaml``). A policy that cannot be
read (a damaged manifest) denies. Pure: no git, no store.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from gitsm import policy
from gitsm.errors import MalformedPolicyDocumentException

ALLOW, DENY = "Allow", "Deny"


@functools.lru_cache(maxsize=1024)
def _pattern(glob: str, fold: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(body, re.IGNORECASE | re.DOTALL if fold else re.DOTALL)


def matches(glob: str, text: str, *, fold: bool = False) -> bool:
    """True when ``text`` matches the IAM wildcard pattern ``glob`` (``*`` any run, ``?`` one
    character); case-insensitively with ``fold``."""
    return _pattern(glob, fold).fullmatch(text) is not None


def _listed(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [v for v in items if isinstance(v, str)]


def _names(value: object, every_type: bool) -> list[str]:
    """The principal strings a Principal or NotPrincipal element holds: of the AWS type (the type
    of IAM users), or of every type (Service, Federated, ... too) with ``every_type``."""
    if value == "*":
        return ["*"]
    if not isinstance(value, dict):
        return []
    kinds = value.values() if every_type else [value.get("AWS")]
    return [name for names in kinds for name in _listed(names)]


def _principal_applies(statement: dict[str, Any], user_arn: str, account_id: str) -> bool:
    deny = statement.get("Effect") == DENY
    account = {f"arn:aws:iam::{account_id}:root", account_id}
    if "Principal" in statement:
        names = set(_names(statement["Principal"], deny))
        return "*" in names or user_arn in names or (deny and bool(names & account))
    if not deny:  # AWS does not support NotPrincipal in an Allow: it grants nothing here
        return False
    names = set(_names(statement.get("NotPrincipal"), True))
    return not (user_arn in names and bool(names & account))  # left out: named as both


def _element_applies(statement: dict[str, Any], key: str, text: str, fold: bool) -> bool:
    if key in statement:
        return any(matches(p, text, fold=fold) for p in _listed(statement[key]))
    return not any(matches(p, text, fold=fold) for p in _listed(statement.get("Not" + key)))


@functools.lru_cache(maxsize=256)
def _statements(text: str) -> tuple[dict[str, Any], ...] | None:
    """The statements of a policy (parsed once per text), or None when it is not a policy."""
    try:
        doc = policy.parse(text)
    except MalformedPolicyDocumentException:
        return None
    if not isinstance(doc, dict) or policy.shape_problems(doc):
        return None
    statements = doc["Statement"]
    return tuple(statements) if isinstance(statements, list) else (statements,)


def evaluate(
    text: str | None, *, user_arn: str, account_id: str, action: str, resource_arn: str
) -> str | None:
    """:data:`DENY` when a statement of the policy ``text`` denies ``action`` on ``resource_arn``
    to ``user_arn``, else :data:`ALLOW` when one allows it, else None (no policy: None)."""
    if text is None:
        return None
    statements = _statements(text)
    if statements is None:
        return DENY
    found: str | None = None
    for statement in statements:
        effect = statement["Effect"]
        if effect == ALLOW and "Condition" in statement:
            continue
        if (
            _principal_applies(statement, user_arn, account_id)
            and _element_applies(statement, "Action", action, True)
            and _element_applies(statement, "Resource", resource_arn, False)
        ):
            if effect == DENY:
                return DENY
            found = ALLOW
    return found


__all__ = ["ALLOW", "DENY", "evaluate", "matches"]
