"""What to materialize: the spec file (docs/MATERIALIZE.md) and the equivalent flags.

An :class:`Entry` names one secret version (SecretId, VersionStage and/or VersionId), optionally one
key of its JSON SecretString, and where the value goes: an environment variable name, a file path,
or both. A ``*`` in the destination (``APP_*``, ``conf/*``) takes every key of the JSON object, the
``*`` standing for the key. Flags use the same model::

    --env NAME=REF    --file PATH=REF
    REF = SECRET_ID[?version-stage=LABEL|?version-id=ID][#JSON_KEY]

``#`` and ``?`` cannot occur in a secret name or ARN, so the split is unambiguous (a JSON key with
``#`` or ``?``, or a VersionId with ``#``, needs the spec file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitsm.materialize.errors import SpecError
from gitsm.materialize.specfast import fast_doc

SPEC_VERSION = 1
DEFAULT_SPEC = "gitsm.materialize.yaml"
DEFAULT_MODE = 0o600
WILDCARD = "*"

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ENTRY_FIELDS = ("secret_id", "version_stage", "version_id", "json_key", "env", "file", "mode")
_KNOWN_FIELDS = frozenset(ENTRY_FIELDS)
_TEXT_FIELDS = ENTRY_FIELDS[:-1]
SPEC_FIELDS = ("version", "format", "out", "mode", "kubernetes", "secrets")
K8S_FIELDS = ("name", "namespace")
QUERY_FIELDS = {"version-stage": "version_stage", "version-id": "version_id"}


@dataclass(frozen=True)
class Entry:
    """One secret (or one key of it, or every key of it) and where its value goes."""

    secret_id: str
    version_stage: str | None = None
    version_id: str | None = None
    json_key: str | None = None
    env: str | None = None
    file: str | None = None
    mode: int | None = None
    where: str = ""
    """Where the entry was given (``spec.yaml: secrets[2]``, ``--env``): for error messages."""

    @property
    def every_key(self) -> bool:
        """True when a ``*`` destination takes every key of the JSON SecretString."""
        return WILDCARD in (self.env or "") or WILDCARD in (self.file or "")

    @property
    def ref(self) -> str:
        """The entry's secret in flag syntax (never a value)."""
        if self.version_stage is None and self.version_id is None and self.json_key is None:
            return self.secret_id
        query = [f"{flag}={getattr(self, attr)}" for flag, attr in QUERY_FIELDS.items()
                 if getattr(self, attr) is not None]  # fmt: skip
        text = self.secret_id + ("?" + "&".join(query) if query else "")
        return text + (f"#{self.json_key}" if self.json_key is not None else "")


@dataclass
class Spec:
    """A whole materialization: entries, and the defaults of the command line's options."""

    entries: list[Entry] = field(default_factory=list)
    format: str | None = None
    out: str | None = None
    mode: int = DEFAULT_MODE
    k8s_name: str | None = None
    k8s_namespace: str | None = None

    def extend(self, entries: list[Entry]) -> None:
        """Add entries (from flags) after the spec file's, checking destinations stay unique."""
        if entries:  # the spec file's own were checked when it was read
            self.entries.extend(entries)
            check_unique(self.entries)


def parse_mode(raw: object, where: str) -> int:
    """A file mode from YAML or a flag: an octal string (``"0600"``, ``"600"``) or an integer."""
    if isinstance(raw, bool):
        raise SpecError(f'{where}: mode must be octal text such as "0600", not {raw}')
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and re.fullmatch(r"(0o?)?[0-7]{1,4}", raw.strip()):
        text = raw.strip()
        value = int(text[2:] if text.startswith("0o") else text, 8)
    else:
        raise SpecError(f'{where}: mode must be octal text such as "0600"')
    if not 0 <= value <= 0o777:
        raise SpecError(
            f"{where}: mode {raw!r} is not a permission mode (0-0777); write it as quoted octal "
            'text, e.g. mode: "0600" (an unquoted 600 is the decimal number 600)'
        )
    return value


def _check_env(name: str, where: str) -> None:
    if name.count(WILDCARD) > 1 or not ENV_NAME.fullmatch(name.replace(WILDCARD, "X")):
        raise SpecError(
            f"{where}: {name!r} is not an environment variable name (letters, digits and _, not "
            "starting with a digit; one * stands for each key of a JSON secret)"
        )


def _check_file(path: str, where: str) -> None:
    if not path or "\0" in path or path.endswith("/"):
        raise SpecError(f"{where}: {path!r} is not a file path")
    if path.count(WILDCARD) > 1 or WILDCARD in path.rpartition("/")[0]:
        raise SpecError(f"{where}: {path!r}: one * is allowed, in the file name only")


def _is_text(raw: object) -> bool:
    return raw is None or (isinstance(raw, str | int) and not isinstance(raw, bool))


def _as_text(fields: dict[str, Any], name: str, where: str) -> str:
    """Field ``name``, not a plain string: an integer as its text; else a SpecError naming the
    first field (in :data:`ENTRY_FIELDS` order) that is not text."""
    if _is_text(fields[name]):
        return str(fields[name])
    raise SpecError(f"{where}: {next(n for n in _TEXT_FIELDS if not _is_text(fields.get(n)))} "
                    "must be text")  # fmt: skip


def _texts(fields: dict[str, Any], where: str) -> dict[str, Any]:
    """``fields`` with each text field a string (an integer as its text; else a SpecError)."""
    return {
        name: raw
        if raw is None or type(raw) is str or name == "mode"
        else _as_text(fields, name, where)
        for name, raw in fields.items()
    }


