"""The server policy ``.gitsm/server.yaml``: which principal may call which operation on which
secrets through ``gitsm serve`` (docs/FORMAT.md, docs/SERVE.md).

::

    format: 1
    principals:
      ci-prod:
        read: [prod/]             # prefixes of secret names; "*" is every name
      deployer:
        read: [app/]
        write: [app/]
        operations: [GetSecretValue, PutSecretValue, ListSecrets]   # optional allow-list
      admin:
        read: ["*"]
        write: ["*"]

Every Secrets Manager operation is of one class (:data:`OPERATION_CLASS`): it reads one secret,
writes one secret, lists secrets (each result filtered by the caller's read prefixes) or touches
no secret. A principal may call an operation of a secret when the prefixes of its class cover the
secret's name and its ``operations`` list, when given, names the operation. Writing does not grant
reading. A principal the file does not list may do nothing (a missing file lists none).

Here: the file's format, its strict parsing (in the manner of :mod:`gitsm.strict`: bounded size,
no anchors, aliases or tags, unknown keys refused, every problem naming the field and its fix) and
the rules it states. Pure: no git, no store. What the server makes of a request (ARNs, callers,
resource policies, the AccessDeniedException) is :mod:`gitsm.serve.authz`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitsm import strict
from gitsm.apimodel import OPERATIONS as API_OPERATIONS
from gitsm.errors import MalformedStoreFile
from gitsm.model import NAME_MAX
from gitsm.paths import SERVER_PATH
from gitsm.problems import RESTORE

FORMAT = 1
SERVER_MAX_BYTES = 256 * 1024
"""The byte limit of ``.gitsm/server.yaml`` (as the store config's)."""
PRINCIPALS_MAX = 1_000
PREFIXES_MAX = 1_000
ALL = "*"
"""The prefix that covers every secret name."""
PRINCIPAL = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}")
"""A principal's name: the characters and length of an IAM user name (it becomes one in
``arn:aws:iam::<account>:user/<principal>``)."""
_PREFIX = re.compile(r"[A-Za-z0-9/_+=.@-]+")
READ, WRITE, LIST, NONE = "read", "write", "list", "none"
"""The classes of operations: read one secret, write one secret, list secrets (each result
filtered by the read prefixes), touch no secret."""

OPERATION_CLASS: dict[str, str] = {
    "GetSecretValue": READ, "DescribeSecret": READ, "ListSecretVersionIds": READ,
    "GetResourcePolicy": READ,
    "CreateSecret": WRITE, "UpdateSecret": WRITE, "PutSecretValue": WRITE,
    "UpdateSecretVersionStage": WRITE, "DeleteSecret": WRITE, "RestoreSecret": WRITE,
    "TagResource": WRITE, "UntagResource": WRITE,
    "PutResourcePolicy": WRITE, "DeleteResourcePolicy": WRITE, "ValidateResourcePolicy": WRITE,
    "RotateSecret": WRITE, "CancelRotateSecret": WRITE,
    "ReplicateSecretToRegions": WRITE, "RemoveRegionsFromReplication": WRITE,
    "StopReplicationToReplica": WRITE,
    "ListSecrets": LIST, "BatchGetSecretValue": LIST,
    "GetRandomPassword": NONE,
}  # fmt: skip
"""Every operation of the service and its class. ValidateResourcePolicy is a write of the secret
its SecretId names (it vets a policy for PutResourcePolicy); without a SecretId it touches no
secret. CreateSecret is a write of the name it creates."""
assert set(OPERATION_CLASS) == set(API_OPERATIONS), "every operation of the model has a class"

FIX = f"edit {SERVER_PATH} as docs/FORMAT.md describes and commit it"
EXAMPLE = f"""\
# {SERVER_PATH}: who may call which operations through gitsm serve (docs/FORMAT.md)
format: 1
principals:
  admin:              # the principal of an access key (gitsm serve's access keys)
    read: ["*"]       # prefixes of secret names it may read; "*" is every name
    write: ["*"]      # ... and write
  ci-prod:
    read: [prod/]
"""
"""A server policy to start from, for the server to print when the file is missing."""


