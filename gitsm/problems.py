"""What ``gitsm verify`` reports and the readers refuse: the :class:`Problem` type and shared fixes.

A leaf module (standard library only), so that the checks of a tree (:mod:`gitsm.verify`), the leak
guard (:mod:`gitsm.leaks`) and the strict readers of store files (:mod:`gitsm.strict`) share one
vocabulary without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

RESTORE = "restore it from git history (git log -- <path>; git checkout <commit> -- <path>)"
"""The fix of a store file that gitsm cannot read: bring back a good version of it."""
REWRITE = "change it only through gitsm operations, or " + RESTORE
"""The fix of a store file that reads but is not what gitsm writes."""

REGULAR_MODE = 0o100644
"""The git file mode of every store file: a regular, non-executable file."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a tree: where, what, and how to fix it. Never carries a value."""

    path: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem} ({self.fix})"


def mode_problem(path: str, mode: int) -> tuple[str, str] | None:
    """A (problem, fix) when a store file's git ``mode`` is not a regular file's (100644).

    Store files are plain data: a symbolic link would make a checkout read (and a write follow) a
    file outside the store, a gitlink has no content in this repository, and nothing in a store is
    meant to run.
    """
    if mode == REGULAR_MODE:
        return None
    replace = (
        f"remove the entry (git rm --cached {path}) and put back the regular file from git history "
        f"(git log -- {path}; git checkout <commit> -- {path})"
    )
    if mode == 0o120000:
        return "is a symbolic link (mode 120000), not a regular file", replace
    if mode == 0o160000:
        return "is a gitlink (a submodule commit, mode 160000), not a regular file", replace
    if mode == 0o100755:
        return (
            "is an executable file (mode 100755); store files are regular files (mode 100644)",
            f"clear the executable bit: git update-index --chmod=-x {path}, then commit",
        )
    return f"has git mode {mode:06o}, not a regular file's 100644", replace
