"""Generate ``gitsm/cli/awsmodel.py`` and ``gitsm/apimodel.py`` from botocore's secretsmanager model.

Run ``.venv/bin/python tests/cli/gen_awsmodel.py`` after changing :data:`SUPPORTED` (or botocore);
``tests/cli/test_awsmodel.py`` fails while a committed module differs from what this produces.
Only the operations and input members that gitsm implements are kept; the option names, the shapes
and the skeletons of ``--generate-cli-skeleton`` all come from botocore, so they match the aws CLI.
``gitsm/apimodel.py`` holds the same members (and :data:`CLIENT_ONLY`'s) as the client checks them,
types and minimums, the way botocore validates a call before sending it.
"""

from __future__ import annotations

import datetime
import html
import re
from pathlib import Path
from typing import Any

SUPPORTED: dict[str, list[str]] = {
    "CreateSecret": ["Name", "ClientRequestToken", "Description", "KmsKeyId", "SecretBinary",
                     "SecretString", "Tags"],
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
}  # fmt: skip

CLIENT_ONLY: dict[str, list[str]] = {
    "CreateSecret": ["AddReplicaRegions", "ForceOverwriteReplicaSecret"],
    "ReplicateSecretToRegions": ["SecretId", "AddReplicaRegions", "ForceOverwriteReplicaSecret"],
    "RemoveRegionsFromReplication": ["SecretId", "RemoveReplicaRegions"],
    "StopReplicationToReplica": ["SecretId"],
}
"""Members the client accepts only to refuse them with a service error (replication: see
docs/SEMANTICS.md), as AWS would receive them, instead of a ParamValidationError. No CLI options."""

TARGET = Path(__file__).resolve().parents[2] / "gitsm" / "cli" / "awsmodel.py"
API_TARGET = Path(__file__).resolve().parents[2] / "gitsm" / "apimodel.py"

HEADER = '''\
"""The slice of the AWS Secrets Manager API model that the CLI mirrors. GENERATED: do not edit.

Made from botocore's secretsmanager service model by ``tests/cli/gen_awsmodel.py`` (which lists the
operations and members gitsm implements); ``tests/cli/test_awsmodel.py`` fails when it is stale.

A shape is a scalar type name (``string``, ``integer``, ``long``, ``boolean``, ``blob``,
``timestamp``), ``enum:a|b|...`` for a string enum, ``[member]`` for a list, ``{"Member": shape}``
for a structure and ``{"*": value}`` for a map. Per operation: ``command`` (the aws CLI name),
``doc``, ``options`` (each member's aws CLI option), ``members`` (input shapes, in the API's
order), ``required``, ``idempotency_token``, ``docs`` (each member's first reference sentence),
``output_skeleton`` (botocore's sample output) and ``paginator`` (ListSecrets only).
"""

from __future__ import annotations

from typing import Any

'''


def first_sentence(doc: str | None) -> str:
    """The first sentence of an HTML documentation string, as plain text."""
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", doc or ""))).strip()
    text = re.sub(r" ([,.;:])(?= |$)", r"\1", text)
    match = re.search(r"(?<=[a-z)\]])\.(?= [A-Z]|$)", text)
    return text[: match.end()] if match else text


def shape_of(shape: Any) -> Any:
    """The compact shape encoding described in the generated module's docstring."""
    kind = shape.type_name
    if kind == "structure":
        return {name: shape_of(member) for name, member in shape.members.items()}
    if kind == "list":
        return [shape_of(shape.member)]
    if kind == "map":
        return {"*": shape_of(shape.value)}
    if kind == "string" and shape.enum:
        return "enum:" + "|".join(shape.enum)
    return kind


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