def covers(prefixes: Iterable[str], name: str) -> bool:
    """True when one of ``prefixes`` is ``*`` or starts ``name``."""
    return any(p == ALL or name.startswith(p) for p in prefixes)


@dataclass(frozen=True)
class Grant:
    """What one principal may do: the name prefixes it may read and write, and the operations it
    may call (None: every operation)."""

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    operations: frozenset[str] | None = None

    def calls(self, operation: str) -> bool:
        """True when the allow-list (if any) names ``operation``."""
        return self.operations is None or operation in self.operations

    def prefixes(self, kind: str) -> tuple[str, ...]:
        """The prefixes of an operation class: read's for reads and listings, write's for writes."""
        return self.write if kind == WRITE else self.read


@dataclass(frozen=True)
class ServerRules:
    """The rules a server policy states: principal -> :class:`Grant`. Empty: nobody may do
    anything (the rules of a store without ``.gitsm/server.yaml``)."""

    principals: Mapping[str, Grant] = field(default_factory=dict)

    def allows(self, principal: str, operation: str, names: Iterable[str] | None) -> bool:
        """True when ``principal`` may call ``operation`` on secrets named ``names`` (every one
        of them; None: no secret is named).

        A read or write naming no secret (the request lacks its SecretId, and will fail on that)
        needs some prefix of its class; a listing needs some read prefix (the server then filters
        its results); an operation that touches no secret needs only the principal and its
        allow-list. An unknown operation is never allowed."""
        grant = self.principals.get(principal)
        kind = OPERATION_CLASS.get(operation)
        if grant is None or kind is None or not grant.calls(operation):
            return False
        if kind == NONE or (operation == "ValidateResourcePolicy" and names is None):
            return True
        prefixes = grant.prefixes(kind)
        if names is None or kind == LIST:
            return bool(prefixes)
        wanted = list(names)
        return bool(wanted) and all(covers(prefixes, n) for n in wanted)


def _prefixes(fields: strict.Fields, key: str) -> tuple[str, ...]:
    out = fields.texts(key, PREFIXES_MAX, NAME_MAX)
    for i, prefix in enumerate(out):
        if prefix == ALL:
            continue
        if prefix.endswith("*") and _PREFIX.fullmatch(prefix.rstrip("*")):
            fields.fail(f"{key}[{i}]", f"is {strict.short(prefix)}: a prefix needs no '*' "
                        f"({strict.short(prefix.rstrip('*'))} covers every name starting with "
                        "it), and \"*\" alone covers every name")  # fmt: skip
        if not _PREFIX.fullmatch(prefix):
            fields.fail(f"{key}[{i}]", f"is {strict.short(prefix)}, not \"*\" or the start of a "
                        "secret name (letters, digits and /_+=.@-)")  # fmt: skip
    return tuple(out)


def _unknown_keys(fields: strict.Fields, known: tuple[str, ...]) -> None:
    for key in fields.doc:
        if key not in known:
            where = fields.name(str(key))
            strict.refuse(fields.path, f"is malformed: {where} is not a setting gitsm knows "
                          f"(it knows {', '.join(known)})")  # fmt: skip


def _grant(entry: object, path: str, principal: str) -> Grant:
    where = f"principals.{principal}"
    if entry is None:
        return Grant()
    fields = strict.Fields(entry, path, where)
    _unknown_keys(fields, ("read", "write", "operations"))
    operations: frozenset[str] | None = None
    if fields.get("operations", True) is not None:
        names = fields.texts("operations", len(OPERATION_CLASS), 64)
        for i, name in enumerate(names):
            if name not in OPERATION_CLASS:
                fields.fail(f"operations[{i}]", f"is {strict.short(name)}, not an operation of "
                            "Secrets Manager (spelled as AWS does: GetSecretValue, ListSecrets, "
                            "...)")  # fmt: skip
        operations = frozenset(names)
    return Grant(_prefixes(fields, "read"), _prefixes(fields, "write"), operations)


