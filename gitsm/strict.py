"""Strict, bounded reading of the YAML store files: manifests and ``.gitsm/config.yaml``.

A file in a tree may come from anyone with push access, and ``gitsm verify`` runs in the server's
pre-receive hook, so reading one must cost time and memory in proportion to its bytes, no more:

* its size is checked first, against the limits of :mod:`gitsm.model` (:func:`file_limit`);
* PyYAML's event stream is scanned, and the file is refused at the first anchor, alias or tag
  (and at more than :data:`MAX_NODES` values, an unquoted value longer than :data:`PLAIN_MAX`,
  nesting deeper than :data:`MAX_DEPTH`, or a second document) before anything is built from it:
  an alias bomb costs what its bytes cost to scan, and a load costs at most about 0.1 s;
* only then is it loaded (PyYAML's safe loader, the C one where available), and every field is
  checked for type and size (:class:`Fields`) before gitsm uses it.

Every refusal is a :class:`~gitsm.errors.MalformedStoreFile` carrying ``path``, ``problem`` and
``fix``, which ``gitsm verify`` prints as one line and reads turn into an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, NoReturn

from gitsm.errors import LimitExceededException, MalformedStoreFile
from gitsm.limits import TIMESTAMP_MAX as TIMESTAMP_MAX
from gitsm.model import CONFIG_MAX_BYTES, ENVELOPE_MAX_BYTES, MANIFEST_MAX_BYTES
from gitsm.paths import CONFIG_PATH, classify
from gitsm.problems import RESTORE


def _loader() -> Any:
    """PyYAML's safe loader, the C one where libyaml is built in (PyYAML loads on first use)."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


MAX_DEPTH = 8
"""Deepest nesting of mappings and lists in a store file (gitsm writes at most 4 levels)."""
PLAIN_MAX = 4_096
"""Longest unquoted scalar: PyYAML turns one that looks like a number into one (a base-60 number
of 256 KiB took 3 s); a 2,048-character description or key id fits unquoted."""
MAX_NODES = 20_000
"""Most YAML values (mappings, lists and scalars) in a file read through PyYAML: building each
costs about 6 us, so this bounds a load to about 0.1 s. A canonical manifest, read by its own line
parser, has no such limit; in other YAML a version takes about 12 values (some 1,600 versions),
a recipient of the config 5."""
NO_REFERENCES_FIX = "write it without anchors, aliases or tags, as gitsm does, or " + RESTORE
REWRITE_FIX = "write it as gitsm does (gitsm verify lists what differs), or " + RESTORE


def refuse(path: str, problem: str, fix: str = RESTORE) -> NoReturn:
    """Raise the MalformedStoreFile of ``path``."""
    raise MalformedStoreFile(path, problem, fix)


def short(text: object, size: int = 40) -> str:
    """``text`` quoted for a message: printable ASCII, at most about ``size`` characters."""
    shown = ascii(str(text))[1:-1]
    return repr(shown if len(shown) <= size else shown[:size] + "...")


def file_limit(path: str) -> tuple[str, int] | None:
    """(what the file is, its byte limit) for a store file at ``path``; None for other paths."""
    if path == CONFIG_PATH:
        return "the store config", CONFIG_MAX_BYTES
    found = classify(path)
    if found is None:
        return None
    if found[0] == "manifest":
        return "a manifest", MANIFEST_MAX_BYTES
    return "an envelope", ENVELOPE_MAX_BYTES


def check_write(files: Mapping[str, bytes | None]) -> None:
    """Refuse a write (LimitExceededException) that would make a store file over its limit, which
    every reader would then refuse."""
    for path, data in files.items():
        limit = file_limit(path)
        if data is not None and limit is not None and len(data) > limit[1]:
            hint = (
                " A secret keeps every labeled version and every version younger than "
                "retention.min_version_age_hours (.gitsm/config.yaml): remove labels from old "
                "versions, or wait until they may be pruned."
                if limit[0] == "a manifest"
                else ""
            )
            raise LimitExceededException(
                f"This write would make {path} {len(data):,} bytes, over the limit of "
                f"{limit[0]} ({limit[1]:,} bytes). Nothing was written.{hint}"
            )


