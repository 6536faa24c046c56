"""What the ``gitsm keys`` verbs (and ``verify``) share: printing, the sub-command group class, the
verb decorator, and opening the store.

Nothing heavy is imported here: each verb imports the store when it runs (start-up speed).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any

from typer.core import TyperGroup

from gitsm.cli import output
from gitsm.cli.context import Globals
from gitsm.cli.errors import EnvironmentFailure, Landed
from gitsm.cli.verbs import with_globals


def emit(data: Any, globals_: Globals, title: str, *, landed: Landed | None = None) -> None:
    """Print ``data`` with ``--output``/``--query`` (JSON by default); ``landed`` names what the
    verb wrote, for the warning (exit 0) when the output cannot be shown (see output.emit)."""
    output.emit(data, globals_, title, landed=landed)


def key_write(what: str, **ids: object) -> Landed:
    """The :class:`Landed` of a ``gitsm keys`` verb that wrote (``gitsm keys list`` shows it)."""
    return Landed(what, ids, see="gitsm keys list")


def group_class(fast: Callable[[Sequence[Any]], None]) -> type[TyperGroup]:
    """A sub-command group whose own options skip typer's pydantic coercion (start-up speed)."""

    class SubGroup(TyperGroup):
        def get_help_option(self, ctx: Any) -> Any:
            option = super().get_help_option(ctx)
            fast([option])
            return option

        def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
            fast(self.params)
            return super().parse_args(ctx, args)

    return SubGroup


def verb_group(
    fast: Callable[[Sequence[Any]], None],
    help_text: str,
    command_cls: type[Any],
    epilog: str,
    verbs: Sequence[tuple[str, Callable[..., Any], str]],
) -> Any:
    """A typer sub-command group (``gitsm keys``, ``rotation``, ``hook``) of ``verbs``: (name,
    function, short help) each, built with ``command_cls`` and ``epilog``."""
    import typer

    group = typer.Typer(
        cls=group_class(fast), rich_markup_mode=None, no_args_is_help=True, help=help_text,
        context_settings={"max_content_width": 100},
    )  # fmt: skip
    for name, func, short in verbs:
        group.command(name, cls=command_cls, epilog=epilog, short_help=short)(func)
    return group


def keys_verb(operation: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """:func:`with_globals`, and a key a verb reaches through the local provider directly that
    cannot be used (an unreadable key file, say) is an environment failure (exit 253): the library
    raises KeySourceError for an unusable key source itself."""

    def wrap(func: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(func)
        def verb(globals_: Globals, **values: Any) -> None:
            from gitsm.keys import source_error
            from gitsm.providers import KeySourceUnusable, KeyUnavailable

            try:
                func(globals_, **values)
            except KeySourceUnusable as exc:
                raise source_error(exc) from None
            except KeyUnavailable as exc:
                raise EnvironmentFailure(f"A key is unusable: {exc}.") from None

        return with_globals(operation)(verb)

    return wrap


def warn(message: str | None) -> None:
    """Write ``message``, if any, to standard error as a gitsm warning."""
    if message:
        sys.stderr.write(f"gitsm: warning: {message}\n")
