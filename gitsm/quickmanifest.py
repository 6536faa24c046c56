"""The canonical manifest as the quick read takes it (:mod:`gitsm.quickread`).

Only the form gitsm writes (:func:`gitsm.manifest.dump_secret`) is read here, line by line,
with every field checked as :func:`gitsm.manifest.secret_from_doc` checks it; a manifest in any
other form, or one the strict reader would refuse, is a :class:`~gitsm.plaingit.Doubt`, and
the full reader runs. No ``re``, PyYAML or model: this runs in a fresh process.
"""

from __future__ import annotations

try:  # the compiled module: datetime.py runs its whole pure-Python version first (~3 ms)
    from _datetime import datetime, timezone  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - an interpreter without it
    from datetime import datetime, timezone

from gitsm import limits
from gitsm.plaingit import Doubt

ROTATION_TEXTS = {"rotation_lambda_arn": (1, limits.ARN_MAX), "rotation_schedule": (1, 256),
                  "rotation_duration": (2, 3),
                  "rotation_token": (limits.TOKEN_MIN, limits.TOKEN_MAX)}  # fmt: skip


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The double-quoted manifest scalar at ``start`` of ``text`` and where it ends."""
    if text[start : start + 1] != '"':
        raise Doubt("a manifest value is not quoted")
    position = start + 1
    while True:
        end = text.find('"', position)
        if end < 0:
            raise Doubt("a manifest value is not closed")
        backslashes = 0
        while text[end - 1 - backslashes] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            break
        position = end + 1
    raw = text[start + 1 : end]
    if not (raw.isascii() and raw.isprintable()):  # each character within " " .. "~"
        raise Doubt("a manifest value holds a character gitsm escapes")
    if "\\" not in raw:
        return raw, end + 1
    _check_escapes(raw)
    return raw.encode("ascii").decode("unicode_escape"), end + 1


_HEX = frozenset("0123456789abcdef")


def _check_escapes(raw: str) -> None:
    """Doubt unless every escape of ``raw`` is one gitsm writes (``manifestlines.QUOTED``)."""
    at = raw.find("\\")
    while at >= 0:
        code = raw[at + 1 : at + 2]
        if code in ('"', "\\"):
            at += 2
        elif code == "u" and len(digits := raw[at + 2 : at + 6]) == 4 and set(digits) <= _HEX:
            at += 6
        elif (code == "U" and len(digits := raw[at + 2 : at + 10]) == 8 and set(digits) <= _HEX
              and "00010000" <= digits <= "0010ffff"):  # fmt: skip
            at += 10
        else:
            raise Doubt("a manifest value holds an escape gitsm does not write")
        at = raw.find("\\", at)


def _quoted_list(text: str, start: int) -> tuple[list[str], int]:
    if text[start : start + 1] != "[":
        raise Doubt("not a list")
    items: list[str] = []
    position = start + 1
    while text[position : position + 1] != "]":
        if items:
            if text[position : position + 2] != ", ":
                raise Doubt("a list is not in canonical form")
            position += 2
        item, position = _quoted(text, position)
        items.append(item)
    return items, position + 1


def expect(text: str, position: int, word: str) -> int:
    """Where ``word``, expected at ``position`` of ``text``, ends; Doubt when it is not there."""
    if not text.startswith(word, position):
        raise Doubt("a manifest line is not in canonical form")
    return position + len(word)


def _when(text: object) -> datetime:
    """A timestamp as the strict reader takes it: a string with a time zone, in UTC."""
    if type(text) is not str or len(text) > limits.TIMESTAMP_MAX:
        raise Doubt("not a timestamp")
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise Doubt("a timestamp without a time zone")
    return when.astimezone(timezone.utc)  # noqa: UP017  (datetime.UTC: see above)


def _version_line(line: str) -> tuple[str, dict[str, object]]:
    vid, position = _quoted(line, expect(line, 0, "  "))
    created, position = _quoted(line, expect(line, position, ": {created: "))
    position = expect(line, position, ", type: ")
    kind = "string" if line.startswith("string", position) else "binary"
    keys, position = _quoted_list(line, expect(line, position, kind + ", kms_key_ids: "))
    stages, position = _quoted_list(line, expect(line, position, ", stages: "))
    if line[position:] != "}":
        raise Doubt("a version line is not in canonical form")
    if not limits.TOKEN_MIN <= len(vid) <= limits.TOKEN_MAX:
        raise Doubt("a VersionId of the wrong length")
    if len(keys) > limits.KEY_IDS_PER_VERSION or len(stages) > limits.STAGES_PER_VERSION:
        raise Doubt("too many keys or stages")
    if not all(0 < len(k) <= limits.KMS_KEY_ID_MAX for k in keys) or not all(
        0 < len(s) <= limits.STAGE_MAX_LEN for s in stages
    ):
        raise Doubt("a key id or stage of the wrong length")
    return vid, {"created": _when(created).isoformat(), "stages": stages}


def parse_manifest(data: bytes) -> dict[str, object]:
    """The fields of a canonical manifest that GetSecretValue needs, checked as
    :func:`gitsm.manifest.secret_from_doc` checks them; Doubt for anything else."""
    if len(data) > limits.MANIFEST_MAX_BYTES:
        raise Doubt("a manifest over its limit")
    lines = data.decode("ascii").split("\n")
    if len(lines) < 2 or lines[0] != "format: 1" or lines.pop() != "":
        raise Doubt("a manifest not in canonical form")
    doc: dict[str, object] = {"format": 1}
    versions: dict[str, dict[str, object]] = {}
    tags: list[list[str]] = []
    mode = ""
    for line in lines[1:]:
        if line in ("tags:", "versions:"):
            mode = line[:-1]
        elif line == "versions: {}" or (line == "tags: []" and not mode):
            continue
        elif mode == "versions":
            vid, version = _version_line(line)
            versions[vid] = version
        elif mode == "tags" and line.startswith("- key: "):
            key, end = _quoted(line, 7)
            tags.append([key])
            if end != len(line):
                raise Doubt("a tag line is not in canonical form")
        elif mode == "tags" and line.startswith("  value: ") and tags and len(tags[-1]) == 1:
            value, end = _quoted(line, 9)
            tags[-1].append(value)
            if end != len(line):
                raise Doubt("a tag line is not in canonical form")
        elif not mode and line[:1].islower() and ": " in line:
            key, _, rest = line.partition(": ")
            if not key.replace("_", "").isalpha() or not key.isascii() or not key.islower():
                raise Doubt("a manifest key not in canonical form")
            if rest.startswith('"'):
                doc[key], end = _quoted(rest, 0)
                if end != len(rest):
                    raise Doubt("a manifest line is not in canonical form")
            elif rest in ("true", "false"):
                doc[key] = rest == "true"
            elif rest.isdigit() and rest[0] != "0" and len(rest) <= 9 and rest.isascii():
                doc[key] = int(rest)
            else:
                raise Doubt("a manifest line not in canonical form")
        else:
            raise Doubt("a manifest line not in canonical form")
    return _checked(doc, versions, tags)


def _text(doc: dict[str, object], key: str, low: int, high: int) -> str:
    value = doc.get(key)
    if type(value) is not str or not low <= len(value) <= high:
        raise Doubt(f"the manifest's {key} is not a string of its size")
    return value


def _checked(
    doc: dict[str, object], versions: dict[str, dict[str, object]], tags: list[list[str]]
) -> dict[str, object]:
    if doc.get("format") != 1 or type(doc.get("format")) is not int:
        raise Doubt("another manifest format")
    for absent in ("replicas", "resource_policy", "deleted", "deletion_date"):
        if absent in doc:
            raise Doubt(f"a secret with {absent} is left to the full reader")
    if "tags" in doc or "versions" in doc:  # a scalar line: not the list or mapping it must be
        raise Doubt("tags or versions that are not a list or a mapping")
    if len(tags) > limits.TAGS_MAX or not all(
        len(t) == 2 and 0 < len(t[0]) <= limits.TAG_KEY_MAX and len(t[1]) <= limits.TAG_VALUE_MAX
        for t in tags
    ):
        raise Doubt("tags out of shape")
    for key in ("created", "last_changed"):
        _when(doc.get(key))
    if "description" in doc:
        _text(doc, "description", 0, limits.DESCRIPTION_MAX)
    if "kms_key_id" in doc:
        _text(doc, "kms_key_id", 1, limits.KMS_KEY_ID_MAX)
    if any(key.startswith(("rotation_", "last_rotated", "next_rotation")) for key in doc):
        if type(doc.get("rotation_enabled")) is not bool:  # required once rotation was set up
            raise Doubt("rotation_enabled is not true or false")
        days = doc.get("rotation_after_days")
        if days is not None and (type(days) is not int or not 1 <= days <= 1000):
            raise Doubt("rotation_after_days out of range")
        for key, (low, high) in ROTATION_TEXTS.items():
            if key in doc:
                _text(doc, key, low, high)
        for key in ("last_rotated", "next_rotation"):
            if key in doc:
                _when(doc[key])
    return {
        "name": _text(doc, "name", 1, limits.NAME_MAX),
        "arn": _text(doc, "arn", 1, limits.ARN_MAX),
        "versions": versions,
    }
