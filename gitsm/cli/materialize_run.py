"""``gitsm materialize`` run without typer: the command's body, and its lean path.

A CI job runs ``gitsm materialize`` in a fresh process, usually without the agent; typer, and the
operations' model the typer application is built from, are about a tenth of that process's time
at 1,000 secrets. :func:`quick` reads a plain command line (the global options before the verb,
then the verb's own options, each ``--opt value``) exactly as typer would and runs the same body
(:func:`run`) under the same error handling as the typer command (:mod:`gitsm.cli.verbs`), so the
output, the errors and the exit code are the same. Anything else (``--help``, an unknown or
repeated option, a missing value, a value that starts with ``-``, ``--opt=value``, several words
after a list option, shell completion) is left to typer: :func:`quick` then returns None before
anything has run.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

from gitsm.cli import output
from gitsm.cli.context import Globals, globals_from, open_store
from gitsm.cli.errors import Secrets, run_guarded
from gitsm.cli.globalargs import COMPLETE_VAR, GLOBAL_OPTIONS, GLOBAL_SWITCHES, globals_before

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitsm.materialize import Spec

VERB = "materialize"
OPERATION = "Materialize"
VALUES = {"--format": "fmt", "--spec": "spec_file", "--out": "out", "--mode": "mode",
          "--k8s-name": "k8s_name", "--k8s-namespace": "k8s_namespace"}  # fmt: skip
"""The verb's options that take one value: option -> parameter."""
LISTS = {"--env": "env", "--file": "file"}
"""The verb's repeatable options: option -> parameter."""


def spec_of(spec_file: str | None, envs: list[str], files: list[str], mode: str | None) -> Spec:
    """The spec a command line gives: ``--spec`` (else ./gitsm.materialize.yaml when neither
    ``--env`` nor ``--file`` is given), plus the ``--env`` and ``--file`` entries."""
    from gitsm.materialize import DEFAULT_SPEC, Spec, SpecError, load_spec, parse_flag
    from gitsm.materialize.spec import parse_mode

    if spec_file is not None:
        spec = load_spec(spec_file)
    elif not envs and not files and Path(DEFAULT_SPEC).is_file():
        spec = load_spec(DEFAULT_SPEC)
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
        spec = spec_of(spec_file, env or [], file or [], mode)
        spec.k8s_name = k8s_name or spec.k8s_name
        spec.k8s_namespace = k8s_namespace or spec.k8s_namespace
        fmt = fmt or spec.format or "files"
        out = out or spec.out
        store = open_store(globals_)
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


def parse(args: list[str]) -> dict[str, object] | None:
    """The values typer would pass to the verb for ``args`` (the words after it: the parameters
    of :func:`run`, and ``g_<global>`` for global options given after the verb), or None when the
    command line is not one of the plain forms."""
    values_of = {**VALUES, **GLOBAL_OPTIONS}
    values: dict[str, object] = {}
    i = 0
    while i < len(args):
        token = args[i]
        if token in GLOBAL_SWITCHES:
            if GLOBAL_SWITCHES[token] in values:
                return None
            values[GLOBAL_SWITCHES[token]] = True
            i += 1
            continue
        if (token not in values_of and token not in LISTS) or i + 1 >= len(args):
            return None
        value = args[i + 1]
        if value.startswith("-"):
            return None
        if token in LISTS:
            words = values.setdefault(LISTS[token], [])
            assert isinstance(words, list)
            words.append(value)
        elif values_of[token] in values:
            return None
        else:
            values[values_of[token]] = value
        i += 2
    return values


def quick(argv: list[str]) -> int | None:
    """Run ``argv`` when it is a plain ``materialize`` command line and return the exit code;
    None (nothing has run) when typer should handle it."""
    if COMPLETE_VAR in os.environ or "--help" in argv:
        return None
    before = globals_before(argv)
    if before is None or before[1][:1] != [VERB]:
        return None
    values = parse(before[1][1:])
    if values is None:
        return None
    globals_ = before[0].merged(globals_from(values))
    own = {k: v for k, v in values.items() if not k.startswith("g_")}

    def action() -> None:
        output.check_format(globals_.output or "json")
        output.compile_query(globals_.query)  # before the verb runs: nothing done
        run(globals_, **own)  # type: ignore[arg-type]

    return run_guarded(action, operation=OPERATION, debug=bool(globals_.debug), secrets=Secrets())
