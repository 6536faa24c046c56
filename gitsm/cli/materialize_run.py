"""``gitsm materialize`` and ``gitsm exec`` run without typer: the commands' bodies, and their
lean path.

A CI job runs ``gitsm materialize`` or ``gitsm exec`` in a fresh process, usually without the
agent; typer, and the operations' model the typer application is built from, are about a tenth of
that process's time at 1,000 secrets. :func:`quick` reads a plain command line (the global options
before the verb, then the verb's own options, each ``--opt value``, and for exec ``--`` and the
command) exactly as typer would and runs the same body (:func:`run`, :func:`run_exec`) under the
same error handling as the typer command (:mod:`gitsm.cli.verbs`), so the output, the errors and
the exit code are the same. Anything else (``--help``, an unknown or repeated option, a missing
value, a value that starts with ``-``, ``--opt=value``, several words after a list option, an exec
command not after ``--``, shell completion) is left to typer: :func:`quick` then returns None before
anything has run.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

from gitsm.cli import output
from gitsm.cli.context import Globals, globals_from, store_path
from gitsm.cli.errors import EnvironmentFailure, Secrets, UsageFailure, run_guarded
from gitsm.cli.globalargs import (
    COMPLETE_VAR,
    GLOBAL_OPTIONS,
    GLOBAL_SWITCHES,
    globals_before,
    plain_values,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitsm.materialize import Spec
    from gitsm.materialize.read import StorePath

VERBS: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    "materialize": (
        "Materialize",
        {"--format": "fmt", "--spec": "spec_file", "--out": "out", "--mode": "mode",
         "--k8s-name": "k8s_name", "--k8s-namespace": "k8s_namespace"},
        {"--env": "env", "--file": "file"},
    ),
    "exec": ("Exec", {"--spec": "spec_file"}, {"--env": "env"}),
}  # fmt: skip
"""verb -> (its operation name in errors, its options that take one value, its repeatable
options: option -> parameter)."""


def unopened(globals_: Globals) -> StorePath:
    """The selected store, opened only if the quick read leaves something to it
    (:mod:`gitsm.materialize.read`)."""
    from gitsm.materialize.read import StorePath

    return StorePath(str(store_path(globals_)), globals_.region)


def spec_memo(globals_: Globals) -> str | None:
    """The spec memo of the selected store (:mod:`gitsm.materialize.specmemo`); None when there
    is none, or no store is selected (that error is the store's, after the spec's, as always)."""
    from gitsm.materialize.specmemo import memo_path

    try:
        return memo_path(str(store_path(globals_)))
    except EnvironmentFailure:
        return None


def spec_of(
    spec_file: str | None,
    envs: list[str],
    files: list[str],
    mode: str | None,
    memo: str | None = None,
) -> Spec:
    """The spec a command line gives: ``--spec`` (else ./gitsm.materialize.yaml when neither
    ``--env`` nor ``--file`` is given), plus the ``--env`` and ``--file`` entries; a spec file
    through the spec memo file ``memo`` when given."""
    from gitsm.materialize import DEFAULT_SPEC, Spec, SpecError, load_spec, parse_flag
    from gitsm.materialize.spec import parse_mode
    from gitsm.materialize.specmemo import read_spec

    if spec_file is None and not envs and not files and Path(DEFAULT_SPEC).is_file():
        spec_file = DEFAULT_SPEC
    if spec_file is not None:
        spec = load_spec(spec_file) if memo is None else read_spec(spec_file, memo)
    else:
        spec = Spec()
    spec.extend([parse_flag("--env", e) for e in envs] + [parse_flag("--file", f) for f in files])
    if mode is not None:
        spec.mode = parse_mode(mode, "--mode")
    if not spec.entries:
        raise SpecError(
            f"nothing to materialize: give --spec FILE, --env or --file (or put {DEFAULT_SPEC} "
            "in the current directory)"
        )
    return spec


def run(
    globals_: Globals,
    *,
    fmt: str | None = None,
    spec_file: str | None = None,
    env: list[str] | None = None,
    file: list[str] | None = None,
    out: str | None = None,
    mode: str | None = None,
    k8s_name: str | None = None,
    k8s_namespace: str | None = None,
) -> None:
    """``gitsm materialize``'s body (docs/MATERIALIZE.md): read the spec, write the values."""
    from gitsm.materialize import materialize

    collecting = gc.isenabled()
    gc.disable()  # a short run that makes no reference cycles: no collector passes (~5%)
    try:
        spec = spec_of(spec_file, env or [], file or [], mode, spec_memo(globals_))
        spec.k8s_name = k8s_name or spec.k8s_name
        spec.k8s_namespace = k8s_namespace or spec.k8s_namespace
        fmt = fmt or spec.format or "files"
        out = out or spec.out
        store = unopened(globals_)
        summary = materialize(store, spec, fmt, out=out, progress=sys.stderr)
    finally:
        if collecting:
            gc.enable()
    if summary.paths:
        where = (out or ".") if fmt == "files" else summary.paths[0]
        sys.stderr.write(
            f"gitsm materialize: {summary.count} value{'s' if summary.count != 1 else ''} from "
            f"commit {(summary.commit or '')[:12]} written to {where}\n"
        )


