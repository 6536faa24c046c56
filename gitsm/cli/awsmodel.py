"""The CLI's view of :mod:`gitsm.apimodel`: each command's options with their shapes, in one dict.

Nothing here is data of its own: the aws CLI names, docs, skeletons and paginator are
``apimodel.CLI``'s, the member shapes and required members ``apimodel.OPERATIONS``'s (the ones the
client checks), so the CLI and the client cannot disagree about an operation's parameters.

Per operation the CLI has a command for: ``command``, ``doc``, ``options`` (member -> aws CLI
option, in the API's order), ``members`` (member -> compact shape), ``required`` (the required
members), ``idempotency_token``, ``docs``, ``output_skeleton`` and ``paginator``. A compact shape is
a scalar type name (``string``, ``integer``, ``long``, ``boolean``, ``blob``, ``timestamp``),
``enum:a|b|...`` for a string enum, ``[member]`` for a list, ``{"Member": shape}`` for a structure
and ``{"*": value}`` for a map.
"""

from __future__ import annotations

from typing import Any

from gitsm import apimodel


def compact(shape: dict[str, Any], enums: dict[str, list[str]], path: str) -> Any:
    """The compact shape of the model shape ``shape`` found at member path ``path`` (enum values
    from ``enums``, by dotted member path)."""
    kind = shape["type"]
    if kind == "structure":
        return {
            name: compact(member, enums, f"{path}.{name}")
            for name, member in shape["members"].items()
        }
    if kind == "list":
        return [compact(shape["member"], enums, path)]
    if kind == "map":
        return {"*": compact(shape["value"], enums, path)}
    if path in enums:
        return "enum:" + "|".join(enums[path])
    return kind


def command(name: str) -> dict[str, Any]:
    """The CLI's data of operation ``name``: ``apimodel.CLI[name]`` with the shapes of its options
    and its required members from ``apimodel.OPERATIONS[name]``."""
    cli = apimodel.CLI[name]
    shape = apimodel.OPERATIONS[name]
    members = {m: compact(shape["members"][m], cli["enums"], m) for m in cli["options"]}
    out = {key: value for key, value in cli.items() if key != "enums"}
    out["members"] = members
    out["required"] = [m for m in shape["required"] if m in members]
    return out


OPERATIONS: dict[str, dict[str, Any]] = {name: command(name) for name in apimodel.CLI}
"""Every command's data, by operation name (``CreateSecret``...), in the model's order."""
