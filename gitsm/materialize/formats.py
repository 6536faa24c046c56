"""Output formats: what each one takes from the items, what it refuses, and how it writes values.

- ``files``: every item with a ``file`` path, raw bytes (SecretBinary included).
- ``dotenv``, ``export``, ``github`` (and ``gitsm exec``): every item with an ``env`` name; text only.
- ``json``, ``k8s``: every item, keyed by its ``env`` name or, without one, its file's base name;
  ``json`` holds text only, ``k8s`` base64 data and so any bytes.

Quoting:

- dotenv: one quoting that python-dotenv (1.0 and later, interpolation on or off) and a POSIX
  shell (``set -a; . FILE``) both read back exactly, and in which the shell runs nothing:
  ``NAME='value'`` when the value has no ``'`` and no ``\\\\`` (python-dotenv decodes those two in
  single quotes; a shell decodes nothing), else ``NAME="value"`` with ``\\`` and ``"`` escaped when
  it has no ``$`` and no backtick (the only characters besides those two that a shell expands in
  double quotes). A value that fits neither, or that python-dotenv would change anyway, is refused
  (:func:`dotenv_problem`): one with a carriage return, a trailing backslash, ``'`` or ``\\\\``
  together with ``$`` or a backtick, or a ``${...}`` that python-dotenv interpolates.
- export: ``export NAME='value'`` with ``'`` -> ``'\\''``: POSIX shell single quotes, in which no
  character is special, so ``source`` gives back every byte but NUL.
- github: ``::add-mask::`` lines (stdout) for each value and for each line of a multi-line value,
  with the runner's escapes (``%`` ``\\r`` ``\\n`` -> ``%25`` ``%0D`` ``%0A``); then, for
  ``$GITHUB_ENV``, ``NAME=value`` or, for a value with a CR or LF, ``NAME<<DELIMITER`` lines with a
  random delimiter that occurs in no value (the syntax GitHub documents for multi-line values).
  The runner takes the value to be everything between the two lines, less the line break before
  the delimiter line; that break is LF, and on Windows, where the runner also ends lines at CRLF,
  CRLF after a value that ends in CR (so that the CR is not read as half of it).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets as _random
from collections.abc import Sequence

from gitsm.materialize.resolve import Item

ENV_FORMATS = ("dotenv", "export", "github")
KEYED_FORMATS = ("json", "k8s")
FORMATS = ("files", *ENV_FORMATS, *KEYED_FORMATS)
TEXT_ONLY = ("dotenv", "export", "github", "json", "exec")
K8S_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}")
DEFAULT_K8S_NAME = "gitsm-secrets"

Pairs = list[tuple[str, Item]]


def select(items: Sequence[Item], fmt: str) -> Pairs:
    """The (name, item) pairs format ``fmt`` writes (for ``files`` the name is the path)."""
    if fmt == "files":
        return [(i.file, i) for i in items if i.file is not None]
    if fmt in KEYED_FORMATS:
        return [(i.env or (i.file or "").rpartition("/")[2], i) for i in items]
    return [(i.env, i) for i in items if i.env is not None]


def problems(pairs: Pairs, fmt: str) -> list[str]:
    """What format ``fmt`` cannot write (never quoting a value)."""
    out: list[str] = []
    seen: dict[str, str] = {}
    for name, item in pairs:
        where = f"{item.where}: {item.origin}"
        if fmt in TEXT_ONLY and item.binary:
            out.append(f"{where} is a SecretBinary, which --format {fmt} cannot hold as text; "
                       "write it with --format files (or k8s)")  # fmt: skip
        elif fmt in (*ENV_FORMATS, "exec") and b"\0" in item.value:
            out.append(f"{where}: the value contains a NUL byte, which no environment variable "
                       "can hold")  # fmt: skip
        elif fmt == "dotenv" and (why := dotenv_problem(_text(item))) is not None:
            out.append(f"{where}: the value {why}, so --format dotenv cannot write it safely; "
                       "use --format export for a shell, or json or files for a program")  # fmt: skip
        if fmt == "k8s" and not K8S_KEY.fullmatch(name):
            out.append(f"{where}: {name!r} is not a Kubernetes Secret key (letters, digits, - _ .)")
        if fmt in KEYED_FORMATS:
            if name in seen:
                out.append(f"{where}: key {name} is also written by {seen[name]}")
            seen.setdefault(name, item.origin)
    return out


def _text(item: Item) -> str:
    return item.value.decode("utf-8")


_DOTENV_VARIABLE = re.compile(r"\$\{[^}:]*(?::-[^}]*)?\}")
"""What python-dotenv interpolates (``${NAME}``, ``${NAME:-default}``), quoted or not."""


def _single_quotable(text: str) -> bool:
    """True when ``'text'`` reads back as ``text`` in python-dotenv too (it decodes only ``\\\\``
    and ``\\'`` in single quotes)."""
    return "'" not in text and "\\\\" not in text


def dotenv_problem(text: str) -> str | None:
    """Why ``text`` cannot be a dotenv value that a POSIX shell and python-dotenv both read back
    exactly (None when it can). Names characters, never quotes the value."""
    if "\r" in text:
        return "contains a carriage return, which python-dotenv reads back as a line feed"
    if text.endswith("\\"):
        return (
            "ends with a backslash, which python-dotenv before 1.2.3 takes for an escaped closing "
            "quote (losing the lines after it)"
        )
    if not _single_quotable(text) and ("$" in text or "`" in text):
        return (
            "contains ' or two backslashes in a row, and $ or a backtick: no quoting reads the "
            "same in a shell and in python-dotenv"
        )
    if _DOTENV_VARIABLE.search(text):
        return "contains ${...}, which python-dotenv expands (it has no escape for it)"
    return None


def dotenv_quote(text: str) -> str:
    """``text`` quoted for a dotenv file (see the module docstring). Raises ValueError (naming the
    reason, not the value) for a value :func:`dotenv_problem` refuses."""
    why = dotenv_problem(text)
    if why is not None:
        raise ValueError(f"a dotenv value that {why}")
    if _single_quotable(text):
        return "'" + text + "'"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dotenv(pairs: Pairs) -> bytes:
    """``NAME='value'`` (or ``NAME="value"``) lines for python-dotenv and ``set -a; . FILE``."""
    return "".join(f"{n}={dotenv_quote(_text(i))}\n" for n, i in pairs).encode("utf-8")


def shell_quote(text: str) -> str:
    """``text`` in POSIX single quotes (``'`` written as ``'\\''``)."""
    return "'" + text.replace("'", "'\\''") + "'"


def export(pairs: Pairs) -> bytes:
    """``export NAME='value'`` lines for ``source`` / ``eval`` in a POSIX shell."""
    return "".join(f"export {n}={shell_quote(_text(i))}\n" for n, i in pairs).encode("utf-8")


def json_doc(pairs: Pairs) -> bytes:
    """One JSON object, name -> value, in entry order."""
    doc = {name: _text(item) for name, item in pairs}
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def k8s(pairs: Pairs, name: str | None = None, namespace: str | None = None) -> bytes:
    """A Kubernetes ``v1/Secret`` manifest (type Opaque) with base64 ``data``."""
    import yaml

    metadata: dict[str, str] = {"name": name or DEFAULT_K8S_NAME}
    if namespace:
        metadata["namespace"] = namespace
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "data": {key: base64.b64encode(item.value).decode("ascii") for key, item in pairs},
    }
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False).encode("utf-8")