def build_api() -> dict[str, Any]:
    """The data of ``gitsm/apimodel.py``: per operation, its input structure restricted to the
    members the client accepts; and the error shapes of the service, for ``client.exceptions``."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("secretsmanager")
    operations: dict[str, Any] = {}
    for op in [*SUPPORTED, *(o for o in CLIENT_ONLY if o not in SUPPORTED)]:
        accepted = set(SUPPORTED.get(op, [])) | set(CLIENT_ONLY.get(op, []))
        full = validated_shape(model.operation_model(op).input_shape)
        full["members"] = {n: m for n, m in full["members"].items() if n in accepted}
        full["required"] = [n for n in full["required"] if n in accepted]
        operations[op] = full
    errors = sorted(n for n in model.shape_names if model.shape_for(n).metadata.get("exception"))
    return {"OPERATIONS": operations, "ERRORS": errors}


API_HEADER = '''\
"""The input shapes of the operations ``gitsm.client`` serves. GENERATED: do not edit.

Made from botocore's secretsmanager service model by ``tests/cli/gen_awsmodel.py`` (the members gitsm
implements, and those it accepts only to refuse them); ``tests/cli/test_awsmodel.py`` fails when it
is stale. A shape is ``{"type": ...}`` with botocore's ``min`` and ``sensitive`` where the model
has them, ``members`` and ``required`` for a structure, ``member`` for a list, ``key`` and
``value`` for a map: what botocore's parameter validation reads. ``ERRORS`` lists the service's
error shapes (the classes of a boto3 client's ``exceptions``).
"""

from __future__ import annotations

from typing import Any

'''


def render_api() -> str:
    """The text of ``gitsm/apimodel.py``: one line per operation, kept out of ruff format."""
    data = build_api()
    lines = [API_HEADER + "# fmt: off", "OPERATIONS: dict[str, dict[str, Any]] = {"]
    lines += [f"    {op!r}: {shape!r}," for op, shape in data["OPERATIONS"].items()]
    lines += ["}", f"ERRORS: list[str] = {data['ERRORS']!r}", "# fmt: on", ""]
    return "\n".join(lines)


def jsonable(value: Any) -> Any:
    """Skeleton values as plain data (timestamps as aws CLI v2 prints them)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=datetime.UTC).isoformat()
    return value


def build() -> dict[str, Any]:
    """The data of the generated module."""
    import botocore.session
    from botocore import xform_name
    from botocore.utils import ArgumentGenerator

    session = botocore.session.get_session()
    model = session.get_service_model("secretsmanager")
    paginators = session.get_paginator_model("secretsmanager")
    out: dict[str, Any] = {}
    for op, members in SUPPORTED.items():
        om = model.operation_model(op)
        inp = om.input_shape
        try:
            pag: dict[str, Any] | None = dict(paginators.get_paginator(op))
        except ValueError:
            pag = None
        output = om.output_shape
        generator = ArgumentGenerator(use_member_names=True)
        skeleton = generator.generate_skeleton(output) if output else {}
        out[op] = {
            "command": xform_name(op, "-"),
            "doc": first_sentence(om.documentation),
            "options": {m: "--" + xform_name(m, "-") for m in members},
            "members": {m: shape_of(inp.members[m]) for m in members},
            "required": [m for m in inp.required_members if m in members],
            "idempotency_token": [
                m for m in members if inp.members[m].metadata.get("idempotencyToken")
            ],
            "docs": {m: first_sentence(inp.members[m].documentation) for m in members},
            "output_skeleton": jsonable(skeleton),
            "paginator": pag,
        }
    return out


def render() -> str:
    """The text of the generated module: one line per operation field, kept out of ruff format."""
    lines = [HEADER + "# fmt: off", "OPERATIONS: dict[str, dict[str, Any]] = {"]
    for op, fields in build().items():
        lines.append(f"    {op!r}: {{")
        lines += [f"        {key!r}: {value!r}," for key, value in fields.items()]
        lines.append("    },")
    lines += ["}", "# fmt: on", ""]
    return "\n".join(lines)


def main() -> None:
    """Write both modules."""
    TARGET.write_text(render())
    API_TARGET.write_text(render_api())
    print(f"wrote {TARGET} and {API_TARGET}")


if __name__ == "__main__":
    main()