def make_entry(fields: dict[str, Any], where: str) -> Entry:
    """Build and check an entry from spec fields (also used by the flag parsers)."""
    if not fields.keys() <= _KNOWN_FIELDS:
        unknown = sorted(fields.keys() - _KNOWN_FIELDS)
        raise SpecError(
            f"{where}: unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"(known: {', '.join(ENTRY_FIELDS)})"
        )
    text: dict[str, Any] = fields
    for name, raw in fields.items():
        if type(raw) is not str and raw is not None and name != "mode":  # a number, or worse
            text = _texts(fields, where)
            break
    get = text.get
    secret_id = get("secret_id")
    if not secret_id:
        raise SpecError(f"{where}: secret_id is required (a secret name or ARN)")
    env, file, key = get("env"), get("file"), get("json_key")
    if env is None and file is None:
        raise SpecError(f"{where}: give env (a variable name), file (a path), or both")
    if env is not None:
        _check_env(env, where)
    if file is not None:
        _check_file(file, where)
    if key == "":
        raise SpecError(f"{where}: json_key is empty")
    entry = Entry(
        secret_id, get("version_stage"), get("version_id"), key, env, file,
        None if fields.get("mode") is None else parse_mode(fields["mode"], where), where,
    )  # fmt: skip
    if entry.every_key and key is not None:
        raise SpecError(
            f"{where}: a * destination takes every key of the JSON secret; drop json_key, or "
            "name the destination without *"
        )
    if env is not None and file is not None and (WILDCARD in env) != (WILDCARD in file):
        raise SpecError(f"{where}: use * in both env and file, or in neither")
    return entry


def parse_ref(text: str, where: str) -> dict[str, str]:
    """``SECRET_ID[?version-stage=L|?version-id=V][#KEY]`` as entry fields."""
    ref, hashed, key = text.partition("#")
    secret_id, _, query = ref.partition("?")
    out: dict[str, str] = {"secret_id": secret_id}
    if hashed:
        out["json_key"] = key
    for part in query.split("&") if query else []:
        name, eq, value = part.partition("=")
        if name not in QUERY_FIELDS or not eq or not value:
            raise SpecError(
                f"{where}: {part!r}: expected version-stage=LABEL or version-id=ID after ?"
            )
        out[QUERY_FIELDS[name]] = value
    return out


def parse_flag(option: str, text: str) -> Entry:
    """One ``--env NAME=REF`` or ``--file PATH=REF`` value as an entry."""
    where = option
    dest, eq, ref = text.partition("=")
    if not eq or not dest or not ref:
        meta = "NAME" if option == "--env" else "PATH"
        raise SpecError(f"{where}: expected {meta}=SECRET_ID[#JSON_KEY]")
    fields: dict[str, Any] = parse_ref(ref, where)
    fields["env" if option == "--env" else "file"] = dest
    return make_entry(fields, f"{where} {dest}")


def check_unique(entries: list[Entry]) -> None:
    """Two entries may not write the same variable or file."""
    for attr in ("env", "file"):
        seen: dict[str, str] = {}
        for entry in entries:
            dest = getattr(entry, attr)
            if dest is None:
                continue
            if dest in seen:
                raise SpecError(f"{entry.where}: {attr} {dest} is also set by {seen[dest]}")
            seen[dest] = entry.where


def parse_spec(doc: object, where: str) -> Spec:
    """A spec from its parsed YAML document."""
    if not isinstance(doc, dict):
        raise SpecError(f"{where}: expected a mapping with a 'secrets' list")
    unknown = sorted(set(doc) - set(SPEC_FIELDS))
    if unknown:
        raise SpecError(f"{where}: unknown field(s) {', '.join(map(str, unknown))} "
                        f"(known: {', '.join(SPEC_FIELDS)})")  # fmt: skip
    version = doc.get("version", SPEC_VERSION)
    if version != SPEC_VERSION:
        raise SpecError(
            f"{where}: spec version {version!r} is not one this gitsm reads ({SPEC_VERSION}); "
            "upgrade gitsm"
        )
    spec = Spec()
    if doc.get("mode") is not None:
        spec.mode = parse_mode(doc["mode"], f"{where}: mode")
    for key in ("format", "out"):
        if doc.get(key) is not None and (not isinstance(doc[key], str) or not doc[key]):
            raise SpecError(f"{where}: {key} must be text")
    spec.format, spec.out = doc.get("format"), doc.get("out")
    k8s = doc.get("kubernetes") or {}
    if not isinstance(k8s, dict) or set(k8s) - set(K8S_FIELDS):
        raise SpecError(f"{where}: kubernetes takes {' and '.join(K8S_FIELDS)}")
    spec.k8s_name, spec.k8s_namespace = k8s.get("name"), k8s.get("namespace")
    items = doc.get("secrets")
    if not isinstance(items, list) or not items:
        raise SpecError(f"{where}: 'secrets' must be a non-empty list of entries")
    for i, item in enumerate(items):
        label = f"{where}: secrets[{i}]"
        if not isinstance(item, dict):
            raise SpecError(f"{label}: expected a mapping with secret_id and env and/or file")
        spec.entries.append(make_entry(item, label))
    check_unique(spec.entries)
    return spec


def load_spec(path: str | Path) -> Spec:
    """Read and check a spec file (in its plain block form without PyYAML: :mod:`.specfast`)."""
    return parse_file(read_file(path), str(path))


def read_file(path: str | Path) -> bytes:
    """The bytes of the spec file ``path`` (a SpecError when it cannot be read)."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the spec file ({exc.strerror})") from None


def parse_file(data: bytes, where: str) -> Spec:
    """The spec in a file's bytes ``data``, read under the name ``where``."""
    doc = fast_doc(data)
    if doc is not None:
        return parse_spec(doc, where)
    import yaml

    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        doc = yaml.load(data, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(f"{where}: not valid YAML{at}") from None
    return parse_spec(doc, where)