def escape_command_data(text: str) -> str:
    """The GitHub Actions runner's escaping of a workflow command's data."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_masks(pairs: Pairs) -> bytes:
    """``::add-mask::`` for each value and each non-blank line of a multi-line value."""
    masks: dict[str, None] = {}
    for _, item in pairs:
        text = _text(item)
        if text.strip():
            masks[text] = None
        if "\n" in text or "\r" in text:
            for line in re.split(r"\r\n|\n|\r", text):
                if line.strip():
                    masks[line] = None
    return "".join(f"::add-mask::{escape_command_data(m)}\n" for m in masks).encode("utf-8")


def github_env(pairs: Pairs, *, windows: bool = os.name == "nt") -> bytes:
    """Lines for ``$GITHUB_ENV``: ``NAME=value``, or a heredoc for a value with a CR or LF.

    ``windows``: the runner reads the file the way it does on Windows (lines end at LF or CRLF),
    rather than on Linux and macOS (at LF only); gitsm runs where the runner does.
    """
    out = []
    for name, item in pairs:
        text = _text(item)
        if "\n" not in text and "\r" not in text:
            out.append(f"{name}={text}\n")
            continue
        delimiter = f"ghadelimiter_{_random.token_hex(16)}"
        while delimiter in text:  # then no line of the value can be the delimiter line
            delimiter = f"ghadelimiter_{_random.token_hex(16)}"
        # The runner drops the line break before the delimiter line. Where it also ends lines at
        # CRLF, a value's final CR followed by LF would be taken for that break: end with CRLF.
        end = "\r\n" if windows and text.endswith("\r") else "\n"
        out.append(f"{name}<<{delimiter}\n{text}{end}{delimiter}\n")
    return "".join(out).encode("utf-8")


def render(pairs: Pairs, fmt: str, *, k8s_name: str | None = None,
           k8s_namespace: str | None = None) -> bytes:  # fmt: skip
    """The whole output of a single-document format (not ``files``, not ``github``)."""
    if fmt == "dotenv":
        return dotenv(pairs)
    if fmt == "export":
        return export(pairs)
    if fmt == "json":
        return json_doc(pairs)
    if fmt == "k8s":
        return k8s(pairs, k8s_name, k8s_namespace)
    raise ValueError(f"not a single-document format: {fmt}")
