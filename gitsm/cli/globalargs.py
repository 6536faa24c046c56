"""A plain command line's global options and option words, read without typer.

Shared by the lean paths (:mod:`gitsm.cli.lean` for the operations, :mod:`gitsm.cli.materialize_run`
for ``materialize`` and ``exec``): the global options before the command
(:func:`globals_before`) and a command's options (:func:`plain_values`). Anything but a plain form
is left to typer, which owns every message about a command line it cannot parse.
"""

from __future__ import annotations

from gitsm.cli.context import Globals

COMPLETE_VAR = "_GITSM_COMPLETE"
GLOBAL_VALUES = ("repo", "region", "output", "query", "cli_binary_format")
GLOBAL_FLAGS = ("debug", "no_paginate", "no_cli_pager")


def option_name(key: str) -> str:
    """The command-line option of a parameter name (``cli_binary_format``: ``--cli-binary-format``)."""
    return "--" + key.replace("_", "-")


GLOBAL_OPTIONS = {option_name(k): "g_" + k for k in GLOBAL_VALUES}
GLOBAL_SWITCHES = {option_name(k): "g_" + k for k in GLOBAL_FLAGS}


def globals_before(args: list[str]) -> tuple[Globals, list[str]] | None:
    """The global options before the command, and the rest (the command first); None: typer's."""
    given: dict[str, object] = {}
    i = 0
    while i < len(args) and args[i].startswith("-"):
        token = args[i]
        if token in GLOBAL_SWITCHES and token not in given:
            given[token] = True
            i += 1
        elif token in GLOBAL_OPTIONS and token not in given and i + 1 < len(args):
            if args[i + 1].startswith("-"):
                return None
            given[token] = args[i + 1]
            i += 2
        else:
            return None
    names = {**GLOBAL_OPTIONS, **GLOBAL_SWITCHES}
    return Globals(**{names[k][2:]: v for k, v in given.items()}), args[i:]  # type: ignore[arg-type]


def plain_values(
    tokens: list[str],
    values_of: dict[str, str],
    lists: dict[str, str],
    flags: dict[str, tuple[str, bool]],
) -> dict[str, object] | None:
    """The values typer would pass for a command's ``tokens`` (the words after it), given its
    options that take one value (option -> key), its repeatable options (option -> key, each
    value one word) and its switches (option -> (key, value)); None when the line is not one of
    the plain forms: an unknown or repeated option, a missing value, a value that starts with
    ``-``."""
    values: dict[str, object] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in flags:
            key, flag = flags[token]
            if key in values:
                return None
            values[key] = flag
            i += 1
            continue
        if (token not in values_of and token not in lists) or i + 1 >= len(tokens):
            return None
        value = tokens[i + 1]
        if value.startswith("-"):
            return None
        if token in lists:
            words = values.setdefault(lists[token], [])
            assert isinstance(words, list)
            words.append(value)
        elif values_of[token] in values:
            return None
        else:
            values[values_of[token]] = value
        i += 2
    return values
