"""The ``gitsm`` command line: the ``aws secretsmanager`` commands, plus gitsm's own verbs.

``gitsm.cli.app.app`` is the typer application; :func:`main` is the console script. Nothing heavy
is imported here, so that ``gitsm --help`` starts fast (the store, pygit2 and cryptography load only
when a command needs them).
"""

# no `from __future__ import annotations`: the launcher would import __future__ (0.1-0.3 ms)
import sys

TYPE_CHECKING = False  # typing and collections.abc cost `gitsm sync`'s quick path ~10 ms
if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: "Sequence[str] | None" = None) -> None:
    """The ``gitsm`` console script: hand the command to a running agent when there is one
    (:mod:`gitsm.cli.agent.launcher`), else run it here."""
    args = list(sys.argv[1:] if argv is None else argv)
    if argv is None:
        from gitsm.cli.agent.launcher import handover

        code = handover(args)
        if code is not None:
            leave(code)
    run_here(args, argv)


def leave(code: int) -> None:
    """End the launcher with the command's exit status at once: the standard streams flushed (as
    Python flushes them at exit, 120 when that fails), and no interpreter shutdown, which would
    cost about 2 ms and has nothing to clean up here (the launcher registers no exit handler)."""
    import os

    os._exit(flush_streams(code) & 0xFF)


def flush_streams(code: int) -> int:
    """Flush standard output and error as Python does at exit; ``code``, or 120 for a status 0
    when that fails (as Python exits then)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            code = code or 120
    return code


def run_here(args: list[str], argv: "Sequence[str] | None" = None) -> None:
    """Run the command line ``args`` in this process (``argv``: what typer should parse, None
    for ``sys.argv``); exits through SystemExit as the console script does."""
    if "sync" in args:  # a sync with nothing to do needs none of the heavy imports
        from gitsm.cli.syncfast import quick

        code = quick(args)
        if code is not None:
            sys.exit(code)
    if args[:2] == ["rotation", "run-lambda"] and len(args) == 3 and args[2][:1] != "-":
        from gitsm.rotation.handler import main as run_lambda  # a rotation step: no CLI needed

        sys.exit(run_lambda(args[2]))
    if "get-secret-value" in args:  # a plain read that is certain needs no git library
        from gitsm.cli.quickget import quick as quick_get

        code = quick_get(args)
        if code is not None:
            sys.exit(code)
    if "materialize" in args or "exec" in args:  # a CI job's plain lines need no typer either
        from gitsm.cli.materialize_run import quick as quick_materialize

        code = quick_materialize(args)
        if code is not None:
            sys.exit(code)
    from gitsm.cli.lean import dispatch  # an operation's plain command line needs no typer

    code = dispatch(args)
    if code is not None:
        sys.exit(code)
    from gitsm.cli.app import run

    run(argv)


__all__ = ["main", "run_here"]
