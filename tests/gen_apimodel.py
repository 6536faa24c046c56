"""Generate ``gitsm/apimodel.py``, the one API model of gitsm, from botocore's secretsmanager model.

Run ``.venv/bin/python tests/gen_apimodel.py`` after changing a table below (or botocore);
``tests/test_apimodel.py`` fails while the committed module differs from what this produces.

The tables below are the only hand-written list of gitsm's operations: :data:`ACCESS` (the
operations gitsm serves, each a read or a write), :data:`CLI_MEMBERS` (the members each CLI command
takes as options) and :data:`CLIENT_ONLY` (members accepted only to be refused). Everything else in
the module, the input shapes the client checks, the error codes, the output members a wire encoder
converts, the aws CLI's command and option names, docs and skeletons, comes from botocore, so it
matches the service and the aws CLI.
"""

from __future__ import annotations

import datetime
import html
import re
from pathlib import Path
from typing import Any

READ, WRITE = "read", "write"

ACCESS: dict[str, str] = {
    "CreateSecret": WRITE,
    "UpdateSecret": WRITE,
    "PutSecretValue": WRITE,
    "GetSecretValue": READ,
    "DescribeSecret": READ,
    "ListSecrets": READ,
    "ListSecretVersionIds": READ,
    "UpdateSecretVersionStage": WRITE,
    "DeleteSecret": WRITE,
    "RestoreSecret": WRITE,
    "TagResource": WRITE,
    "UntagResource": WRITE,
    "GetResourcePolicy": READ,
    "PutResourcePolicy": WRITE,
    "DeleteResourcePolicy": WRITE,
    "ValidateResourcePolicy": READ,
    "GetRandomPassword": READ,
    "BatchGetSecretValue": READ,
    "RotateSecret": WRITE,
    "CancelRotateSecret": WRITE,
    "ReplicateSecretToRegions": WRITE,
    "RemoveRegionsFromReplication": WRITE,
    "StopReplicationToReplica": WRITE,
}
"""Every operation ``gitsm.client`` serves, in the model's order: a read changes nothing, a write
may change the store (StopReplicationToReplica, which gitsm refuses, stays a write, as AWS counts
it). Which permission a caller needs is the server policy's business, not this table's."""

CLI_MEMBERS: dict[str, list[str]] = {
    "CreateSecret": ["Name", "ClientRequestToken", "Description", "KmsKeyId", "SecretBinary",
                     "SecretString", "Tags", "AddReplicaRegions", "ForceOverwriteReplicaSecret"],
    "UpdateSecret": ["SecretId", "ClientRequestToken", "Description", "KmsKeyId", "SecretBinary",
                     "SecretString"],
    "PutSecretValue": ["SecretId", "ClientRequestToken", "SecretBinary", "SecretString",
                       "VersionStages", "RotationToken"],
    "GetSecretValue": ["SecretId", "VersionId", "VersionStage"],
    "DescribeSecret": ["SecretId"],
    "ListSecrets": ["IncludePlannedDeletion", "MaxResults", "NextToken", "Filters", "SortOrder",
                    "SortBy"],
    "ListSecretVersionIds": ["SecretId", "MaxResults", "NextToken", "IncludeDeprecated"],
    "UpdateSecretVersionStage": ["SecretId", "VersionStage", "RemoveFromVersionId",
                                 "MoveToVersionId"],
    "DeleteSecret": ["SecretId", "RecoveryWindowInDays", "ForceDeleteWithoutRecovery"],
    "RestoreSecret": ["SecretId"],
    "TagResource": ["SecretId", "Tags"],
    "UntagResource": ["SecretId", "TagKeys"],
    "GetResourcePolicy": ["SecretId"],
    "PutResourcePolicy": ["SecretId", "ResourcePolicy", "BlockPublicPolicy"],
    "DeleteResourcePolicy": ["SecretId"],
    "ValidateResourcePolicy": ["SecretId", "ResourcePolicy"],
    "GetRandomPassword": ["PasswordLength", "ExcludeCharacters", "ExcludeNumbers",
                          "ExcludePunctuation", "ExcludeUppercase", "ExcludeLowercase",
                          "IncludeSpace", "RequireEachIncludedType"],
    "BatchGetSecretValue": ["SecretIdList", "Filters", "MaxResults", "NextToken"],
    "RotateSecret": ["SecretId", "ClientRequestToken", "RotationLambdaARN", "RotationRules",
                     "RotateImmediately"],
    "CancelRotateSecret": ["SecretId"],
    "ReplicateSecretToRegions": ["SecretId", "AddReplicaRegions", "ForceOverwriteReplicaSecret"],
    "RemoveRegionsFromReplication": ["SecretId", "RemoveReplicaRegions"],
    "StopReplicationToReplica": ["SecretId"],
}  # fmt: skip
"""The operations the CLI has a command for, and the members each takes as options (the members
gitsm implements), in the API's order."""

