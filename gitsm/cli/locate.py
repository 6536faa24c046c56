"""Finding the store an invocation works on, with the standard library only.

``--repo PATH``, else ``$GITSM_REPO``, else the git repository around the current directory (a
work tree, or a bare repository). Shared by every command and by the quick path of ``gitsm sync``,
which must start without the heavy imports (``os.path`` rather than ``pathlib`` for that reason).
"""

from __future__ import annotations

import os

from gitsm.plaingit import git_dir

__all__ = ["ENV_REPO", "find_store", "git_dir", "is_repository"]

ENV_REPO = "GITSM_REPO"


def is_repository(path: str) -> bool:
    """True when ``path`` is the top of a work tree (``.git`` there) or a bare repository."""
    if os.path.exists(os.path.join(path, ".git")):
        return True
    return all(
        check(os.path.join(path, name))
        for check, name in ((os.path.isfile, "HEAD"), (os.path.isdir, "objects"),
                            (os.path.isdir, "refs"))
    )  # fmt: skip


def find_store(repo: str | None) -> str | None:
    """The store's path: ``repo``, else $GITSM_REPO, else the enclosing repository (or None)."""
    chosen = repo or os.environ.get(ENV_REPO)
    if chosen:
        return os.path.expanduser(chosen)
    here = os.getcwd()
    while True:
        if is_repository(here):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent
