"""The lines of a canonical manifest: quoting, timestamps, and one version's line each way.

A manifest lists every version of its secret, one line each, and a write reads and writes all of
them. Both directions are memoised per distinct line (:data:`MEMO` lines each way, a few MB at
most): a write then parses and formats in Python only the new version and those whose labels
moved; every other line is one it read or wrote before. A parsed line is checked as
:func:`gitsm.manifest.secret_from_doc` checks a version, so a line that fails a check comes back as
a plain mapping, for that function to name the problem.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

from gitsm import strict
from gitsm.model import (
    KEY_IDS_PER_VERSION,
    KMS_KEY_ID_MAX,
    STAGE_MAX_LEN,
    STAGES_PER_VERSION,
    ValueKind,
    VersionInfo,
)

MEMO = 8192
"""Version lines remembered, each way (a secret holds at most 200 versions)."""


def timestamp(value: datetime) -> str:
    """The canonical text of a timestamp (UTC, microseconds, ``Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_PLAIN = re.compile(r"[ !#-\[\]-~]*")


def quote(text: str) -> str:
    """A YAML double-quoted scalar holding only printable ASCII (other characters escaped)."""
    if _PLAIN.fullmatch(text):
        return f'"{text}"'
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def unquote(token: str) -> str:
    """The text of a double-quoted scalar that :func:`quote` wrote (one :data:`QUOTED` matches:
    its escapes mean the same to Python's ``unicode_escape`` as to YAML)."""
    return token[1:-1].encode("ascii").decode("unicode_escape")


def qlist(items: list[str]) -> str:
    """A flow list of quoted scalars."""
    return "[" + ", ".join(quote(i) for i in items) + "]"


QUOTED = r'"(?:[ !#-\[\]-~]|\\["\\]|\\u[0-9a-f]{4}|\\U00(?:0[1-9a-f]|10)[0-9a-f]{4})*"'
"""A double-quoted scalar as :func:`quote` writes it: printable ASCII, and only the escapes it
writes. Anything else (another escape, where YAML and Python differ: ``\\N``, ``\\e``, octal,
``\\'``, an unknown one YAML refuses; a raw control character) is not the canonical form, and the
manifest is read by the YAML reader instead."""
VERSION_LINE = re.compile(
    rf"  ({QUOTED}): \{{created: ({QUOTED}), type: (string|binary), "
    rf"kms_key_ids: \[((?:{QUOTED}(?:, )?)*)\], stages: \[((?:{QUOTED}(?:, )?)*)\]\}}"
)
ITEM = re.compile(QUOTED)


_P = r"[ !#-\[\]-~]*"  # the plain text of a quoted scalar: printable ASCII but " and \
PLAIN_LINE = re.compile(
    rf'  "({_P})": \{{created: "([1-9][0-9]{{3}}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}:[0-9]{{2}}:'
    rf'[0-9]{{2}}\.[0-9]{{6}}Z)", type: (string|binary), kms_key_ids: \[((?:"{_P}"(?:, "{_P}")*)?)\], '
    rf'stages: \[((?:"{_P}"(?:, "{_P}")*)?)\]\}}'
)
"""A version line exactly as :func:`version_line` writes it when none of its strings needs an
escape (nearly every line): read without unquoting, and remembered as the line those values
give, so an unchanged version is not formatted again when its manifest is written back."""
_Key = tuple[str, datetime, str, tuple[str, ...], tuple[str, ...]]
_LINES: dict[_Key, str] = {}


def _remember(key: _Key, line: str) -> None:
    if len(_LINES) >= MEMO:
        _LINES.clear()
    _LINES[key] = line


def version_line(
    vid: str, created: datetime, kind: str, keys: tuple[str, ...], stages: tuple[str, ...]
) -> str:
    """The manifest line of one version (memoised: a write re-dumps every version of its secret,
    and all but the new one and those whose labels moved are lines it read or wrote before)."""
    key = (vid, created, kind, keys, stages)
    line = _LINES.get(key)
    if line is None:
        line = (
            f"  {quote(vid)}: {{created: {quote(timestamp(created))}, type: {kind}, "
            f"kms_key_ids: {qlist(list(keys))}, stages: {qlist(list(stages))}}}"
        )
        _remember(key, line)
    return line


class Checked(NamedTuple):
    """A version line of the canonical form, parsed and checked as :func:`secret_from_doc` checks
    a version (memoised per line by :func:`version_entry`)."""

    created: datetime
    kind: ValueKind
    keys: tuple[str, ...]
    stages: tuple[str, ...]
    created_text: str

    def info(self, vid: str) -> VersionInfo:
        """A new VersionInfo (its lists are its own)."""
        return VersionInfo(vid, self.created, self.kind, list(self.keys), list(self.stages))

    def mapping(self) -> dict[str, Any]:
        """The version as YAML reads the line."""
        return {"created": self.created_text, "type": self.kind,
                "kms_key_ids": list(self.keys), "stages": list(self.stages)}  # fmt: skip


@functools.lru_cache(maxsize=MEMO)
def version_entry(line: str) -> tuple[str, Checked | dict[str, Any]] | None:
    """(VersionId, the version) of a canonical version line, None when it is not one; the version
    is a plain mapping when a check fails, for :func:`secret_from_doc` to name the problem."""
    m = PLAIN_LINE.fullmatch(line)
    plain = m is not None
    if m is not None:  # no escapes: every scalar is its text between the quotes
        vid, created = m[1], m[2]
        keys_list = m[4][1:-1].split('", "') if m[4] else []
        stages_list = m[5][1:-1].split('", "') if m[5] else []
    else:
        m = VERSION_LINE.fullmatch(line)
        if m is None:
            return None
        vid, created = unquote(m[1]), unquote(m[2])
        keys_list = [unquote(i) for i in ITEM.findall(m[4])]
        stages_list = [unquote(i) for i in ITEM.findall(m[5])]
    entry: dict[str, Any] = {
        "created": created, "type": m[3], "kms_key_ids": keys_list, "stages": stages_list,
    }  # fmt: skip
    info = quick_version("", entry)
    if info is None:
        return vid, entry
    keys, stages = tuple(info.kms_key_ids), tuple(info.stages)
    checked = Checked(info.created, info.kind, keys, stages, created)
    if plain:  # the very line version_line gives for these values
        _remember((vid, info.created, info.kind, keys, stages), line)
    return vid, checked


def quick_version(vid: str, entry: object) -> VersionInfo | None:
    """The version a well-formed manifest entry describes, checked as :func:`gitsm.manifest.secret_from_doc`
    checks it but without naming problems (None: let the full check name them). A write reads
    every version of its secret, so this keeps the cost per version small."""
    if type(entry) is not dict:
        return None
    created, kind = entry.get("created"), entry.get("type")
    keys, stages = entry.get("kms_key_ids", []), entry.get("stages", [])
    if not (
        type(created) is str and len(created) <= strict.TIMESTAMP_MAX
        and kind in ("string", "binary")
        and type(keys) is list and len(keys) <= KEY_IDS_PER_VERSION
        and type(stages) is list and len(stages) <= STAGES_PER_VERSION
        and all(type(k) is str and 0 < len(k) <= KMS_KEY_ID_MAX for k in keys)
        and all(type(t) is str and 0 < len(t) <= STAGE_MAX_LEN for t in stages)
    ):  # fmt: skip
        return None
    when = strict.aware_utc(created)
    if when is None:
        return None
    return VersionInfo(vid, when, cast(ValueKind, kind), list(keys), list(stages))