CLIENT_ONLY: dict[str, list[str]] = {}
"""Members the client accepts only to refuse them with a service error, as AWS would receive
them, instead of a ParamValidationError; they get no CLI options. None at present (the
replication members, once here, are served: docs/SEMANTICS.md, "Replication")."""

SERVICE_KEYS = ("apiVersion", "endpointPrefix", "jsonVersion", "protocol", "signingName",
                "targetPrefix")  # fmt: skip
"""The service metadata a server of the API needs."""

TARGET = Path(__file__).resolve().parents[1] / "gitsm" / "apimodel.py"

HEADER = '''\
"""gitsm's API model: the operations it serves, as the client, the CLI and ``gitsm serve`` read them.

GENERATED from botocore's secretsmanager service model by ``tests/gen_apimodel.py`` (which holds
the only hand-written list of operations): do not edit; ``tests/test_apimodel.py`` fails when it is
stale. Pure data.

- ``OPERATIONS``: each operation's input shape, restricted to the members gitsm implements and
  those it accepts only to refuse them. A shape is ``{"type": ...}`` with botocore's ``min`` and
  ``sensitive`` where the model has them, ``members`` and ``required`` for a structure, ``member``
  for a list, ``key`` and ``value`` for a map: what botocore's parameter validation reads
  (:mod:`gitsm.paramcheck`), and what a wire decoder reads.
- ``ERRORS``: the service's error shapes (the classes of a boto3 client's ``exceptions``).
- ``SERVICE``: the service's protocol metadata (``targetPrefix``: a request's ``X-Amz-Target`` is
  ``<targetPrefix>.<Operation>``; ``jsonVersion``: its content type is
  ``application/x-amz-json-<jsonVersion>``; ``signingName``: SigV4's service name...).
- ``ACCESS``: the operations gitsm serves, each ``"read"`` (changes nothing) or ``"write"`` (may
  change the store); ``READS`` and ``WRITES`` split it.
- ``OUTPUT_TIMESTAMPS_BLOBS``: per operation, the output members that are timestamps or blobs, as a
  shape pruned to the branches that hold one: ``"timestamp"`` or ``"blob"``, ``{"Member": shape}``
  for a structure, ``[shape]`` for a list's items, ``{"*": shape}`` for a map's values. The client
  returns them as aware datetimes and bytes; a wire encoder converts them.
- ``CLI``: per operation the CLI has a command for, ``command`` (the aws CLI name), ``doc``,
  ``options`` (the members it takes, in the API's order, and each one's aws CLI option), ``enums``
  (the allowed values of string members that have them, by dotted member path; lists and maps
  add nothing to a path), ``idempotency_token``, ``docs`` (each option's first reference
  sentence), ``output_skeleton`` (botocore's sample output) and ``paginator`` (or None). Member
  shapes and required members are ``OPERATIONS``'s (:mod:`gitsm.cli.awsmodel` combines the two).
"""

from __future__ import annotations

from typing import Any, Literal

'''

FOOTER = '''
READS: frozenset[str] = frozenset(op for op, access in ACCESS.items() if access == "read")
"""The operations that change nothing."""
WRITES: frozenset[str] = frozenset(op for op, access in ACCESS.items() if access == "write")
"""The operations that may change the store."""
'''


def first_sentence(doc: str | None) -> str:
    """The first sentence of an HTML documentation string, as plain text."""
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", doc or ""))).strip()
    text = re.sub(r" ([,.;:])(?= |$)", r"\1", text)
    match = re.search(r"(?<=[a-z)\]])\.(?= [A-Z]|$)", text)
    return text[: match.end()] if match else text


def validated_shape(shape: Any) -> dict[str, Any]:
    """A shape as botocore's ParamValidator sees it: type, ``min``, ``sensitive``, the members
    (with ``required``) of a structure, the member of a list, the key and value of a map."""
    out: dict[str, Any] = {"type": shape.type_name}
    for key in ("min", "sensitive"):
        if key in shape.metadata:
            out[key] = shape.metadata[key]
    if shape.type_name == "structure":
        out["members"] = {n: validated_shape(m) for n, m in shape.members.items()}
        out["required"] = list(shape.required_members)
    elif shape.type_name == "list":
        out["member"] = validated_shape(shape.member)
    elif shape.type_name == "map":
        out["key"], out["value"] = validated_shape(shape.key), validated_shape(shape.value)
    return out


def timestamps_and_blobs(shape: Any) -> Any:
    """``shape`` pruned to the branches that lead to a timestamp or a blob (None: no such
    branch), in the compact encoding of the generated module's docstring."""
    kind = shape.type_name
    if kind in ("timestamp", "blob"):
        return kind
    if kind == "structure":
        kept = {n: timestamps_and_blobs(m) for n, m in shape.members.items()}
        return {n: s for n, s in kept.items() if s is not None} or None
    if kind == "list":
        inner = timestamps_and_blobs(shape.member)
        return None if inner is None else [inner]
    if kind == "map":
        inner = timestamps_and_blobs(shape.value)
        return None if inner is None else {"*": inner}
    return None


