"""The aws CLI's shorthand syntax for structure values: ``Key=name,Values=a,b``.

A structure is ``key=value`` pairs joined by commas. A value is a word (``\\`` escapes the next
character), a quoted string (``'...'`` or ``"..."``), an explicit list ``[a,b]``, a nested structure
``{k=v,...}``, or a bare list ``a,b`` that runs until the next ``key=``. Whitespace around keys and
values is dropped. The result is plain data; :func:`gitsm.cli.params.coerce` fits it to a shape.
"""

from __future__ import annotations

import re
from typing import Any

_KEY_AHEAD = re.compile(r"\s*[A-Za-z0-9_\-.:]+\s*=")


class ShorthandError(ValueError):
    """The text is not valid shorthand; the message says where, never what the value was."""


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip_space(self) -> None:
        while self._peek().isspace():
            self.pos += 1

    def _expect(self, char: str) -> None:
        self._skip_space()
        if self._peek() != char:
            found = repr(self._peek()) if self._peek() else "end of input"
            raise ShorthandError(f"expected {char!r} at character {self.pos + 1}, found {found}")
        self.pos += 1

    def structure(self, closing: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        while True:
            self._skip_space()
            start = self.pos
            while self._peek() and self._peek() not in "=,{}[]":
                self.pos += 1
            key = self.text[start : self.pos].strip()
            if not key:
                raise ShorthandError(f"expected a key at character {start + 1}")
            self._expect("=")
            out[key] = self._value(closing)
            self._skip_space()
            if self._peek() == ",":
                self.pos += 1
                continue
            if self._peek() == closing:
                return out
            raise ShorthandError(f"unexpected {self._peek()!r} at character {self.pos + 1}")

    def _value(self, closing: str) -> Any:
        self._skip_space()
        char = self._peek()
        if char == "[":
            self.pos += 1
            items: list[Any] = []
            self._skip_space()
            if self._peek() == "]":
                self.pos += 1
                return items
            while True:
                items.append(self._value("]") if self._peek() in "[{" else self._word("],"))
                self._skip_space()
                if self._peek() == ",":
                    self.pos += 1
                    continue
                self._expect("]")
                return items
        if char == "{":
            self.pos += 1
            nested = self.structure("}")
            self._expect("}")
            return nested
        values = [self._word("," + closing)]
        while self._peek() == "," and not _KEY_AHEAD.match(self.text, self.pos + 1):
            self.pos += 1
            values.append(self._word("," + closing))
        return values[0] if len(values) == 1 else values

    def _word(self, stops: str) -> str:
        self._skip_space()
        quote = self._peek()
        if quote in ("'", '"'):
            end = self.text.find(quote, self.pos + 1)
            if end < 0:
                raise ShorthandError(f"unterminated quote starting at character {self.pos + 1}")
            word = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return word
        chars: list[str] = []
        while self._peek() and self._peek() not in stops:
            if self._peek() == "\\" and self.pos + 1 < len(self.text):
                self.pos += 1
            chars.append(self._peek())
            self.pos += 1
        return "".join(chars).strip()


def parse(text: str) -> dict[str, Any]:
    """Parse one shorthand structure (``Key=k,Value=v``) into a dict of strings and lists."""
    parser = _Parser(text)
    out = parser.structure()
    if parser.pos != len(text):
        raise ShorthandError(f"unexpected text at character {parser.pos + 1}")
    return out
