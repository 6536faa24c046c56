"""``gitsm hook install``: put gitsm's pre-commit hook into a repository, keeping any hook there.

The hook goes where git looks for hooks (``git rev-parse --git-path hooks``, which follows
``core.hooksPath`` and linked work trees). A pre-commit hook that is already there and is not
gitsm's is renamed to ``pre-commit.local`` and called first by gitsm's hook, so nothing is lost or
silently replaced; if ``pre-commit.local`` exists too, installing refuses and says what to do.
Installing again updates gitsm's own hook in place (idempotent). :func:`uninstall` undoes it.

The hook is the POSIX shell shim shipped as ``hooks/pre-commit`` (kept byte-identical to
:data:`PRE_COMMIT` by a test), with the installing Python filled in as a fallback for finding gitsm.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from gitsm.errors import StoreError, storage_error
from gitsm.gitenv import run_git

MARKER = "# gitsm-hook: pre-commit"
HOOK = "pre-commit"
LOCAL = "pre-commit.local"
_PYTHON_LINE = "installed_python=''"

PRE_COMMIT = """#!/bin/sh
# gitsm-hook: pre-commit
#
# Refuses a commit when the staged tree is not a well-formed gitsm store (`gitsm verify --staged`)
# or when a staged file holds the plaintext of a secret the store manages (the leak guard, which
# runs when keys are at hand). Install it with `gitsm hook install`; a pre-commit hook that was
# there before is kept as pre-commit.local and runs first. No pre-commit framework needed.
#
# gitsm is looked for as $GITSM (a command, e.g. "python3 -m gitsm"), then the Python that
# installed this hook, then `gitsm` on PATH, then python3. Bypass once, knowingly: git commit -n.
set -u

hook_dir=$(dirname -- "$0")
if [ -x "$hook_dir/pre-commit.local" ]; then
    "$hook_dir/pre-commit.local" "$@" || exit $?
fi

installed_python=''

# git hands hooks a relative GIT_INDEX_FILE; gitsm may look at it from elsewhere.
case "${GIT_INDEX_FILE:-}" in
    '' | /*) ;;
    *) GIT_INDEX_FILE="$PWD/$GIT_INDEX_FILE"; export GIT_INDEX_FILE ;;
esac
GITSM_REPO=$(git rev-parse --show-toplevel) || exit 1
export GITSM_REPO

run_with_python() {
    py=$1
    shift
    "$py" -c 'import sys; from gitsm.cli import main; sys.argv[0] = "gitsm"; sys.exit(main())' "$@"
}

if [ -n "${GITSM:-}" ]; then
    # shellcheck disable=SC2086 # GITSM is a command line, split on purpose
    exec $GITSM verify --staged
elif [ -n "$installed_python" ] && [ -x "$installed_python" ]; then
    run_with_python "$installed_python" verify --staged
elif command -v gitsm >/dev/null 2>&1; then
    exec gitsm verify --staged
elif command -v python3 >/dev/null 2>&1 && python3 -c 'import gitsm' 2>/dev/null; then
    run_with_python python3 verify --staged
else
    echo "gitsm pre-commit hook: gitsm is not installed (not on PATH, not importable by python3)." >&2
    echo "Install it, set GITSM to its command, or skip this check once with: git commit -n" >&2
    exit 1
fi
"""
"""The shim, as in ``hooks/pre-commit``."""


@dataclass(frozen=True)
class InstallResult:
    """What :func:`install` did: the hook's path, ``installed``/``updated``/``unchanged``, and the
    earlier hook it now calls first (if any)."""

    hook: Path
    action: str
    chained: Path | None = None

    def __str__(self) -> str:
        text = f"gitsm pre-commit hook {self.action}: {self.hook}"
        if self.chained is not None:
            text += f" (runs the earlier hook {self.chained} first)"
        return text


def hooks_dir(repo_path: str | Path) -> Path:
    """Where git runs hooks from for the repository at ``repo_path`` (honours core.hooksPath)."""
    try:
        proc = run_git(["rev-parse", "--path-format=absolute", "--git-path", "hooks"],
                       cwd=repo_path, text=True)  # fmt: skip
    except OSError as exc:  # no such directory, or no git
        raise StoreError(f"No git repository at {repo_path}: {exc.strerror or exc}.") from None
    if proc.returncode != 0:
        raise StoreError(f"No git repository at {repo_path}: {proc.stderr.strip()}")
    return Path(proc.stdout.strip())


def render(python: str | None = None) -> str:
    """The hook text, with ``python`` as the interpreter to fall back on."""
    if not python:
        return PRE_COMMIT
    return PRE_COMMIT.replace(_PYTHON_LINE, f"installed_python={shlex.quote(python)}", 1)


def is_gitsm_hook(path: Path) -> bool:
    """True when the file at ``path`` is a hook that gitsm installed."""
    try:
        head = path.read_bytes()[:200]
    except OSError:
        return False
    return MARKER.encode() in head


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.gitsm-tmp")
    try:
        tmp.write_text(text)
        tmp.chmod(0o755)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # never a half-written hook file left behind
        raise


def install(repo_path: str | Path, *, python: str | None = sys.executable) -> InstallResult:
    """Install the pre-commit hook into the repository at ``repo_path``; see the module docstring.

    Raises StoreError when ``repo_path`` is not a git repository, or when an earlier hook and a
    ``pre-commit.local`` both exist (nothing is changed then); a StorageError (ReadOnlyStore, ...)
    when the hooks directory cannot be written.
    """
    directory = hooks_dir(repo_path)
    try:
        return _install(directory, python)
    except OSError as exc:
        raise storage_error(exc, f"installing the hook in {directory}") from None


def _install(directory: Path, python: str | None) -> InstallResult:
    directory.mkdir(parents=True, exist_ok=True)
    hook, local = directory / HOOK, directory / LOCAL
    text = render(python)
    chained = local if local.exists() or local.is_symlink() else None
    if hook.exists() or hook.is_symlink():
        if is_gitsm_hook(hook):  # ours (a symlink to a gitsm shim is replaced by the file)
            if not hook.is_symlink() and hook.read_text() == text:
                return InstallResult(hook, "unchanged", chained)
            _write(hook, text)
            return InstallResult(hook, "updated", chained)
        if chained is not None:
            raise StoreError(
                f"{hook} is another tool's hook and {local} exists too, so gitsm cannot keep "
                f"both. Merge them into {local} (gitsm's hook runs it first), remove {hook}, "
                "and install again."
            )
        os.rename(hook, local)
        try:
            _write(hook, text)
        except BaseException:
            os.rename(local, hook)  # the other tool's hook goes back where it was
            raise
        return InstallResult(hook, "installed", local)
    _write(hook, text)
    return InstallResult(hook, "installed", chained)


def uninstall(repo_path: str | Path) -> Path | None:
    """Remove gitsm's hook and put a chained ``pre-commit.local`` back; the removed hook's path
    (None when gitsm's hook was not installed)."""
    directory = hooks_dir(repo_path)
    hook, local = directory / HOOK, directory / LOCAL
    if not is_gitsm_hook(hook):
        return None
    try:
        hook.unlink()
        if local.exists() or local.is_symlink():
            os.rename(local, hook)
    except OSError as exc:
        raise storage_error(exc, f"removing the hook from {directory}") from None
    return hook
