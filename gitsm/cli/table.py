"""``--output table``: the aws CLI's boxed tables.

The layout follows the aws CLI: a titled section per structure, a header row of the scalar keys
(sorted) and one row of values, nested sections (indented with ``|``) for lists and structures, and
single-row sections turned into key/value rows when the table would be wider than the terminal.
"""

from __future__ import annotations

import shutil
import unicodedata
from dataclasses import dataclass, field
from typing import Any


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WFA" else 1 for c in text)


@dataclass
class _Section:
    title: str
    indent: int = 0
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)

    def natural(self) -> list[int]:
        cols = [self.headers] if self.headers else []
        cols += self.rows
        if not cols:
            return []
        return [max(_width(r[i]) for r in cols if i < len(r)) for i in range(len(cols[0]))]

    def total(self) -> int:
        columns = sum(w + 4 for w in self.natural()) + 2 if self.rows or self.headers else 0
        return max(_width(self.title) + 2, columns) + 2 * self.indent

    def scaled(self, inner: int) -> list[int]:
        widths = [w + 4 for w in self.natural()]
        scaled = [round(inner / sum(widths) * w) for w in widths]
        order = list(range(len(scaled)))
        while (off := sum(scaled) - inner) != 0:
            for i in order if off > 0 else reversed(order):
                scaled[i] += -1 if off > 0 else 1
                off += 1 if off < 0 else -1
                if off == 0:
                    break
        return scaled


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


class _Builder:
    def __init__(self) -> None:
        self.sections: list[_Section] = []

    def build(self, title: str | None, value: Any, indent: int = 0) -> None:
        if not value:
            return
        if title is not None or not self.sections:
            self.sections.append(_Section(title or "", indent))
        current = self.sections[-1]
        if isinstance(value, list):
            if isinstance(value[0], dict):
                self._from_list(value, indent, title or "")
            else:
                for item in value:
                    if _scalar(item):
                        current.rows.append([str(item)])
                    elif isinstance(item, list) and all(_scalar(x) for x in item):
                        current.rows.append([str(x) for x in item])
                    else:
                        self.build(None, item, indent)
        elif isinstance(value, dict):
            headers = sorted(k for k, v in value.items() if _scalar(v))
            more = sorted(k for k, v in value.items() if not _scalar(v))
            if len(headers) == 1:
                current.rows.append([headers[0], str(value[headers[0]])])
            elif headers:
                current.headers = headers
                current.rows.append([str(value[k]) for k in headers])
            for key in more:
                self.build(key, value[key], indent + 1)
        else:
            current.rows.append([str(value)])

    def _from_list(self, items: list[Any], indent: int, title: str) -> None:
        pairs = [(k, v) for i in items if isinstance(i, dict) for k, v in i.items()]
        headers = sorted({k for k, v in pairs if _scalar(v)})
        more = sorted({k for k, v in pairs if not _scalar(v)})
        self.sections[-1].headers = headers
        for n, item in enumerate(items):
            if n and more:
                self.sections.append(_Section(title, indent, headers))
            row = item if isinstance(item, dict) else {}
            self.sections[-1].rows.append([str(row.get(h, "")) for h in headers])
            for key in more:
                if key in row:
                    self.build(key, row[key], indent + 1)


def _line(widths: list[int]) -> str:
    return "+" + "-" * (widths[0] - 2) + "+" + "".join("-" * (w - 1) + "+" for w in widths[1:])


def _center(text: str, length: int, left: str) -> str:
    head = left + " " * (length // 2 - _width(text) // 2 - 1) + text
    return head + " " * (length - 1 - _width(head)) + "|"


def _align(text: str, length: int, left: str) -> str:
    pad = 2 if length - (_width(text) + 3 + len(left)) >= 0 else 0
    head = left + " " * pad + text
    return head + " " * (length - 1 - _width(head)) + "|"


def _cells(widths: list[int], texts: list[str], center: bool) -> str:
    cell = _center if center else _align
    return "".join(
        cell(t, w, "" if n else "|") for n, (w, t) in enumerate(zip(widths, texts, strict=True))
    )


def render_table(title: str, data: Any, terminal_width: int | None = None) -> str:
    """The table for ``data`` (the response after ``--query``) under ``title``."""
    builder = _Builder()
    builder.build(title, data)
    sections = builder.sections
    if not sections:
        return ""
    width = terminal_width or shutil.get_terminal_size((80, 24)).columns
    total = max(s.total() for s in sections)
    if total > width:
        for n, s in enumerate(sections):
            if len(s.rows) == 1 and s.headers:
                pairs = [[h, v] for h, v in zip(s.headers, s.rows[0], strict=True)]
                sections[n] = _Section(s.title, s.indent, [], pairs)
        total = max(s.total() for s in sections)
    lines = ["-" * total]
    for s in sections:
        inner = total - 2 * s.indent
        body: list[str] = []
        if s.title:
            body.append(_center(s.title, inner, "|"))
            if not s.headers and not s.rows:
                body.append("+" + "-" * (inner - 2) + "+")
        if s.rows or s.headers:
            widths = s.scaled(inner)
            if s.headers:
                body += [_line(widths), _cells(widths, s.headers, center=True)]
            if s.rows:
                body.append(_line(widths))
                body += [_cells(widths, row, center=False) for row in s.rows]
                body.append(_line(widths))
        lines += ["|" * s.indent + b + "|" * s.indent for b in body]
    return "\n".join(lines) + "\n"
