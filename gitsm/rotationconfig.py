"""The rotation functions of a store: ``rotation_functions`` in ``.gitsm/config.yaml``.

A rotation function is a command that gitsm runs where AWS would invoke a Lambda function, once per
rotation step, with the Lambda event on its standard input. The config maps each function's name
(the ``<name>`` of ``arn:aws:lambda:<region>:<account>:function:<name>``) to its command (an argv
list, run without a shell) and a timeout::

    rotation_functions:
      db-password:
        command: [gitsm, rotation, run-lambda, gitsm.rotation.password]
        timeout_seconds: 300
    default_rotation_function: db-password

``default_rotation_function`` (optional) names the function that rotates a secret set up for
rotation without a RotationLambdaARN (gitsm's managed rotation, docs/ROTATION.md).

Pure: parsing (strictly, :mod:`gitsm.strict`) and dumping that mapping; it merges three-way in
:func:`gitsm.merge3.merge_functions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitsm import strict
from gitsm.errors import InvalidParameterException
from gitsm.rotationstate import validate_function_name

FUNCTIONS_MAX = 256
ARGS_MAX = 64
ARG_MAX = 4096
TIMEOUT_DEFAULT = 300
TIMEOUT_MAX = 86_400


@dataclass(frozen=True)
class RotationFunction:
    """One rotation function: its argv and how long one step may run (seconds)."""

    command: tuple[str, ...]
    timeout_seconds: int = TIMEOUT_DEFAULT

    def doc(self) -> dict[str, Any]:
        """The entry as the config file holds it."""
        return {"command": list(self.command), "timeout_seconds": self.timeout_seconds}


def validate_function(command: object, timeout_seconds: object = None) -> RotationFunction:
    """A function's command (1-64 arguments of 1-4,096 characters, no NUL) and timeout (1-86,400
    seconds, default 300), checked for registration."""
    if (
        not isinstance(command, list | tuple) or not 1 <= len(command) <= ARGS_MAX
        or not all(isinstance(a, str) and 0 < len(a) <= ARG_MAX and "\0" not in a
                   for a in command)
    ):  # fmt: skip
        raise InvalidParameterException(
            f"A rotation function's command must be 1-{ARGS_MAX} arguments of 1-{ARG_MAX} "
            "characters (the program first), such as: gitsm rotation run-lambda "
            "gitsm.rotation.password"
        )
    timeout = TIMEOUT_DEFAULT if timeout_seconds is None else timeout_seconds
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= TIMEOUT_MAX:
        raise InvalidParameterException(
            f"A rotation function's timeout must be 1-{TIMEOUT_MAX} seconds."
        )
    return RotationFunction(tuple(command), timeout)


def load_functions(doc: dict[Any, Any], path: str) -> dict[str, RotationFunction]:
    """The ``rotation_functions`` mapping of a config, every entry checked for type and size."""
    if len(doc) > FUNCTIONS_MAX:
        strict.refuse(path, f"is malformed: rotation_functions has {len(doc):,} entries, over "
                      f"the limit of {FUNCTIONS_MAX}")  # fmt: skip
    out: dict[str, RotationFunction] = {}
    for name, entry in doc.items():
        where = f"rotation_functions[{strict.short(name)}]"
        fields = strict.Fields(entry, path, where)
        try:
            validate_function_name(name)
        except InvalidParameterException:
            fields.fail("", "is not a function name (1-64 letters, digits, '-' and '_')")
        unknown = sorted(str(k) for k in fields.doc if k not in ("command", "timeout_seconds"))
        if unknown:
            fields.fail(unknown[0], "is not a field of a rotation function (command, "
                        "timeout_seconds)")  # fmt: skip
        command = fields.texts("command", ARGS_MAX, ARG_MAX)
        if not command:
            fields.fail("command", "is missing or empty")
        timeout = fields.number("timeout_seconds", 1, TIMEOUT_MAX, integer=True)
        out[name] = RotationFunction(
            tuple(command), TIMEOUT_DEFAULT if timeout is None else int(timeout)
        )
    return out


def load_default(doc: dict[Any, Any], path: str) -> str | None:
    """The config's ``default_rotation_function``: a function name, or None when absent. It need
    not be registered (a merge can leave it naming a function removed on the other side:
    RotateSecret then says so)."""
    fields = strict.Fields(doc, path, "")
    name = fields.text("default_rotation_function", 64, optional=True)
    if name is not None:
        try:
            validate_function_name(name)
        except InvalidParameterException:
            fields.fail("default_rotation_function", "is not a function name (1-64 letters, "
                        "digits, '-' and '_')")  # fmt: skip
    return name


def dump_functions(
    functions: dict[str, RotationFunction], default: str | None = None
) -> dict[str, Any]:
    """The config entries of ``functions`` and the default function (nothing at all when there
    are none, so that a store without rotation functions keeps the config it always had)."""
    out: dict[str, Any] = {}
    if functions:
        out["rotation_functions"] = {name: f.doc() for name, f in functions.items()}
    if default is not None:
        out["default_rotation_function"] = default
    return out
