"""Where materialized files may go: below ``--out`` only, and never through a symbolic link.

A file path (``file:`` or ``--file``, its ``*`` expanded) is relative to ``--out``: an absolute
path, or one with a ``..`` component, is refused (``.`` and empty components are dropped). From
``--out`` down nothing may be a symbolic link: not ``--out`` itself, not a directory below it, not
an existing target. A link there, planted by whoever can write to a shared directory, would send
the plaintext wherever it points; and a link to a place one chose on purpose is as well written
as the path it points to. The directories above ``--out`` are the caller's and are followed (a
``/tmp`` that is a link to ``/private/tmp``). The same holds for the one file that the document
formats write or append to (``--out FILE``, ``$GITHUB_ENV``): it may not be a link.

These checks run before anything is written and report every problem at once; the writer
(:mod:`.writing`) then opens each directory with ``O_NOFOLLOW`` and creates files relative to it,
so a link swapped in after the checks is refused as well.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence

from gitsm.materialize.spec import Entry

Parts = tuple[str, ...]

LINK_HINT = (
    "gitsm writes through no symbolic link from --out down (one planted in a shared directory "
    "could send the secrets anywhere)"
)


def parts_of(path: str) -> Parts | str:
    """The components of a file path relative to ``--out``, or why it is not one."""
    if path.startswith("/"):
        return "is an absolute path; file paths are relative to --out"
    parts = path.split("/")
    if "" in parts or "." in parts:
        parts = [p for p in parts if p not in ("", ".")]
    if ".." in parts:
        return "has a '..' component, which would leave --out; name it relative to --out"
    if not parts:
        return "is not a file path"
    return tuple(parts)


def entry_problems(
    entries: Sequence[Entry], parts_of: Callable[[str], Parts | str] = parts_of
) -> list[str]:
    """Every entry whose file path would leave ``--out`` (a ``*`` stands for a key, which holds no
    ``/`` and is not ``.`` or ``..``, so the path's shape is known before the read);
    ``parts_of``: :func:`parts_of`, or one that keeps its answers."""
    problems: list[str] = []
    for entry in entries:
        if entry.file is not None:
            parts = parts_of(entry.file)
            if isinstance(parts, str):
                problems.append(f"{entry.where}: {entry.file} {parts}")
    return problems


def _kind(path: str) -> str | None:
    """'link', 'dir', 'file', or None when nothing is there."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:  # missing, or under a file (reported for that one), or unreadable (the
        return None  # writer then fails on it with the system's reason)
    if stat.S_ISLNK(mode):
        return "link"
    return "dir" if stat.S_ISDIR(mode) else "file"


def base_problem(base: str) -> str | None:
    """Why ``--out`` itself cannot be the directory written to (None if it can, or is missing)."""
    kind = _kind(base.rstrip("/") or base)
    if kind == "link":
        return (
            f"--out {base} is a symbolic link; {LINK_HINT}. Give the directory itself, e.g. "
            f'--out "$(realpath {base})"'
        )
    if kind == "file":
        return f"--out {base} is not a directory"
    return None


def link_problems(base: str, targets: Sequence[tuple[str, Parts]]) -> list[str]:
    """Why each (name, parts) target below ``base`` cannot be written: a symbolic link, a file in
    the way of a directory, a directory in the way of a file, or a second target with the same
    path. Each component is looked at once, and reported once."""
    problem = base_problem(base)
    if problem is not None:
        return [problem]
    problems: list[str] = []
    exists = _kind(base) == "dir"
    kinds: dict[Parts, str | None] = {}
    reported: set[Parts] = set()
    first: dict[Parts, str] = {}
    for name, parts in targets:
        if parts in first:
            if first[parts] != name:  # the same spelling is reported as a duplicate entry
                problems.append(f"{name}: the same file as {first[parts]}")
            continue
        first[parts] = name
        for depth in range(1, len(parts) + 1 if exists else 0):
            prefix = parts[:depth]
            if prefix not in kinds:
                kinds[prefix] = _kind(os.path.join(base, *prefix))
            kind, last = kinds[prefix], depth == len(parts)
            if kind is None:
                break
            shown = os.path.join(base, *prefix)
            if kind == "link":
                if prefix not in reported:
                    problems.append(f"{shown} is a symbolic link; {LINK_HINT}")
                reported.add(prefix)
                break
            if not last and kind == "file" and prefix not in reported:
                reported.add(prefix)
                problems.append(f"{shown} is a file where {name} needs a directory")
            if last and kind == "dir":
                problems.append(f"{shown} is a directory, not a file")
            if kind != "dir":
                break
    return problems


def document_problem(path: str) -> str | None:
    """Why the one file a document format writes or appends to cannot be (a link, a directory)."""
    kind = _kind(path)
    if kind == "link":
        return f"{path} is a symbolic link; {LINK_HINT}. Give the file itself"
    if kind == "dir":
        return f"{path} is a directory, not a file"
    return None