def size_problem(size: int, what: str, limit: int) -> str | None:
    """The problem of a file of ``size`` bytes that is ``what`` (limited to ``limit`` bytes)."""
    if size <= limit:
        return None
    return f"is {size:,} bytes, over the limit of {what} ({limit:,} bytes)"


def check_size(data: bytes, path: str, what: str, limit: int) -> None:
    """Refuse ``data`` when it is longer than ``limit`` bytes."""
    problem = size_problem(len(data), what, limit)
    if problem is not None:
        refuse(path, problem)


def _scan(data: bytes, path: str) -> None:
    """Refuse anchors, aliases, tags, too many values, long unquoted values, deep nesting and extra
    documents, from the events alone (stopping at the first)."""
    import yaml

    depth = documents = nodes = 0
    for event in yaml.parse(data, Loader=_loader()):
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_NODES:
                refuse(path, f"holds more than {MAX_NODES:,} YAML values (mappings, lists and "
                       "scalars); gitsm writes a manifest in its canonical form, which has no such "
                       "limit", REWRITE_FIX)  # fmt: skip
            if isinstance(event, yaml.AliasEvent):
                refuse(path, f"uses a YAML alias (*{short(event.anchor)[1:-1]}); gitsm reads no "
                       "anchors, aliases or tags", NO_REFERENCES_FIX)  # fmt: skip
            if event.anchor is not None:
                refuse(path, f"uses a YAML anchor (&{short(event.anchor)[1:-1]}); gitsm reads no "
                       "anchors, aliases or tags", NO_REFERENCES_FIX)  # fmt: skip
            tag = getattr(event, "tag", None)
            if tag is not None:
                refuse(path, f"uses a YAML tag ({short(tag)[1:-1]}); gitsm reads no anchors, "
                       "aliases or tags", NO_REFERENCES_FIX)  # fmt: skip
            if (
                isinstance(event, yaml.ScalarEvent)
                and event.implicit[0]  # unquoted
                and len(event.value) > PLAIN_MAX
            ):
                refuse(path, f"holds an unquoted value of {len(event.value):,} characters, "
                           f"over the limit of {PLAIN_MAX:,}", "quote it, as gitsm does, or "
                           + RESTORE)  # fmt: skip
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    refuse(path, f"nests mappings and lists deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                refuse(path, "holds more than one YAML document")


def load_yaml(data: bytes, path: str, what: str, limit: int) -> dict[Any, Any]:
    """Parse ``data`` (``what``, read from ``path``) as a YAML mapping, strictly (module docstring).

    Raises MalformedStoreFile when it is too long, uses an anchor, alias or tag, is not valid YAML,
    or is not a mapping.
    """
    check_size(data, path, what, limit)
    import yaml

    try:
        _scan(data, path)
        doc = yaml.load(data, Loader=_loader())
    except yaml.YAMLError as exc:
        first = (str(exc).splitlines() or ["syntax error"])[0]
        refuse(path, f"is not valid YAML ({first[:120]})")
    except (ValueError, OverflowError, RecursionError):
        refuse(
            path, "holds a value YAML cannot read (a number too long, a date that does not exist)"
        )
    if not isinstance(doc, dict):
        refuse(path, "is not a YAML mapping")
    return doc


def format_problem(fmt: object, current: int) -> tuple[str, str] | None:
    """A (problem, fix) when ``fmt`` is not the format number ``current`` that this gitsm reads."""
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        return "has no format number", RESTORE
    if fmt > current:
        return f"uses store format {fmt}, newer than this gitsm reads ({current})", "upgrade gitsm"
    return (f"has unknown format {fmt}", RESTORE) if fmt != current else None


def aware_utc(text: str) -> datetime | None:
    """An ISO 8601 timestamp with a time zone, in UTC; None when ``text`` is not one."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return None if when.tzinfo is None else when.astimezone(UTC)


def describe(value: object) -> str:
    """What a parsed value is, in the words of YAML and JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, datetime):
        return "a timestamp"
    if isinstance(value, date):
        return "a date without a time"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a " + type(value).__name__


