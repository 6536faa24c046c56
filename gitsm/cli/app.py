"""The ``gitsm`` typer application: the operations, gitsm's own verbs, and aws CLI conventions.

On top of typer this module adds what the aws CLI does differently from click:

- exit codes 252 (the command line does not parse) ... 255, and aws-style usage errors;
- list options that take several words (``--tag-keys a b``) and ``--generate-cli-skeleton`` with an
  optional value;
- ``gitsm secretsmanager <command>`` as a synonym of ``gitsm <command>``, so that aws command lines
  run with ``aws`` replaced by ``gitsm``;
- start-up speed: typer >= 0.2x coerces every parameter through a pydantic TypeAdapter, importing
  pydantic (~70 ms) even for absent options. The CLI converts values itself (gitsm.cli.params), so
  its plain str/bool/list parameters get a pass-through coercer instead.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

import gitsm
from gitsm.cli import options, verbs
from gitsm.cli.awsmodel import OPERATIONS
from gitsm.cli.context import META_KEY, globals_from
from gitsm.cli.errors import Secrets, UsageFailure, report
from gitsm.cli.lean import expand_args
from gitsm.cli.operations import make_command, operation_help
from gitsm.errors import EXIT_USAGE

SERVICE = "secretsmanager"
EPILOG = (
    "Global options (--repo, --region, --output, --query, --debug, --no-paginate, "
    "--cli-binary-format) may also follow the command; see 'gitsm --help'."
)

try:
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, NoSuchOption, UsageError
    from typer._coercion import RuntimeParam
except ImportError:  # pragma: no cover - older typer releases use click and no pydantic
    from click.exceptions import (  # type: ignore[no-redef,import-not-found,assignment,unused-ignore]
        ClickException,
        NoArgsIsHelpError,
        NoSuchOption,
        UsageError,
    )

    RuntimeParam = None  # type: ignore[assignment,misc,unused-ignore]

if RuntimeParam is not None:

    @dataclass(frozen=True)
    class _AsIs(RuntimeParam):  # type: ignore[misc,unused-ignore]
        """Keep a str, bool or list[str] value as parsed (the CLI converts values itself)."""

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            return value


_PLAIN = (str, bool, list[str])


def _fast(params: Sequence[Any]) -> None:
    """Give plain parameters the pass-through coercer (see the module docstring)."""
    if RuntimeParam is None:
        return
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        unbuilt = getattr(param, "_runtime_param", 1) is None
        if unbuilt and descriptor is not None and descriptor.annotation in _PLAIN:
            param._runtime_param = _AsIs(descriptor.parameter_info, descriptor.annotation)


class GitsmCommand(TyperCommand):
    """A command with the aws CLI's argument conventions."""

    def get_help_option(self, ctx: Any) -> Any:
        """The --help option, with the fast coercer."""
        option = super().get_help_option(ctx)
        _fast([option])
        return option

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse after rewriting aws-style list options."""
        _fast(self.params)
        greedy = {o for p in self.params if getattr(p, "multiple", False) for o in p.opts}
        return super().parse_args(ctx, expand_args(args, greedy))


class GitsmGroup(TyperGroup):
    """The top-level group: aws CLI exit codes and usage errors, and the service-name synonym."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse (typer appends the completion options after construction: patch them here)."""
        _fast(self.params)
        return super().parse_args(ctx, args)

    def get_help_option(self, ctx: Any) -> Any:
        """The --help option, with the fast coercer."""
        option = super().get_help_option(ctx)
        _fast([option])
        return option

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command ``cmd_name``; operations and the verbs of LAZY_VERBS are built on first use
        (start-up speed: a command loads only its own module)."""
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands[cmd_name] = operation_command(COMMANDS[cmd_name])
        elif cmd_name not in self.commands and cmd_name in LAZY_VERBS:
            self.commands.update(lazy_commands(LAZY_VERBS[cmd_name]))
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: Any) -> list[str]:
        """The operations (in the API's order), then gitsm's own verbs."""
        own = [name for name in self.commands if name not in COMMANDS]
        return [*COMMANDS, *own, *(name for name in LAZY_VERBS if name not in own)]

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Accept ``gitsm secretsmanager <command>`` like ``gitsm <command>``."""
        if args and args[0] == SERVICE:
            if len(args) == 1 or args[1] in ctx.help_option_names:
                typer.echo(ctx.get_help())
                ctx.exit(0)
            args = args[1:]
        if args and args[0] not in self.commands and args[0] not in {*COMMANDS, *LAZY_VERBS}:
            for name in [*COMMANDS, *LAZY_VERBS]:  # unknown: build all, so typer can suggest one
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run; exit (or, when not standalone, return) with the aws CLI's exit codes."""
        try:
            result = super().main(
                args, prog_name or "gitsm", complete_var, standalone_mode=False, **extra
            )
            code = result if isinstance(result, int) else 0
        except NoArgsIsHelpError as exc:
            sys.stderr.write(exc.format_message() + "\n")
            code = EXIT_USAGE
        except ClickException as exc:
            code = report(_usage(exc), secrets=Secrets(), debug=False, operation=None)
        except typer.Abort:
            code = 130
        if standalone_mode:
            sys.exit(code)
        return code


def _usage(exc: Any) -> UsageFailure:
    """An aws-style usage error; words that might belong to a value are not echoed."""
    if isinstance(exc, NoSuchOption):
        hint = (
            f" (did you mean {', '.join(sorted(exc.possibilities))}?)" if exc.possibilities else ""
        )
        return UsageFailure(f"Unknown options: {exc.option_name}{hint}")
    message = exc.format_message()
    if isinstance(exc, UsageError) and message.startswith("Got unexpected extra argument"):
        return UsageFailure(
            "Unknown options: unexpected arguments (not shown: they may be part of a value). "
            "Quote values that contain spaces."
        )
    return UsageFailure(message)


COMMANDS = {op["command"]: name for name, op in OPERATIONS.items()}
"""aws CLI command name -> operation name."""


LAZY_VERBS = {
    "keys": "gitsm.cli.keys_cmd",
    "verify": "gitsm.cli.verify_cmd",
    "hook": "gitsm.cli.verify_cmd",
    "materialize": "gitsm.cli.materialize_cmd",
    "exec": "gitsm.cli.materialize_cmd",
    "sync": "gitsm.cli.sync_cmd",
    "rotation": "gitsm.cli.rotation_cmd",
    "rotate-due": "gitsm.cli.rotation_cmd",
    "serve": "gitsm.cli.serve_cmd",
    "agent": "gitsm.cli.agent_cmd",
}
"""gitsm's own verbs that live in modules of their own: command name -> module (which has a
``register(app, command_cls, fast, epilog)`` function)."""


def lazy_commands(module_name: str) -> dict[str, Any]:
    """The click commands that module ``module_name`` registers, built on demand."""
    module = importlib.import_module(module_name)
    holder = typer.Typer(add_completion=False, rich_markup_mode=None)
    holder.callback()(lambda: None)  # a callback makes typer build a group, even for one command
    module.register(holder, GitsmCommand, _fast, EPILOG)
    return dict(typer.main.get_command(holder).commands)  # type: ignore[attr-defined]


def operation_command(name: str) -> Any:
    """The click command of operation ``name``, made by typer from its generated signature."""
    single = typer.Typer(add_completion=False, rich_markup_mode=None)
    single.command(
        OPERATIONS[name]["command"],
        cls=GitsmCommand,
        epilog=EPILOG,
        short_help=operation_help(name),
    )(make_command(name))
    return typer.main.get_command(single)


def _version(value: bool) -> None:
    if value:
        import platform

        typer.echo(
            f"gitsm/{gitsm.__version__} Python/{platform.python_version()} "
            f"{platform.system()}/{platform.release()}"
        )
        raise typer.Exit(0)


app = typer.Typer(
    name="gitsm",
    cls=GitsmGroup,
    rich_markup_mode=None,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"max_content_width": 100},
)