def enums(shape: Any, path: str = "") -> dict[str, list[str]]:
    """The allowed values of the enum strings under ``shape``, by dotted member path."""
    if shape.type_name == "structure":
        out: dict[str, list[str]] = {}
        for name, member in shape.members.items():
            out.update(enums(member, f"{path}.{name}" if path else name))
        return out
    if shape.type_name == "list":
        return enums(shape.member, path)
    if shape.type_name == "map":
        return enums(shape.value, path)
    return {path: list(shape.enum)} if shape.type_name == "string" and shape.enum else {}


def jsonable(value: Any) -> Any:
    """Skeleton values as plain data (timestamps as aws CLI v2 prints them)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=datetime.UTC).isoformat()
    return value


def _cli_command(op: str, members: list[str], session: Any, model: Any) -> dict[str, Any]:
    """The CLI's data of operation ``op``."""
    from botocore import xform_name
    from botocore.utils import ArgumentGenerator

    om = model.operation_model(op)
    inp = om.input_shape
    try:
        pag: dict[str, Any] | None = dict(session.get_paginator_model("secretsmanager")
                                          .get_paginator(op))  # fmt: skip
    except ValueError:
        pag = None
    output = om.output_shape
    skeleton = ArgumentGenerator(use_member_names=True).generate_skeleton(output) if output else {}
    kept: dict[str, list[str]] = {}
    for m in members:
        kept.update(enums(inp.members[m], m))
    return {
        "command": xform_name(op, "-"),
        "doc": first_sentence(om.documentation),
        "options": {m: "--" + xform_name(m, "-") for m in members},
        "enums": kept,
        "idempotency_token": [
            m for m in members if inp.members[m].metadata.get("idempotencyToken")
        ],
        "docs": {m: first_sentence(inp.members[m].documentation) for m in members},
        "output_skeleton": jsonable(skeleton),
        "paginator": pag,
    }


def build() -> dict[str, Any]:
    """The data of the generated module, by name."""
    import botocore.session

    session = botocore.session.get_session()
    model = session.get_service_model("secretsmanager")
    operations: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for op in ACCESS:
        accepted = set(CLI_MEMBERS.get(op, [])) | set(CLIENT_ONLY.get(op, []))
        om = model.operation_model(op)
        full = validated_shape(om.input_shape)
        full["members"] = {n: m for n, m in full["members"].items() if n in accepted}
        full["required"] = [n for n in full["required"] if n in accepted]
        operations[op] = full
        typed = timestamps_and_blobs(om.output_shape) if om.output_shape else None
        outputs[op] = typed or {}
    errors = sorted(n for n in model.shape_names if model.shape_for(n).metadata.get("exception"))
    service = {key: model.metadata[key] for key in SERVICE_KEYS}
    cli = {op: _cli_command(op, members, session, model) for op, members in CLI_MEMBERS.items()}
    return {
        "OPERATIONS": operations,
        "ERRORS": errors,
        "SERVICE": service,
        "ACCESS": dict(ACCESS),
        "OUTPUT_TIMESTAMPS_BLOBS": outputs,
        "CLI": cli,
    }


def render() -> str:
    """The text of ``gitsm/apimodel.py``: one line per operation (per CLI field), kept out of
    ruff format."""
    data = build()
    lines = [HEADER + "# fmt: off", "OPERATIONS: dict[str, dict[str, Any]] = {"]
    lines += [f"    {op!r}: {shape!r}," for op, shape in data["OPERATIONS"].items()]
    lines += ["}", f"ERRORS: list[str] = {data['ERRORS']!r}"]
    lines.append(f"SERVICE: dict[str, str] = {data['SERVICE']!r}")
    lines.append('ACCESS: dict[str, Literal["read", "write"]] = {')
    lines += [f"    {op!r}: {access!r}," for op, access in data["ACCESS"].items()]
    lines += ["}", "OUTPUT_TIMESTAMPS_BLOBS: dict[str, dict[str, Any]] = {"]
    lines += [f"    {op!r}: {typed!r}," for op, typed in data["OUTPUT_TIMESTAMPS_BLOBS"].items()]
    lines += ["}", "CLI: dict[str, dict[str, Any]] = {"]
    for op, fields in data["CLI"].items():
        lines.append(f"    {op!r}: {{")
        lines += [f"        {key!r}: {value!r}," for key, value in fields.items()]
        lines.append("    },")
    lines += ["}", "# fmt: on", FOOTER]
    return "\n".join(lines)


def main() -> None:
    """Write the module."""
    TARGET.write_text(render())
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
