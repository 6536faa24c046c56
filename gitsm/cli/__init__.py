"""The ``gitsm`` command line: the ``aws secretsmanager`` commands, plus gitsm's own verbs.

``gitsm.cli.app.app`` is the typer application; :func:`main` is the console script. Nothing heavy
is imported here, so that ``gitsm --help`` starts fast (the store, pygit2 and cryptography load only
when a command needs them).
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    """The ``gitsm`` console script."""
    from gitsm.cli.app import run

    run(argv)


__all__ = ["main"]