def _callback(**values: Any) -> None:
    ctx: typer.Context = values.pop("ctx")
    ctx.meta[META_KEY] = globals_from(values)


_VERSION = options.option(
    "version", "--version", bool | None, "Print the version and exit.", callback=_version,
    is_eager=True,
)  # fmt: skip
options.with_signature(
    _callback,
    [options.context_parameter(), *options.global_parameters(hidden=False), _VERSION],
    "gitsm: a git-backed secrets manager with AWS Secrets Manager semantics.\n\n"
    "The commands and options are those of 'aws secretsmanager' (run them with or without the\n"
    "word 'secretsmanager'); init, log, purge-deleted-secrets, keys, verify, hook, materialize,\n"
    "exec, sync, rotation, rotate-due and serve are gitsm's own. Values can come from files:\n"
    "--secret-string file://PATH, --secret-binary fileb://PATH (file:///dev/stdin reads standard\n"
    "input).",
)
app.callback()(_callback)

for _verb, _func, _short in (
    ("init", verbs.init, "Make a store (git init if needed); idempotent."),
    ("log", verbs.log, "Show the history of operations (never values)."),
    ("purge-deleted-secrets", verbs.purge_deleted_secrets,
     "Remove the secrets whose recovery window has passed."),
):  # fmt: skip
    app.command(_verb, cls=GitsmCommand, epilog=EPILOG, short_help=_short)(_func)


def run(argv: Sequence[str] | None = None) -> None:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and exit."""
    typer.main.get_command(app).main(list(argv) if argv is not None else None, prog_name="gitsm")