def parse_rules(text: bytes, where: str = SERVER_PATH) -> ServerRules:
    """The rules of a server policy file's content ``text`` (read from ``where``), strictly.

    Raises :class:`~gitsm.errors.MalformedStoreFile` (path, problem, fix) when it is over
    :data:`SERVER_MAX_BYTES`, is not strict YAML (:func:`gitsm.strict.load_yaml`), has another
    format, a key gitsm does not know, a principal name that is not an IAM user name, a prefix
    that is neither ``*`` nor the start of a secret name, or an operation AWS does not have."""
    try:
        return _parse(text, where)
    except MalformedStoreFile as exc:  # an administrator's file: edit it, not restore it
        fix = exc.fix.replace(", as gitsm does", "").replace(RESTORE, FIX)
        if "YAML alias" in exc.problem or "not valid YAML" in exc.problem:  # a bare * is one
            fix = f'write "*" in quotes (a bare * is YAML syntax); {FIX}'
        raise MalformedStoreFile(exc.path, exc.problem, fix) from None


def _no_repeated_keys(text: bytes, where: str) -> None:
    """Refuse a key said twice in one mapping: YAML keeps only the last, so a reader of the file
    could take the first for the rule in force. Run after :func:`gitsm.strict.load_yaml` accepted
    the file, so composing it again is bounded the same way."""
    import yaml

    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    stack: list[tuple[yaml.Node | None, str]] = [(yaml.compose(text, Loader=loader), "")]
    while stack:
        node, where_in = stack.pop()
        if isinstance(node, yaml.SequenceNode):
            stack += [(item, f"{where_in}[{i}]") for i, item in enumerate(node.value)]
        if not isinstance(node, yaml.MappingNode):
            continue
        seen: set[str] = set()
        for key, value in node.value:
            text_key = str(key.value) if isinstance(key, yaml.ScalarNode) else repr(key)
            name = f"{where_in}.{text_key}" if where_in else text_key
            if text_key in seen:
                strict.refuse(where, f"is malformed: {strict.short(name, 80)} is given twice (YAML "
                              "would keep only the last); say it once")  # fmt: skip
            seen.add(text_key)
            stack.append((value, name))


def _parse(text: bytes, where: str) -> ServerRules:
    doc: dict[Any, Any] = strict.load_yaml(text, where, "the server policy", SERVER_MAX_BYTES)
    _no_repeated_keys(text, where)
    bad = strict.format_problem(doc.get("format"), FORMAT)
    if bad is not None:
        strict.refuse(where, bad[0].replace("store format", "server policy format"), bad[1])
    top = strict.Fields(doc, where, "")
    _unknown_keys(top, ("format", "principals"))
    principals = top.mapping("principals")
    if len(principals) > PRINCIPALS_MAX:
        top.fail("principals", f"has {len(principals):,} entries, over the limit of "
                 f"{PRINCIPALS_MAX:,}")  # fmt: skip
    out: dict[str, Grant] = {}
    for principal, entry in principals.items():
        if not isinstance(principal, str) or not PRINCIPAL.fullmatch(principal):
            top.fail(f"principals[{strict.short(principal)}]", "is not a principal name (1-64 "
                     "letters, digits and _+=,.@-, as an IAM user name)")  # fmt: skip
        out[principal] = _grant(entry, where, principal)
    return ServerRules(out)


__all__ = ["ALL", "EXAMPLE", "FORMAT", "LIST", "NONE", "OPERATION_CLASS", "READ",
           "SERVER_MAX_BYTES", "WRITE", "Grant", "ServerRules", "covers", "parse_rules"]  # fmt: skip
