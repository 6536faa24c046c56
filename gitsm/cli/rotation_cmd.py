"""``gitsm rotation ...`` (rotation functions) and ``gitsm rotate-due`` (the scheduled rotations).

``rotate-secret`` and ``cancel-rotate-secret`` are AWS operations (:mod:`gitsm.cli.operations`);
these verbs manage what they run, and run what is due. docs/ROTATION.md tells the whole story.

Nothing heavy is imported here: each verb imports the store when it runs (start-up speed).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from gitsm.cli.context import Globals, open_store
from gitsm.cli.errors import Landed, UsageFailure, WriteLanded
from gitsm.cli.keys_base import emit, verb_group
from gitsm.cli.verbs import with_globals

HELP = """Rotation functions: the commands gitsm runs where AWS invokes a rotation Lambda.

A secret's RotationLambdaARN (arn:aws:lambda:<region>:<account>:function:NAME, or NAME) names a
function registered here. gitsm runs its command once per rotation step (createSecret, setSecret,
testSecret, finishSecret) with the Lambda event as JSON on standard input and GITSM_REPO set to
the store. A secret without a RotationLambdaARN rotates with the store's default function
(set-default-function), if it has one. See docs/ROTATION.md.
"""


def _function_row(name: str, function: Any) -> dict[str, Any]:
    return {"FunctionName": name, "Command": list(function.command),
            "TimeoutSeconds": function.timeout_seconds}  # fmt: skip


@with_globals("RegisterRotationFunction")
def register_function(
    globals_: Globals,
    name: Annotated[str, typer.Argument(help="The function's name (1-64 letters, digits, - and "
                                        "_), the NAME of its Lambda ARN.", metavar="NAME")],
    command: Annotated[
        str,
        typer.Option("--command", help="The command, split like a shell would split it (no shell "
                     "runs it): a program and its arguments. A program named gitsm is this gitsm.",
                     show_default=False, metavar="COMMAND"),
    ],
    timeout_seconds: Annotated[
        str | None,
        typer.Option("--timeout-seconds", help="How long one step may run (default 300).",
                     show_default=False, metavar="INTEGER"),
    ] = None,
) -> None:  # fmt: skip
    """Register (or change) a rotation function: one commit changing the store config.

    Examples: --command "gitsm rotation run-lambda gitsm.rotation.password" (a new random
    password each rotation), --command "gitsm rotation run-lambda gitsm.rotation.postgres" (a
    PostgreSQL user's password), --command "gitsm rotation run-lambda rotation/mine.py" (your own
    Lambda-style handler, relative to the store's work tree), --command "./rotate.sh".
    """
    from gitsm.cli.params import coerce

    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UsageFailure(f"argument --command: {exc}") from None
    timeout = None if timeout_seconds is None else coerce(timeout_seconds, "integer",
                                                           "--timeout-seconds")  # fmt: skip
    assert timeout is None or isinstance(timeout, int)
    store = open_store(globals_)
    changed = store.register_rotation_function(name, argv, timeout_seconds=timeout)
    row = _function_row(name, store.rotation_functions()[name]) | {"Changed": changed}
    landed = Landed("RegisterRotationFunction", {"FunctionName": name},
                    see="gitsm rotation list-functions")  # fmt: skip
    emit(row, globals_, "RegisterRotationFunction", landed=landed)


@with_globals("DeregisterRotationFunction")
def deregister_function(
    globals_: Globals,
    name: Annotated[str, typer.Argument(help="The function's name.", metavar="NAME")],
) -> None:  # fmt: skip
    """Remove a rotation function from the store config (one commit). Secrets that name it can
    no longer rotate until it is registered again."""
    open_store(globals_).deregister_rotation_function(name)
    landed = Landed("DeregisterRotationFunction", {"FunctionName": name},
                    see="gitsm rotation list-functions")  # fmt: skip
    emit({"FunctionName": name}, globals_, "DeregisterRotationFunction", landed=landed)


@with_globals("SetDefaultRotationFunction")
def set_default_function(
    globals_: Globals,
    name: Annotated[str | None, typer.Argument(help="A registered function's name.",
                                               metavar="NAME", show_default=False)] = None,
    none: Annotated[bool, typer.Option("--none", help="Leave the store without a default.")
                    ] = False,
) -> None:  # fmt: skip
    """Make a registered rotation function the store's default (one commit changing the store
    config; none when it is the default already): RotateSecret without a RotationLambdaARN on a
    secret without one rotates with it, as AWS's managed rotation does. Prints
    DefaultFunctionName (null with --none) and whether it Changed.

    Example: gitsm rotation register-function password --command "gitsm rotation run-lambda
    gitsm.rotation.password"; gitsm rotation set-default-function password.
    """
    if (name is None) == (not none):
        raise UsageFailure("give either NAME or --none")
    store = open_store(globals_)
    changed = store.set_default_rotation_function(name)
    landed = Landed("SetDefaultRotationFunction", {"DefaultFunctionName": name or "none"},
                    see="gitsm rotation list-functions")  # fmt: skip
    emit({"DefaultFunctionName": name, "Changed": changed}, globals_,
         "SetDefaultRotationFunction", landed=landed)  # fmt: skip


@with_globals("ListRotationFunctions")
def list_functions(globals_: Globals) -> None:
    """List the store's rotation functions and its default one (DefaultFunctionName, null when it
    has none)."""
    store = open_store(globals_)
    rows = [_function_row(name, f) for name, f in sorted(store.rotation_functions().items())]
    emit({"RotationFunctions": rows, "DefaultFunctionName": store.default_rotation_function()},
         globals_, "ListRotationFunctions")  # fmt: skip


def run_lambda(
    target: Annotated[str, typer.Argument(
        help="A Python file (relative to the current directory: the store's work tree when gitsm "
        "runs the function) or a module, with an optional :HANDLER (default lambda_handler).",
        metavar="TARGET")],
) -> None:  # fmt: skip
    """Run a Lambda-style rotation handler on the event on standard input (as a rotation
    function's command). Exit 0 when it returns, 1 (traceback on stderr) when it raises."""
    from gitsm.rotation.handler import main

    raise typer.Exit(main(target))


@with_globals("RotateDue")
def rotate_due(globals_: Globals) -> None:
    """Rotate every secret whose rotation window has opened (NextRotationDate is that window's
    end), for a scheduled CI job: each with its rotation function, a failed rotation retried.

    Prints what it rotated (Rotated) and what failed (Failed, with the error). Exit 0 when none
    failed, 254 when any did (the others are rotated all the same).
    """
    from gitsm.errors import InvalidRequestException

    done = open_store(globals_).rotate_due()
    rotated = [{"Name": d.name, "ARN": d.arn, "VersionId": d.version_id}
               for d in done if d.error is None]  # fmt: skip
    failed = [
        {"Name": d.name, "ARN": d.arn, "VersionId": d.version_id,
         "Error": {"Code": d.error.code, "Message": d.error.message}}
        for d in done if d.error is not None
    ]  # fmt: skip
    landed = Landed("RotateDue", {"Rotated": ", ".join(d.name for d in done if d.error is None)
                                  or "none"}, see="gitsm log")  # fmt: skip
    try:
        emit({"Rotated": rotated, "Failed": failed}, globals_, "RotateDue", landed=landed)
    except WriteLanded as lost:
        if not failed:
            raise
        import sys

        sys.stderr.write(lost.message + "\n")
    if failed:
        names = ", ".join(d.name for d in done if d.error is not None)
        raise InvalidRequestException(
            f"{len(failed)} of {len(done)} due rotation(s) failed ({names}); see Failed in the "
            "output. Each keeps its rotation in progress; the next rotate-due retries it."
        )


VERBS = (
    ("register-function", register_function, "Register or change a rotation function."),
    ("deregister-function", deregister_function, "Remove a rotation function."),
    (
        "set-default-function",
        set_default_function,
        "Choose the function that rotates secrets without a RotationLambdaARN.",
    ),
    ("list-functions", list_functions, "List the rotation functions."),
)


def register(
    app: typer.Typer,
    command_cls: type[Any],
    fast: Callable[[Sequence[Any]], None],
    epilog: str,
) -> None:
    """Add ``gitsm rotation`` and ``gitsm rotate-due`` to ``app``."""
    rotation = verb_group(fast, HELP, command_cls, epilog, VERBS)
    rotation.command("run-lambda", cls=command_cls,
                     short_help="Run a Lambda-style handler on the event on stdin.")(run_lambda)  # fmt: skip
    app.add_typer(rotation, name="rotation", short_help="Manage rotation functions.")
    app.command("rotate-due", cls=command_cls, epilog=epilog,
                short_help="Rotate every secret whose rotation is due.")(rotate_due)  # fmt: skip
