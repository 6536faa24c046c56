"""The operations' lean path: a plain command line runs without typer.

typer (with its click and the commands it builds from signatures) is a large part of a read's start.
For a command line of an operation that uses only its options in their plain forms, this module
finds the same values typer would pass (``m_<Member>``, ``g_<global>``, ``x_...``, ``p_...``: a str,
a bool or a list of str) and runs the same code (:func:`gitsm.cli.operations.run_parsed`), so the
output, the errors and the exit code are the same. Anything else (``--help``, an unknown or repeated
option, a missing value, a value that starts with ``-``, ``--opt=value``, ``--``, a bare
``--generate-cli-skeleton``, shell completion) is left to typer, which owns every message about a
command line it cannot parse: :func:`dispatch` then returns None before anything has run.
"""

from __future__ import annotations

import os

from gitsm.cli.awsmodel import OPERATIONS
from gitsm.cli.globalargs import (
    COMPLETE_VAR,
    GLOBAL_OPTIONS,
    GLOBAL_SWITCHES,
    globals_before,
    plain_values,
)
from gitsm.cli.operations import SKELETON_CHOICES, run_parsed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

SERVICE = "secretsmanager"
EXTRA_VALUES = {
    "--cli-input-json": "x_cli_input_json",
    "--cli-input-yaml": "x_cli_input_yaml",
    "--generate-cli-skeleton": "x_generate_cli_skeleton",
}
PAGING_VALUES = {"--starting-token": "p_StartingToken", "--page-size": "p_PageSize",
                 "--max-items": "p_MaxItems"}  # fmt: skip
COMMANDS = {op["command"]: name for name, op in OPERATIONS.items()}


def looks_like_option(token: str) -> bool:
    """True when ``token`` would end a list option's words (a negative number does not)."""
    if not token.startswith("-") or len(token) == 1 or " " in token:
        return False
    return not token[1:].replace(".", "", 1).isdigit()


def expand_args(args: list[str], greedy: set[str]) -> list[str]:
    """aws CLI argument conventions rewritten for click.

    ``--opt a b`` (a list option) becomes ``--opt a --opt b``; a bare ``--generate-cli-skeleton``
    gets its default value ``input``.
    """
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if token == "--":
            return out + args[i - 1 :]
        if token == "--generate-cli-skeleton":
            out.append(token)
            if i == len(args) or looks_like_option(args[i]):
                out.append(SKELETON_CHOICES[0])
            continue
        if token not in greedy:
            out.append(token)
            continue
        words = []
        while i < len(args) and not looks_like_option(args[i]):
            words.append(args[i])
            i += 1
        out += [x for w in words for x in (token, w)] or [token]
    return out


def parse(name: str, args: list[str]) -> dict[str, object] | None:
    """The values typer would pass to operation ``name``'s command for ``args`` (the words after
    the command), or None when the command line is not one of the plain forms."""
    op = OPERATIONS[name]
    values_of: dict[str, str] = {**GLOBAL_OPTIONS, **EXTRA_VALUES}
    if op["paginator"]:
        values_of.update(PAGING_VALUES)
    lists: dict[str, str] = {}
    flags = {option: (key, True) for option, key in GLOBAL_SWITCHES.items()}
    for member, option in op["options"].items():
        shape = op["members"][member]
        if shape == "boolean":
            flags[option] = ("m_" + member, True)
            flags["--no-" + option[2:]] = ("m_" + member, False)
        elif isinstance(shape, list):
            lists[option] = "m_" + member
        else:
            values_of[option] = "m_" + member
    return plain_values(expand_args(args, set(lists)), values_of, lists, flags)


def dispatch(argv: Sequence[str]) -> int | None:
    """Run ``argv`` when it is an operation's plain command line and return the exit code; None
    (nothing has run) when typer should handle it."""
    if COMPLETE_VAR in os.environ or "--help" in argv:
        return None
    before = globals_before(list(argv))
    if before is None:
        return None
    globals_, rest = before
    if rest[:1] == [SERVICE]:
        rest = rest[1:]
    if not rest or rest[0] not in COMMANDS:
        return None
    name = COMMANDS[rest[0]]
    values = parse(name, rest[1:])
    if values is None or values.get("x_generate_cli_skeleton") is not None:
        return None
    return run_parsed(name, values, globals_)