class Fields:
    """Checked access to one parsed mapping of a store file: each getter returns a value of the
    type and size asked for, or raises MalformedStoreFile naming the field (``where`` + key)."""

    def __init__(self, doc: object, path: str, where: str | Callable[[], str]) -> None:
        self.path, self._where = path, where  # a callable is called only to name a problem
        if not isinstance(doc, dict):
            refuse(path, f"is malformed: {self.where} is {describe(doc)}, not a mapping")
        self.doc: Mapping[Any, Any] = doc

    @property
    def where(self) -> str:
        """How this mapping is named in messages ("" for the file's top level)."""
        return self._where if isinstance(self._where, str) else self._where()

    def name(self, key: str) -> str:
        """How the field ``key`` is named in messages."""
        where = self.where
        return f"{where}.{key}" if where else key

    def fail(self, key: str, problem: str) -> NoReturn:
        """Refuse the file for a problem of the field ``key``."""
        refuse(self.path, f"is malformed: {self.name(key)} {problem}")

    def get(self, key: str, optional: bool) -> Any:
        """The raw value of ``key``; None when it is absent or null and ``optional``."""
        value = self.doc.get(key)
        if value is None and not optional:
            self.fail(key, "is missing")
        return value

    def text(self, key: str, high: int, *, low: int = 1, optional: bool = False) -> str | None:
        """A string of ``low`` to ``high`` characters."""
        value = self.doc.get(key)
        if type(value) is str and low <= len(value) <= high:  # the common case, checked at once
            return value
        return self.check_text(key, self.get(key, optional), high, low)

    def check_text(self, key: str, value: object, high: int, low: int = 1) -> str | None:
        """``value`` (the field ``key``) checked as a string of ``low`` to ``high`` characters."""
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(key, f"is {describe(value)}, not a string")
        if len(value) > high:
            self.fail(key, f"is {len(value):,} characters long, over the limit of {high:,}")
        if len(value) < low:
            self.fail(key, "is empty" if low == 1 else f"is shorter than {low} characters")
        return value

    def timestamp(self, key: str, *, optional: bool = False) -> datetime | None:
        """A timestamp with a time zone (a string in ISO 8601, or a YAML timestamp)."""
        value = self.get(key, optional)
        if value is None or isinstance(value, datetime):
            return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
        if type(value) is not str or len(value) > TIMESTAMP_MAX:
            self.check_text(key, value, TIMESTAMP_MAX)  # refuses it, naming its type or length
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(key, f"is not a timestamp ({short(value)})")
        if parsed.tzinfo is None:
            self.fail(key, f"is a timestamp without a time zone ({short(value)})")
        return parsed.astimezone(UTC)

    def number(self, key: str, low: float, high: float, *, integer: bool) -> float | int | None:
        """An optional number (an integer when ``integer``) between ``low`` and ``high``."""
        value = self.get(key, True)
        if value is None:
            return None
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            self.fail(key, f"is {describe(value)}, not {'an integer' if integer else 'a number'}")
        if not low <= value <= high:
            self.fail(key, f"is {value!r}, outside {low:g} to {high:g}")
        return value

    def mapping(self, key: str) -> dict[Any, Any]:
        """An optional mapping (absent or null gives an empty one)."""
        value = self.get(key, True)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(key, f"is {describe(value)}, not a mapping")
        return value

    def items(self, key: str, high: int) -> list[Any]:
        """An optional list of at most ``high`` items (absent or null gives an empty one)."""
        value = self.get(key, True)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(key, f"is {describe(value)}, not a list")
        if len(value) > high:
            self.fail(key, f"has {len(value):,} entries, over the limit of {high:,}")
        return value

    def texts(self, key: str, high: int, length: int) -> list[str]:
        """An optional list of at most ``high`` strings, each of 1 to ``length`` characters."""
        items = self.items(key, high)
        if all(type(item) is str and 0 < len(item) <= length for item in items):
            return list(items)  # the common case, checked at once
        out: list[str] = []
        for i, item in enumerate(items):
            text = self.check_text(f"{key}[{i}]", item, length)
            if text is None:
                self.fail(f"{key}[{i}]", "is null, not a string")
            out.append(text)
        return out


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_./:@+=-]*|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}")
_YAML_WORDS = {"yes", "no", "true", "false", "on", "off", "null"}  # what PyYAML would not keep
_QUOTED = re.compile(r"'(?:[ -&(-~]|'')*'")
_INT = re.compile(r"0|[1-9][0-9]{0,17}")
_NOT_OCTAL = re.compile(r"0[0-9]*[89][0-9]*")  # an account id like 093...: text to YAML 1.1
_FLOAT = re.compile(r"[0-9]{1,18}\.[0-9]{1,18}")
_FIELD = re.compile(r"([a-z_]{1,64}): (.+)")
_KEY_MAX = 1_000
"""PyYAML writes a longer mapping key in another form ("? key"), which the fast reader leaves to
PyYAML."""


