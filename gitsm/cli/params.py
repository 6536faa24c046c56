"""From command-line text to API parameters, as the aws CLI does it.

- Any value may be ``file://PATH`` (the file's text) or ``fileb://PATH`` (its bytes), so a secret
  never has to appear in argv; ``file:///dev/stdin`` reads standard input.
- Blobs (``--secret-binary``) are base64 text unless given with ``fileb://``, as in aws CLI v2;
  ``--cli-binary-format raw-in-base64-out`` takes the text's UTF-8 bytes instead.
- Lists take several words (``--tag-keys a b``) or one JSON list; lists of structures take
  shorthand words (``--tags Key=k,Value=v Key=k2,Value=v2``) or JSON.
- ``--cli-input-json`` / ``--cli-input-yaml`` give the parameters as one document of API member
  names; the options on the command line win over it.

Errors are :class:`ParamError` (exit 252); they name the option and never show its value.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from pathlib import Path
from typing import Any

from gitsm.cli import shorthand
from gitsm.cli.errors import ParamError

Shape = Any
BINARY_FORMATS = ("base64", "raw-in-base64-out")


def read_param_file(raw: str, option: str) -> str | bytes | None:
    """The content named by a ``file://`` (text) or ``fileb://`` (bytes) value, else None."""
    for prefix, binary in (("fileb://", True), ("file://", False)):
        if raw.startswith(prefix):
            path = raw[len(prefix) :]
            try:
                if path in ("/dev/stdin", "-"):
                    data = sys.stdin.buffer.read()
                else:
                    data = Path(path).expanduser().read_bytes()
            except OSError as exc:
                raise ParamError(option, f"Unable to load paramfile {raw}: {exc}") from None
            if binary:
                return data
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                raise ParamError(
                    option, f"Unable to load paramfile {raw}: not UTF-8 text (use fileb://)"
                ) from None
    return None


def decode_blob(value: str | bytes, option: str, binary_format: str) -> bytes:
    """A blob given as text: base64 (aws CLI v2's default) or raw text with raw-in-base64-out."""
    if isinstance(value, bytes):
        return value
    if binary_format == "raw-in-base64-out":
        return value.encode("utf-8")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ParamError(
            option,
            "Invalid base64 (the value is not shown). Give the file's raw bytes with "
            "fileb://PATH, or pass --cli-binary-format raw-in-base64-out to store the text as is.",
        ) from None


def _load(raw: str, option: str) -> str | bytes:
    loaded = read_param_file(raw, option)
    return raw if loaded is None else loaded


def _text(value: str | bytes, option: str) -> str:
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise ParamError(option, "the file given with fileb:// is not UTF-8 text") from None


def coerce(value: Any, shape: Shape, option: str, path: str = "") -> Any:
    """Fit shorthand or JSON data to ``shape``: words become integers and booleans where due."""
    where = f" at {path}" if path else ""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise ParamError(option, f"expected a structure{where}")
        fields = [k for k in shape if k != "*"]
        out = {}
        for key, item in value.items():
            if "*" not in shape and key not in shape:
                raise ParamError(
                    option, f"unknown key {key!r}{where}; valid keys: {', '.join(fields)}"
                )
            out[key] = coerce(item, shape.get(key, shape.get("*")), option, f"{path}.{key}")
        return out
    if isinstance(shape, list):
        items = value if isinstance(value, list) else [value]
        return [coerce(v, shape[0], option, f"{path}[{i}]") for i, v in enumerate(items)]
    if shape in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ParamError(option, f"expected an integer{where}")
        try:
            return int(value)
        except ValueError:
            raise ParamError(option, f"expected an integer{where}, got {value!r}") from None
    if shape == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ParamError(option, f"expected true or false{where}")
    if not isinstance(value, str):
        raise ParamError(option, f"expected a string{where}")
    return value


def convert(raw: Any, shape: Shape, option: str, binary_format: str) -> Any:
    """The API value of one option as typer parsed it (a string, a list of words, or a bool)."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, list | tuple):
        words = [_text(_load(w, option), option) for w in raw]
        if len(words) == 1 and words[0].lstrip().startswith("["):
            return coerce(_json(words[0], option), shape, option)
        if isinstance(shape, list) and isinstance(shape[0], dict):
            return [coerce(_structure(w, option), shape[0], option) for w in words]
        return coerce(words, shape, option)
    value = _load(raw, option)
    if shape == "blob":
        return decode_blob(value, option, binary_format)
    text = _text(value, option)
    if isinstance(shape, dict):
        return coerce(_structure(text, option), shape, option)
    if shape in ("integer", "long"):
        return coerce(text.strip(), shape, option)
    return text


def _structure(text: str, option: str) -> Any:
    if text.lstrip().startswith("{"):
        return _json(text, option)
    try:
        return shorthand.parse(text)
    except shorthand.ShorthandError as exc:
        raise ParamError(
            option, f"Invalid shorthand syntax: {exc}. JSON is accepted too."
        ) from None


def _json(text: str, option: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ParamError(option, f"Invalid JSON: {exc}") from None


def load_input_document(raw: str, option: str) -> dict[str, Any]:
    """The mapping given to ``--cli-input-json`` or ``--cli-input-yaml`` (text or file://)."""
    text = _text(_load(raw, option), option)
    if option == "--cli-input-yaml":
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise ParamError(option, f"Invalid YAML{where}") from None
    else:
        doc = _json(text, option)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ParamError(option, "expected a mapping of parameter names to values")
    return doc


def from_document(
    doc: dict[str, Any], members: dict[str, Shape], option: str, binary_format: str
) -> dict[str, Any]:
    """API parameters from an input document; null values count as absent."""
    unknown = sorted(set(doc) - set(members))
    if unknown:
        raise ParamError(
            option,
            f"Unknown parameter in input: {', '.join(repr(k) for k in unknown)}, "
            f"must be one of: {', '.join(members)}",
        )
    out: dict[str, Any] = {}
    for name, value in doc.items():
        if value is None:
            continue
        shape = members[name]
        if shape == "blob":
            if not isinstance(value, str):
                raise ParamError(option, f"{name} must be base64 text")
            out[name] = decode_blob(value, f"{option} {name}", binary_format)
        else:
            out[name] = coerce(value, shape, option, name)
    return out


def skeleton(shape: Shape) -> Any:
    """The placeholder value of ``--generate-cli-skeleton input`` (botocore's ArgumentGenerator)."""
    if isinstance(shape, dict):
        if "*" in shape:
            return {"KeyName": skeleton(shape["*"])}
        return {name: skeleton(member) for name, member in shape.items()}
    if isinstance(shape, list):
        return [skeleton(shape[0])]
    if shape.startswith("enum:"):
        return shape[len("enum:") :].split("|")[0]
    return {"string": "", "integer": 0, "long": 0, "boolean": True}.get(shape)
