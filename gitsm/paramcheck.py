"""A call's parameters checked against the API model, as botocore checks them before any request.

boto3 validates every call against the service model before it sends anything: required members,
unknown members, each value's Python type (string, integer, boolean, list, structure, map, blob) and
the model's minimums (a string's or a list's length, an integer's value). It reports every problem
at once, one line each, and raises ``ParamValidationError``. :func:`problems` does the same over
the shapes of :mod:`gitsm.apimodel` (made from botocore's model) with botocore's wording, so that
code that catches botocore's ``ParamValidationError`` sees the same lines from ``gitsm.client``.

One deviation: where botocore would print a value of a member the model marks sensitive
(SecretString, SecretBinary, RotationToken) in a type error, the line shows ``****`` instead:
gitsm's errors never contain a secret value.

Pure: standard library only.
"""

from __future__ import annotations

import decimal
from datetime import datetime
from typing import Any

Shape = dict[str, Any]

_SCALAR_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "boolean": (bool,),
    "float": (float, decimal.Decimal, int),
    "double": (float, decimal.Decimal, int),
    "structure": (dict,),
    "map": (dict,),
    "list": (list, tuple),
    "timestamp": (datetime, str, int, float),
}
_HIDDEN = "****"


def _name(name: str) -> str:
    return "input" if not name else name.removeprefix(".")


class _Report:
    """The problems found so far, in botocore's words and order."""

    def __init__(self, minimums: bool = True) -> None:
        self.lines: list[str] = []
        self.minimums = minimums

    def type_error(self, name: str, value: object, shape: Shape, valid: list[str]) -> None:
        shown = _HIDDEN if shape.get("sensitive") else value
        self.lines.append(
            f"Invalid type for parameter {_name(name)}, value: {shown}, type: {type(value)}, "
            f"valid types: {', '.join(valid)}"
        )

    def not_text(self, name: str, value: str) -> None:
        """A string that UTF-8 cannot encode (a lone UTF-16 surrogate): no request could carry
        it (the value is never shown)."""
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            self.lines.append(
                f"Invalid value for parameter {_name(name)}: character {exc.start + 1} is a lone "
                "UTF-16 surrogate, which is not Unicode text and cannot be sent as UTF-8"
            )

    def below_min(self, name: str, value: int, shape: Shape, length: bool) -> None:
        low = shape.get("min")
        if not self.minimums or low is None or value >= low:
            return
        word = "length" if length else "value"
        self.lines.append(
            f"Invalid {word} for parameter {_name(name)}, value: {value}, valid min {word}: {low}"
        )


def _check(value: object, shape: Shape, report: _Report, name: str) -> None:
    kind = shape.get("type")
    if kind == "blob":
        if not (isinstance(value, bytes | bytearray | str) or hasattr(value, "read")):
            valid = [str(bytes), str(bytearray), "file-like object"]
            report.type_error(name, value, shape, valid)
        elif isinstance(value, str):
            report.not_text(name, value)
        return
    valid_types = _SCALAR_TYPES.get(str(kind))
    if valid_types is None:
        return  # a shape this checker does not know (none in Secrets Manager's inputs): pass
    if not isinstance(value, valid_types):
        report.type_error(name, value, shape, [str(t) for t in valid_types])
        return
    if kind == "structure":
        assert isinstance(value, dict)
        _structure(value, shape, report, name)
    elif kind == "list":
        assert isinstance(value, list | tuple)
        report.below_min(name, len(value), shape, length=True)
        for i, item in enumerate(value):
            _check(item, shape["member"], report, f"{name}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict)
        for key, item in value.items():
            _check(key, shape["key"], report, f"{name} (key: {key})")
            _check(item, shape["value"], report, f"{name}.{key}")
    elif kind == "string":
        assert isinstance(value, str)
        report.not_text(name, value)
        report.below_min(name, len(value), shape, length=True)
    elif kind in ("integer", "long", "float", "double"):
        report.below_min(name, value, shape, length=False)  # type: ignore[arg-type]


def _structure(params: dict[Any, Any], shape: Shape, report: _Report, name: str) -> None:
    members: dict[str, Shape] = shape.get("members", {})
    for required in shape.get("required", []):
        if required not in params:
            report.lines.append(f'Missing required parameter in {_name(name)}: "{required}"')
    for param in params:
        if param not in members:
            report.lines.append(
                f'Unknown parameter in {_name(name)}: "{param}", must be one of: '
                f"{', '.join(members)}"
            )
    for param, value in params.items():
        if param in members:
            _check(value, members[param], report, f"{name}.{param}")


def problems(params: dict[str, Any], shape: Shape, *, minimums: bool = True) -> list[str]:
    """Every problem of ``params`` against the input structure ``shape``, one line each in
    botocore's words (empty when the call is valid). ``minimums=False`` leaves the model's
    minimums to the service, as a boto3 client made with ``parameter_validation=False`` does."""
    report = _Report(minimums)
    _check(params, shape, report, "")
    return report.lines
