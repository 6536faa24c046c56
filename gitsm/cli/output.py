"""Printing responses like aws CLI v2: ``--output json|yaml|text|table`` after ``--query``.

A response is first made plain data (timestamps as ISO 8601 with the UTC offset, e.g.
``2026-11-28T07:04:33.731000+00:00``; blobs as base64; ``ResponseMetadata`` dropped), then the
JMESPath ``--query`` is applied (:mod:`gitsm.cli.query`: checked before the command runs, and its
failures never quote the data), then it is formatted. An empty response prints nothing.

:func:`emit` prints; given a :class:`~gitsm.cli.errors.Landed` (the command wrote), a failure to
show the output becomes the warning of :class:`~gitsm.cli.errors.WriteLanded` and exit 0.
"""

from __future__ import annotations

import base64
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gitsm.cli.errors import (
    CliError,
    Landed,
    UsageFailure,
    WriteLanded,
    show_notes,
    silence_stdout,
)
from gitsm.cli.query import QueryFailure, compile_query, search

if TYPE_CHECKING:
    from gitsm.cli.context import Globals

FORMATS = ("json", "yaml", "text", "table")

__all__ = ["FORMATS", "QueryFailure", "check_format", "compile_query", "emit", "plain", "render"]


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: ISO 8601 timestamps, base64 blobs, no ResponseMetadata."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def check_format(output: str) -> str:
    """The output format, or a usage error listing the valid ones."""
    if output not in FORMATS:
        raise UsageFailure(
            f"argument --output: Invalid choice, valid choices are:\n\n{' | '.join(FORMATS)}"
        )
    return output


def render(data: Any, *, output: str, query: Any, title: str) -> str:
    """The text to print for ``data`` (``title`` heads tables: the operation's name)."""
    data = plain(data)
    if query is not None:
        data = search(query, data)
    if data == {}:
        return ""
    if output == "text":
        lines: list[str] = []
        _text(data, lines)
        return "".join(line + "\n" for line in lines)
    if output == "yaml":
        import yaml

        dumped: str = yaml.safe_dump(
            data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=2**31
        )
        return dumped
    if output == "table":
        from gitsm.cli.table import render_table

        return render_table(title, data)
    return json.dumps(data, indent=4, ensure_ascii=False) + "\n"


def emit(data: Any, globals_: Globals, title: str, *, landed: Landed | None = None) -> None:
    """Print ``data`` with ``--output``/``--query`` (JSON by default) and flush it.

    ``landed`` says what the command wrote: then any failure to show the output (a ``--query``
    that fails on it, a closed pipe, an encoding error) becomes :class:`WriteLanded` (a warning,
    exit 0), since the write stands. Without it, the failure is the command's (exit 255).
    """
    fmt = check_format(globals_.output or "json")
    query = compile_query(globals_.query)
    try:
        _write(render(data, output=fmt, query=query, title=title))
    except Exception as exc:
        if landed is None:
            raise
        reason = _reason(exc)
    else:
        show_notes(landed=landed)  # a write that landed while its checkout could not follow
        return
    raise WriteLanded(landed, reason)  # outside the except: no chained error to show


def _write(text: str) -> None:
    """Write ``text`` to standard output, flushed; an encoding error names no character."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except UnicodeEncodeError as exc:
        encoding = exc.encoding
    else:
        return
    raise CliError(
        f"standard output's encoding ({encoding}) cannot show some characters of this output; "
        "set PYTHONIOENCODING=utf-8 (or use a UTF-8 locale) to see them"
    )


def _reason(exc: BaseException) -> str:
    """Why the output could not be shown, in words that hold no data."""
    if isinstance(exc, CliError):
        return exc.message
    if isinstance(exc, BrokenPipeError):
        silence_stdout()
        return "standard output was closed (broken pipe)"
    if isinstance(exc, OSError):
        return f"writing standard output failed ({type(exc).__name__}: {exc.strerror})"
    return f"formatting it failed ({type(exc).__name__})"


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _text(
    item: Any, lines: list[str], ident: str | None = None, keys: list[str] | None = None
) -> None:
    """aws CLI's text format: scalars tab-separated, nested values on lines named by their key."""
    if isinstance(item, dict):
        if keys is None:
            scalars = [str(v) for _, v in sorted(item.items()) if _scalar(v)]
            rest = [(k, v) for k, v in sorted(item.items()) if not _scalar(v)]
        else:
            scalars = [str(item.get(k, "")) for k in keys]
            rest = [(k, item[k]) for k in sorted(set(item) - set(keys))]
        if scalars:
            lines.append("\t".join(([ident.upper()] if ident is not None else []) + scalars))
        for key, value in rest:
            _text(value, lines, key)
    elif isinstance(item, list):
        if any(isinstance(e, dict) for e in item):
            all_keys = sorted(
                {k for e in item if isinstance(e, dict) for k, v in e.items() if _scalar(v)}
            )
            for element in item:
                _text(element, lines, ident, all_keys)
        elif any(isinstance(e, list) for e in item):
            scalars = [e for e in item if _scalar(e)]
            if scalars:
                _scalar_list(scalars, lines, ident)
            for element in item:
                if not _scalar(element):
                    _text(element, lines, ident)
        elif item:
            _scalar_list(item, lines, ident)
    else:
        lines.append(str(item))


def _scalar_list(items: list[Any], lines: list[str], ident: str | None) -> None:
    if ident is not None:
        lines += [f"{ident.upper()}\t{e}" for e in items]
    else:
        lines.append("\t".join(str(e) for e in items))
