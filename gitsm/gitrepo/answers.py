"""git's answers for a commit (the identities, the signing config), kept from one process to the next.

:mod:`~gitsm.gitrepo.identity` and :mod:`~gitsm.gitrepo.signing` ask git (``git var`` twice,
``git config`` once) and keep the answers per process under a key: the repository, the variables
that can change them and the stamps (modification time, size, inode) of the config files git
reads. A command is a process of its own, so without more every CLI write would start those three
git runs again. This module keeps the last answers in ``<git dir>/gitsm/git-answers`` (the git
dir every work tree of the repository shares) under a
SHA-256 digest of that same key, so the next process uses them while the key is unchanged.

An answer is kept only when the key alone can tell that it still holds:

- no config file git reads for the repository, and no ``GIT_CONFIG_*`` variable, mentions
  ``include`` (a file an ``[include]`` or ``[includeIf]`` names is not in the key: such a
  repository keeps asking git in every process, as before);
- every config file was last changed more than :data:`SETTLED` seconds before (a file rewritten
  twice within one tick of the file system's clock, at the same size, keeps its stamp: git's own
  "racily clean" rule for the index);
- neither ``GIT_AUTHOR_DATE`` nor ``GIT_COMMITTER_DATE`` is set (the answer would carry the date);
- git answered (without git, the config as libgit2 reads it is used, as before).

The file holds digests, the names and e-mail addresses every commit records, and the signing
keys' config values (program names, key ids or key file paths): no secret, and never the
environment. A file that cannot be read or written is ignored (the process asks git). One thing
the key does not cover, for the per-process cache as for this one: a system config that git was
built to read from elsewhere than ``/etc/gitconfig`` or ``GIT_CONFIG_SYSTEM``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gitsm.gitrepo.loose import common_dir

FILE_NAME = "git-answers"
FORMAT = "gitsm-git-answers-1"
SETTLED = 10.0
"""Seconds a config file must have been left alone before an answer that read it is kept."""
MAX_KEPT = 16
"""Answers kept (the last ones), for linked work trees and environments used in turn."""
_DATES = ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE")


def _path(gitdir: Path) -> Path:
    return common_dir(gitdir) / "gitsm" / FILE_NAME


def digest(key: tuple[object, ...]) -> str:
    """The SHA-256 of a cache key's text: what the file names an answer by."""
    return hashlib.sha256(repr((FORMAT, key)).encode("utf-8", "surrogateescape")).hexdigest()


def _read(gitdir: Path) -> dict[str, Any]:
    try:
        with open(_path(gitdir), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("format") == FORMAT else {}


def recall(gitdir: Path, key: tuple[object, ...], kind: str) -> Any:
    """The answer of ``kind`` (``ident`` or ``signing``) kept for ``key``, or None."""
    kept = _read(gitdir).get("answers")
    entry = kept.get(digest(key)) if isinstance(kept, dict) else None
    return entry.get(kind) if isinstance(entry, dict) else None


def keepable(config_files: Iterable[str], env: dict[str, str]) -> bool:
    """True when an answer that read ``config_files`` under ``env`` may be kept (see above)."""
    if any(env.get(name) for name in _DATES):
        return False
    if any(k.startswith("GIT_CONFIG") and "include" in f"{k}={v}".lower() for k, v in env.items()):
        return False
    settled = time.time() - SETTLED
    for name in config_files:
        try:
            with open(name, "rb") as fh:
                changed = os.fstat(fh.fileno()).st_mtime
                text = fh.read()
        except FileNotFoundError:
            continue
        except (OSError, ValueError):
            return False
        if changed > settled or b"include" in text.lower():
            return False
    return True


def keep(gitdir: Path, key: tuple[object, ...], kind: str, answer: object) -> None:
    """Keep ``answer`` of ``kind`` for ``key`` beside the answers kept already (best effort: a
    file that cannot be written is left as it is)."""
    data = _read(gitdir)
    answers = data.get("answers")
    answers = dict(answers) if isinstance(answers, dict) else {}
    name = digest(key)
    entry = answers.pop(name, None)
    entry = dict(entry) if isinstance(entry, dict) else {}
    entry[kind] = answer
    answers[name] = entry  # the newest last: the oldest go first
    while len(answers) > MAX_KEPT:
        answers.pop(next(iter(answers)))
    path = _path(gitdir)
    with contextlib.suppress(OSError):
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{FILE_NAME}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"format": FORMAT, "answers": answers}, fh, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
