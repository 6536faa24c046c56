"""``gitsm materialize`` and ``gitsm exec``: secrets for CI jobs (docs/MATERIALIZE.md).

:func:`register` adds both commands; the CLI imports this module only when one of them is asked
for (gitsm.cli.app.LAZY_VERBS). Their bodies are in :mod:`gitsm.cli.materialize_run`, which also
runs a plain command line without typer; the store and :mod:`gitsm.materialize` load only when a
command runs. Errors go through ``with_globals`` like gitsm's other verbs: a spec or flag that
does not parse exits 252, a run that cannot materialize everything exits 254 with one message
listing every problem (never a value), and ``exec`` passes on its command's exit status or signal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from gitsm.cli.context import Globals
from gitsm.cli.materialize_run import run as run_materialize
from gitsm.cli.materialize_run import run_exec
from gitsm.cli.verbs import with_globals

FORMATS = "files|dotenv|json|export|k8s|github"
REF = "SECRET_ID[?version-stage=L|?version-id=V][#JSON_KEY]"

SpecOption = Annotated[
    str | None,
    typer.Option("--spec", help="The spec file (YAML; docs/MATERIALIZE.md). Default: "
                 "./gitsm.materialize.yaml when no --env or --file is given.",
                 show_default=False, metavar="FILE"),
]  # fmt: skip
EnvOption = Annotated[
    list[str] | None,
    typer.Option("--env", help=f"NAME={REF}: the value (or one JSON key of it) as variable NAME; "
                 "NAME with * (APP_*) takes every key of a JSON secret. Repeatable.",
                 show_default=False, metavar="NAME=REF"),
]  # fmt: skip


@with_globals("Materialize")
def materialize(
    globals_: Globals,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help=f"Output format: {FORMATS} (default: the spec's format, "
                     "else files).", show_default=False, metavar="FORMAT"),
    ] = None,
    spec_file: SpecOption = None,
    env: EnvOption = None,
    file: Annotated[
        list[str] | None,
        typer.Option("--file", help=f"PATH={REF}: the value as file PATH (relative to --out); "
                     "PATH with * (conf/*) takes every key of a JSON secret. Repeatable.",
                     show_default=False, metavar="PATH=REF"),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option("--out", help="files: the directory every path stays below (default "
                     "'.'; no symbolic link in it or below it); github: the file to append to "
                     "(default $GITHUB_ENV); others: write the document to this file (0600, "
                     "atomically) instead of stdout. Default: the spec's out.",
                     show_default=False, metavar="PATH"),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="The mode of files whose entry sets none (default 0600).",
                     show_default=False, metavar="OCTAL"),
    ] = None,
    k8s_name: Annotated[
        str | None,
        typer.Option("--k8s-name", help="k8s: the Secret's metadata.name (default gitsm-secrets).",
                     show_default=False, metavar="NAME"),
    ] = None,
    k8s_namespace: Annotated[
        str | None,
        typer.Option("--k8s-namespace", help="k8s: the Secret's metadata.namespace.",
                     show_default=False, metavar="NAMESPACE"),
    ] = None,
) -> None:  # fmt: skip
    """Write secrets for a CI job: files (atomic, 0600 in 0700 directories), dotenv, JSON, shell
    export lines, a Kubernetes Secret manifest, or GitHub Actions variables (masked).

    Everything is read from one commit of the store, and checked before anything is written: a
    missing, deleted or undecryptable secret or a missing JSON key stops the run with one error
    listing every problem, and nothing is written. Plaintext is never written inside a git work
    tree unless git ignores the path.
    """
    run_materialize(globals_, fmt=fmt, spec_file=spec_file, env=env, file=file, out=out,
                    mode=mode, k8s_name=k8s_name, k8s_namespace=k8s_namespace)  # fmt: skip


@with_globals("Exec")
def exec_(
    globals_: Globals,
    command: Annotated[
        list[str] | None,
        typer.Argument(help="The command to run and its arguments, after -- (gitsm exec "
                       "--env A=REF -- COMMAND ARGS...).", show_default=False, metavar="COMMAND"),
    ] = None,
    spec_file: SpecOption = None,
    env: EnvOption = None,
) -> None:  # fmt: skip
    """Run a command with secrets in its environment only: never in its arguments, never in a
    file. Its exit status is gitsm's; signals sent to gitsm (TERM, INT, HUP, QUIT, USR1, USR2,
    ...) are forwarded to it. Entries without an env name are ignored.
    """
    from gitsm.materialize.child import die_like

    raise typer.Exit(die_like(run_exec(globals_, command, spec_file=spec_file, env=env)))


def register(
    app: typer.Typer,
    command_cls: type[Any],
    fast: Callable[[Sequence[Any]], None],
    epilog: str,
) -> None:
    """Add ``gitsm materialize`` and ``gitsm exec`` to ``app``."""
    app.command("materialize", cls=command_cls, epilog=epilog,
                short_help="Write secrets as files, dotenv, JSON, exports, k8s or GitHub variables.",
                )(materialize)  # fmt: skip
    app.command("exec", cls=command_cls, epilog=epilog,
                short_help="Run a command with secrets in its environment only.",
                context_settings={"allow_interspersed_args": False},
                )(exec_)  # fmt: skip