def _scalar(token: str) -> object:
    """A scalar as PyYAML reads it, for the few forms its dumper writes in a config (a plain word
    that stays a string (a local key's UUID too), a single-quoted string, an integer, a decimal); None for anything else."""
    if _WORD.fullmatch(token) and token.lower() not in _YAML_WORDS and token[-1] != ":":
        return token if len(token) <= PLAIN_MAX else None
    if _QUOTED.fullmatch(token):
        return token[1:-1].replace("''", "'")
    if _NOT_OCTAL.fullmatch(token):
        return token
    if _INT.fullmatch(token):
        return int(token)
    return float(token) if _FLOAT.fullmatch(token) else None


def canonical_config(data: bytes) -> dict[str, Any] | None:
    """The config file as PyYAML would read it, when it is in the form gitsm writes for a store
    without rotation functions (scalars, the key registry, retention); None for anything else,
    which :func:`load_yaml` then reads. A read of the store then needs no PyYAML."""
    try:
        lines = data.decode("ascii").split("\n")
    except UnicodeDecodeError:
        return None
    if lines.pop() != "":
        return None
    doc: dict[str, Any] = {}
    block: dict[str, Any] | None = None  # keys or retention, while their lines last
    entries: list[dict[str, Any]] | None = None  # the recipients of the alias being read
    in_retention = False
    opened: list[object] = []  # every block and alias: an empty one is null to PyYAML
    for line in lines:
        field = _FIELD.fullmatch(line)
        if field and field[1] not in doc and (value := _scalar(field[2])) is not None:
            doc[field[1]], block, entries = value, None, None
        elif line in ("keys:", "retention:", "keys: {}") and line.split(":")[0] not in doc:
            new: dict[str, Any] = {}
            doc[line.split(":")[0]] = new
            block, entries = (new if line[-1] == ":" else None), None
            in_retention = line[0] == "r"
            opened.append(block if block is not None else [None])
        elif block is not None and in_retention:
            indented = line[:2] == "  " and line[2:3] != " "
            inner = _FIELD.fullmatch(line[2:]) if indented else None
            value = _scalar(inner[2]) if inner else None
            if inner is None or inner[1] in block or not isinstance(value, int | float):
                return None
            block[inner[1]] = value
        elif block is not None and line[:2] == "  " and line[2:3] not in " -" and line[-1] == ":":
            alias = _scalar(line[2:-1])
            if not isinstance(alias, str) or alias in block or len(line) > _KEY_MAX:
                return None
            entries = block[alias] = []
            opened.append(entries)
        elif entries is not None and line[:4] in ("  - ", "    ") and (item := _item(line[4:])):
            if line[2] == "-":
                entries.append({})
            elif not entries or item[0] in entries[-1]:
                return None
            entries[-1][item[0]] = item[1]
        else:
            return None
    return doc if doc and all(opened) else None


def _item(text: str) -> tuple[str, str] | None:
    """One ``field: text`` line of a recipient, or None."""
    field = _FIELD.fullmatch(text)
    value = _scalar(field[2]) if field else None
    return (field[1], value) if field and isinstance(value, str) else None
