"""No plaintext inside a git work tree unless git ignores it.

Every target is placed in its real directory (symbolic links resolved as far as the path exists);
the nearest enclosing directory with a ``.git`` entry is its work tree (the store's own checkout,
or any other repository, such as the application a CI job builds). ``git check-ignore`` decides
for all the targets of one work tree in a single call; a target it does not report (not ignored,
or tracked, which git never treats as ignored) is refused, as is anything inside a ``.git``
directory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from gitsm.gitenv import run_git
from gitsm.materialize.errors import MaterializeError

SHOWN = 10


def real_dir(directory: str) -> Path:
    """``directory`` (absolute) with the symbolic links of its existing part resolved."""
    existing = directory
    rest: list[str] = []
    while not os.path.exists(existing) and existing != os.path.dirname(existing):
        existing, name = os.path.split(existing)
        rest.insert(0, name)
    return Path(os.path.realpath(existing)).joinpath(*rest)


class _Finder:
    """The work tree enclosing a directory (cached: many targets share directories)."""

    def __init__(self) -> None:
        self.cache: dict[Path, Path | None] = {}

    def top(self, directory: Path) -> Path | None:
        walked: list[Path] = []
        found: Path | None = None
        probe = directory
        while True:
            if probe in self.cache:
                found = self.cache[probe]
                break
            walked.append(probe)
            if os.path.lexists(probe / ".git"):
                found = probe
                break
            if probe == probe.parent:
                break
            probe = probe.parent
        for seen in walked:
            self.cache[seen] = found
        return found


def _ignored(top: Path, relative: list[str]) -> tuple[set[str], str | None]:
    """The paths (relative to ``top``) that git ignores there, and git's error if it failed."""
    try:
        proc = run_git(["check-ignore", "-z", "--stdin"], cwd=top,
                       input=b"".join(p.encode() + b"\0" for p in relative))  # fmt: skip
    except OSError as exc:
        return set(), f"git could not run ({exc.strerror or exc})"
    if proc.returncode not in (0, 1):
        return set(), proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}"
    return {p.decode() for p in proc.stdout.split(b"\0") if p}, None


REFUSING = "refusing to write plaintext; nothing was written"


def check_targets(paths: Sequence[str | Path]) -> None:
    """Raise :class:`MaterializeError` unless every path is outside work trees or ignored."""
    problems = target_problems(paths)
    if problems:
        raise MaterializeError(problems, outcome=REFUSING)


def target_problems(paths: Sequence[str | Path]) -> list[str]:
    """Why each refused path may not be written: inside a work tree and not ignored by git, or
    inside a ``.git`` directory (one line per work tree); empty when every path is acceptable."""
    by_dir: dict[str, list[tuple[str | Path, str]]] = {}
    absolute: dict[str, str] = {}
    for path in paths:  # many targets share a directory: resolve each directory once
        head, name = os.path.split(path)
        if name in ("", ".", ".."):  # a path that names its directory otherwise
            head, name = os.path.split(os.path.abspath(path))
        parent = absolute.get(head)
        if parent is None:
            parent = absolute[head] = os.path.abspath(head)
        by_dir.setdefault(parent, []).append((path, name))
    finder = _Finder()
    by_top: dict[Path, list[tuple[str | Path, str]]] = {}
    problems: list[str] = []
    for parent, members in by_dir.items():
        real = real_dir(parent)
        if ".git" in real.parts:
            problems += [
                f"{path}: inside a .git directory; write it elsewhere" for path, _ in members
            ]
            continue
        top = finder.top(real)
        if top is not None:
            below = real.relative_to(top).as_posix()
            prefix = "" if below == "." else below + "/"
            by_top.setdefault(top, []).extend((path, prefix + name) for path, name in members)
    for top, targets in by_top.items():
        ignored, error = _ignored(top, [rel for _, rel in targets])
        refused = [(path, rel) for path, rel in targets if rel not in ignored]
        if error is not None:
            problems.append(f"git check-ignore failed in {top}: {error}")
        if refused:
            problems.append(_refusal(top, refused))
    return problems


def _refusal(top: Path, refused: list[tuple[str | Path, str]]) -> str:
    shown = ", ".join(rel for _, rel in refused[:SHOWN])
    more = f" and {len(refused) - SHOWN} more" if len(refused) > SHOWN else ""
    first = refused[0][1].split("/")[0]
    pattern = f"/{first}/" if "/" in refused[0][1] else f"/{first}"
    return (
        f"{shown}{more}: inside the git work tree {top} and not ignored by git, so the "
        f"plaintext could be committed. Add the path to {top}/.gitignore (for example the line "
        f"'{pattern}'; a tracked file stays unignored until 'git rm --cached'), or write outside "
        'the work tree (for example --out "$RUNNER_TEMP/secrets" or a directory under /run)'
    )
