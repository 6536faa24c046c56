"""AWS JSON 1.1, the wire format of Secrets Manager: requests decoded, answers and errors encoded.

A request is ``POST /`` with ``X-Amz-Target: secretsmanager.<Operation>`` and a JSON object of the
operation's PascalCase members. It is decoded with the operation's input shape from
:mod:`gitsm.apimodel`: blobs arrive as base64 text and become bytes, timestamps as epoch seconds;
members the model does not list are dropped, as AWS JSON services drop them; a member of the wrong
JSON type is a SerializationException and a missing required member a ValidationException, both
with AWS's wording. The decoded parameters then go to :class:`gitsm.awsclient.SecretsManagerClient`,
so every other check, and every error, is the in-process client's.

Answers are JSON with datetimes as epoch seconds (fractions kept) and bytes as base64; errors are
``{"__type": code, "message": ...}`` with the code in ``x-amzn-ErrorType`` too, HTTP 400 for a
client fault and 500 only for InternalServiceError (SDKs retry 5xx).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any

from gitsm import apimodel
from gitsm.awsclient import SecretsManagerClient
from gitsm.serve.caller import EndpointError

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "secretsmanager."
MAX_BODY = 1024 * 1024
"""The largest request body accepted (1 MiB): far above any valid request (a value is at most
64 KiB, 87 KiB as base64), small enough that no client can make the server hold much memory."""


def _method_name(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


OPERATIONS: dict[str, str] = {
    op: _method_name(op)
    for op in apimodel.OPERATIONS
    if callable(getattr(SecretsManagerClient, _method_name(op), None))
}
"""Every operation the endpoint serves (those of ``gitsm.client``) -> the client's method name."""

READS = frozenset(
    {"GetSecretValue", "DescribeSecret", "ListSecrets", "ListSecretVersionIds",
     "GetResourcePolicy", "BatchGetSecretValue", "ValidateResourcePolicy", "GetRandomPassword"}
)  # fmt: skip
"""Operations that never write (they run beside writes, not behind them)."""


def operation_of(target: str | None) -> str:
    """The operation an ``X-Amz-Target`` header names; UnknownOperationException otherwise."""
    if target and target.startswith(TARGET_PREFIX):
        name = target[len(TARGET_PREFIX) :]
        if name in OPERATIONS:
            return name
    raise EndpointError(
        "UnknownOperationException",
        "The X-Amz-Target header does not name an operation of Secrets Manager "
        "(expected secretsmanager.<Operation>).",
    )


def decode(operation: str, body: bytes) -> dict[str, Any]:
    """The parameters of a request to ``operation``: its JSON body read against the input shape."""
    if not body.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise EndpointError(
                "SerializationException", "The request body is not valid JSON."
            ) from None
    if not isinstance(data, dict):
        raise EndpointError(
            "SerializationException", f"{_kind(data)} can not be converted to a Structure"
        )
    shape = apimodel.OPERATIONS[operation]
    return _structure(data, shape, "")


def canonical(data: dict[str, Any]) -> str:
    """A request's parameters as one string, equal for equal requests (a cache key)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=_jsonable)


_TYPE_NAMES = {
    "string": "a String", "integer": "an Integer", "long": "a Long", "boolean": "a Boolean",
    "blob": "a Blob", "timestamp": "a Timestamp", "list": "a List", "map": "a Map",
    "structure": "a Structure", "double": "a Double", "float": "a Float",
}  # fmt: skip


def _kind(value: object) -> str:
    """The JSON token kind of ``value``, as AWS's deserializer names it."""
    if isinstance(value, bool):
        return "BOOLEAN_VALUE"
    if isinstance(value, str):
        return "STRING_VALUE"
    if isinstance(value, int | float):
        return "NUMBER_VALUE"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, dict):
        return "START_OBJECT"
    return "VALUE_NULL"


def _mismatch(value: object, kind: str) -> EndpointError:
    return EndpointError(
        "SerializationException", f"{_kind(value)} can not be converted to {_TYPE_NAMES[kind]}"
    )


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _structure(data: dict[str, Any], shape: dict[str, Any], where: str) -> dict[str, Any]:
    members: dict[str, Any] = shape.get("members", {})
    out: dict[str, Any] = {}
    for key, value in data.items():
        member = members.get(key)
        if member is None or value is None:
            continue  # a member the model does not have is dropped; null is absent
        out[key] = _value(
            value, member, f"{where}.{_lower_first(key)}" if where else _lower_first(key)
        )
    missing = [m for m in shape.get("required", []) if m not in out]
    if missing:
        problems = [
            f"Value null at '{where + '.' if where else ''}{_lower_first(m)}' failed to satisfy "
            "constraint: Member must not be null"
            for m in missing
        ]
        count = len(problems)
        raise EndpointError(
            "ValidationException",
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems),
        )
    return out


def _value(value: Any, shape: dict[str, Any], where: str) -> Any:
    kind = shape.get("type", "unchecked")
    if kind == "string":
        if not isinstance(value, str):
            raise _mismatch(value, kind)
        if not value.isascii():
            _check_text(value, where)
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _mismatch(value, kind)
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _mismatch(value, kind)
        return value
    if kind == "blob":
        if not isinstance(value, str):
            raise _mismatch(value, kind)
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise EndpointError(
                "SerializationException", f"Base64 encoded bytes expected at '{where}'."
            ) from None
    if kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _mismatch(value, kind)
        return datetime.fromtimestamp(value, UTC)
    if kind == "list":
        if not isinstance(value, list):
            raise _mismatch(value, kind)
        member = shape.get("member", {})
        items = []
        for i, item in enumerate(value, 1):
            if item is None:
                raise _mismatch(item, member.get("type", "structure"))
            items.append(_value(item, member, f"{where}.{i}.member"))
        return items
    if kind == "map":
        if not isinstance(value, dict):
            raise _mismatch(value, kind)
        key, val = shape.get("key", {}), shape.get("value", {})
        return {
            _value(k, key, where): _value(v, val, f"{where}.{k}")
            for k, v in value.items()
            if v is not None
        }
    if kind == "structure":
        if not isinstance(value, dict):
            raise _mismatch(value, kind)
        return _structure(value, shape, where)
    return value


def _check_text(value: str, where: str) -> None:
    """Refuse a string that is not Unicode text: JSON's ``\\ud83d`` escapes can spell half of a
    UTF-16 pair, which no UTF-8 text (a name, a value, a YAML file) can hold."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise EndpointError(
            "SerializationException",
            f"Invalid UTF-8 at '{where}': a string holds half of a UTF-16 surrogate pair.",
        ) from None


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode(out: dict[str, Any]) -> bytes:
    """An operation's answer as the JSON body (the client's ResponseMetadata left out)."""
    out.pop("ResponseMetadata", None)
    return json.dumps(out, separators=(",", ":"), default=_jsonable).encode("utf-8")


def error_body(code: str, message: str) -> bytes:
    """An error's JSON body, as AWS JSON services send it."""
    return json.dumps({"__type": code, "message": message}).encode("utf-8")
