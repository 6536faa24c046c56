"""The files two trees hold differently, walked in Python with every object vetted.

Caches keyed by a tree id (the listing index, the last tree ``gitsm verify`` found clean) are
brought up to date from an older tree by re-reading only what changed. :func:`tree_changes` walks
both trees side by side and skips every subtree whose id is the same on both sides, so its cost
follows the change and the depth of its paths, not the size of the tree. Unlike libgit2's own diff
it reads each object through :func:`gitsm.gitrepo.loose.check` first (see :mod:`.loose`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pygit2

from gitsm.gitrepo.loose import check

_TREE = pygit2.enums.ObjectType.TREE


@dataclass(frozen=True)
class TreeChange:
    """A non-directory entry (a file, link or gitlink) that differs between two trees: its
    object id and git mode on each side, None where the side has no such entry."""

    path: str
    old: str | None
    new: str | None
    old_mode: int | None
    new_mode: int | None


def _entries(tree: pygit2.Tree | None) -> dict[str, pygit2.Object]:
    return {} if tree is None else {str(e.name): e for e in tree}


def _subtree(repo: pygit2.Repository, entry: pygit2.Object | None) -> pygit2.Tree | None:
    if entry is None or entry.type != _TREE:
        return None
    check(repo, entry.id)
    return cast(pygit2.Tree, repo[entry.id])


def tree_changes(
    repo: pygit2.Repository, old: pygit2.Tree | None, new: pygit2.Tree | None, base: str
) -> list[TreeChange]:
    """Every non-directory entry at or below ``base`` that differs (in id or mode) between the
    trees ``old`` and ``new`` (roots of ``base``; None for an absent tree), paths prefixed with
    ``base`` (none for ``""``, the root). An entry that is a directory on one side and a file on the other counts as the file
    removed or added, and the directory's files as added or removed."""
    out: list[TreeChange] = []
    stack: list[tuple[str, pygit2.Tree | None, pygit2.Tree | None]] = [(base, old, new)]
    while stack:
        path, one, two = stack.pop()
        if one is not None and two is not None and one.id == two.id:
            continue
        left, right = _entries(one), _entries(two)
        for name in sorted(left.keys() | right.keys()):
            a, b = left.get(name), right.get(name)
            sub = f"{path}/{name}" if path else name
            if a is not None and b is not None and a.id == b.id and a.filemode == b.filemode:
                continue
            a_dir = a is not None and a.type == _TREE
            b_dir = b is not None and b.type == _TREE
            if a_dir or b_dir:
                stack.append((sub, _subtree(repo, a), _subtree(repo, b)))
            a_file = None if a is None or a_dir else a
            b_file = None if b is None or b_dir else b
            if a_file is not None or b_file is not None:
                out.append(
                    TreeChange(
                        sub,
                        None if a_file is None else str(a_file.id),
                        None if b_file is None else str(b_file.id),
                        None if a_file is None else int(a_file.filemode),
                        None if b_file is None else int(b_file.filemode),
                    )
                )
    return out
