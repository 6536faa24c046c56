"""A spec file in its plain block form, read without PyYAML.

PyYAML (even its C loader, whose objects are still built in Python) takes about 30 ms to read a
spec of 1,000 entries: a tenth of a CI job's materialize through the agent. Most specs are written
in one plain form: top-level ``key: value`` lines, a ``kubernetes:`` mapping and a ``secrets:``
list of ``- key: value`` entries, every value a plain word, a simply quoted string or a small
integer, with whole-line comments and blank lines. :func:`fast_doc` reads exactly that form and
returns what YAML returns for it; for anything else (flow style, anchors, tags, a value or key YAML
would read as a boolean, null, float, date or octal number, a duplicate key, a tab, trailing
spaces, an inline comment, another indentation) it returns None and the caller reads the file
with PyYAML, which then also names any problem. ``tests/test_specfast.py`` compares the two.
"""

from __future__ import annotations

import re
from typing import Any

_WORD = r"[A-Za-z_/][A-Za-z0-9/_+=.@*-]*"
"""A plain scalar YAML reads as this very text: nothing YAML gives a meaning to at its start
(an indicator, a digit, sign or dot that could start a number or date) and no space, colon or
``#`` in it."""
_NOT_TEXT = frozenset({
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
    "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL",
})  # fmt: skip
"""Plain words YAML (1.1, as PyYAML reads it) takes for booleans and null."""
_SCALAR = rf"({_WORD})|\"([ !#-\[\]-~]*)\"|'([ -&(-~]*)'|(0|[1-9][0-9]{{0,8}})"
_LINE = re.compile(rf"( *)(- )?([a-z_]+):(?: (?:{_SCALAR}))?")
"""A line of the plain form: its indentation, the entry's dash, the key and, if there is one, the
value: a plain word, the text of a double- or single-quoted string without escapes, or a small
integer (groups 4 to 7). A value of any other kind makes the whole line not match."""
_NO_VALUE = 3
_INTEGER = 7
_CONTROL = re.compile(r"[^\n -~]")


class _Reader:
    """The document so far, and the block (the entries list or the kubernetes mapping) that the
    indented lines go into."""

    def __init__(self) -> None:
        self.doc: dict[str, Any] = {}
        self.block: dict[str, Any] | list[dict[str, Any]] | None = None
        self.indent = -1  # the column of the block's keys (of its entries' keys, for a list)

    def top(self, key: str, value: str | int | None) -> bool:
        if key in self.doc:
            return False
        if value is None:  # a block follows: the entries, or the kubernetes mapping
            self.block = [] if key == "secrets" else {}
            self.doc[key], self.indent = self.block, -1
            return True
        self.doc[key], self.block = value, None
        return True

    def nested(self, indent: int, dash: bool, key: str, value: str | int) -> bool:
        block = self.block
        if block is None:
            return False
        if isinstance(block, list):
            if dash:
                if block and indent + 2 != self.indent:
                    return False
                block.append({key: value})
                self.indent = indent + 2
                return True
            if not block or indent != self.indent or key in block[-1]:
                return False
            block[-1][key] = value
            return True
        if dash or indent == 0 or key in block or (block and indent != self.indent):
            return False
        block[key], self.indent = value, indent
        return True


def fast_doc(data: bytes) -> dict[str, Any] | None:
    """What YAML reads from ``data`` when it is a spec in the plain block form; None otherwise."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    if _CONTROL.search(text):
        return None
    reader, match = _Reader(), _LINE.fullmatch
    for line in text.split("\n"):
        m = match(line)
        if m is None:
            stripped = line.lstrip(" ")
            if not stripped or stripped[0] == "#":  # a blank line or a whole-line comment
                continue
            return None
        indent, dash, key, last = m[1], m[2], m[3], m.lastindex or _NO_VALUE
        if key in _NOT_TEXT:
            return None
        value: str | int | None = None
        if last != _NO_VALUE:  # the group that matched the value
            value = int(m[last]) if last == _INTEGER else m[last]
            if last == _NO_VALUE + 1 and value in _NOT_TEXT:
                return None
        if not indent and dash is None:
            ok = reader.top(key, value)
        else:
            ok = value is not None and reader.nested(len(indent), dash is not None, key, value)
        if not ok:
            return None
    if not reader.doc or any(v == [] or v == {} for v in reader.doc.values()):
        return None  # YAML reads an empty document or block as null: let it
    return reader.doc