def run_exec(
    globals_: Globals,
    command: list[str] | None,
    *,
    spec_file: str | None = None,
    env: list[str] | None = None,
) -> int:
    """``gitsm exec``'s body: run ``command`` with the secrets in its environment only; its exit
    status (negative: the signal that ended it), for :func:`gitsm.materialize.child.die_like`."""
    from gitsm.materialize import child, environment

    if not command:
        raise UsageFailure(
            "gitsm exec needs a command: gitsm exec [--spec FILE] [--env NAME=REF]... -- "
            "COMMAND [ARGS...]"
        )
    spec = spec_of(spec_file, env or [], [], None, spec_memo(globals_))
    store = unopened(globals_)
    variables = environment(store, spec, progress=sys.stderr)
    del store, spec
    code = child.run(command, variables)  # clears ``variables`` once the command runs
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def parse(
    args: list[str], values_of: dict[str, str], lists: dict[str, str]
) -> dict[str, object] | None:
    """The values typer would pass to a verb for ``args`` (the words after it: its parameters,
    and ``g_<global>`` for global options given after the verb), given the verb's options that
    take one value and its repeatable ones; None when the command line is not one of the plain
    forms."""
    switches = {option: (key, True) for option, key in GLOBAL_SWITCHES.items()}
    return plain_values(args, {**values_of, **GLOBAL_OPTIONS}, lists, switches)


def quick(argv: list[str]) -> int | None:
    """Run ``argv`` when it is a plain ``materialize`` or ``exec`` command line and return the
    exit code (exec: or end as its command ended); None (nothing has run) when typer should
    handle it."""
    if COMPLETE_VAR in os.environ or "--help" in argv:
        return None
    before = globals_before(argv)
    if before is None or not before[1] or before[1][0] not in VERBS:
        return None
    verb, args = before[1][0], before[1][1:]
    operation, values_of, lists = VERBS[verb]
    command: list[str] = []
    if verb == "exec":  # the command only after --, as the usage line gives it
        if "--" not in args:
            return None
        cut = args.index("--")
        args, command = args[:cut], args[cut + 1 :]
    values = parse(args, values_of, lists)
    if values is None:
        return None
    globals_ = before[0].merged(globals_from(values))
    own = {k: v for k, v in values.items() if not k.startswith("g_")}

    def action() -> None:
        output.check_format(globals_.output or "json")
        output.compile_query(globals_.query)  # before the verb runs: nothing done
        if verb == "materialize":
            run(globals_, **own)  # type: ignore[arg-type]
            return
        from gitsm.materialize.child import die_like

        raise SystemExit(die_like(run_exec(globals_, command, **own)))  # type: ignore[arg-type]

    return run_guarded(action, operation=operation, debug=bool(globals_.debug), secrets=Secrets())
