"""The history of a store's operations, read from the ``Gitsm-*`` trailers of its commits.

Every write is one commit whose message ends with trailers such as ``Gitsm-Operation``,
``Gitsm-Secret``, ``Gitsm-Secret-Arn``, ``Gitsm-Version-Id`` and ``Gitsm-Client-Request-Token``
(values %-escaped where they are not printable ASCII). This module only reads commit messages,
authors and committers (and, through :func:`gitsm.signatures.with_signatures`, their signatures): it never opens
a version file, so it cannot show a value, and the trailers hold none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from gitsm.gitrepo import GitRepo

_TRAILER = re.compile(r"Gitsm-([A-Za-z0-9-]+):\s?(.*)")


@dataclass(frozen=True)
class HistoryEntry:
    """One commit of the branch: who, when, and the ``Gitsm-*`` trailers (prefix removed).

    ``author`` and ``committer`` read ``Name <email>``; the committer made the commit (the same
    person unless GIT_COMMITTER_* or ``committer.*`` said otherwise, as for a CI bot).
    ``signature`` (``good``, ``bad``, ``untrusted``, ``unverified`` or ``none``; empty until
    :func:`gitsm.signatures.with_signatures` looked) and ``signer`` describe the commit's signature."""

    commit: str
    date: datetime
    author: str
    subject: str
    trailers: dict[str, str]
    committer: str = ""
    signature: str = ""
    signer: str = ""

    @property
    def operation(self) -> str | None:
        """The operation (``UpdateSecret`` ...), or None for a commit gitsm did not make."""
        return self.trailers.get("Operation")

    def concerns(self, secret_id: str) -> bool:
        """True when the commit is about ``secret_id``: a name, a full ARN or a partial ARN."""
        name, arn = self.trailers.get("Secret"), self.trailers.get("Secret-Arn")
        if secret_id in (name, arn):
            return True
        return arn is not None and len(arn) > 7 and arn[:-7] == secret_id


def parse_trailers(message: str) -> dict[str, str]:
    """The ``Gitsm-*`` trailers of the message's last paragraph, unescaped, prefix removed."""
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    if len(paragraphs) < 2:
        return {}
    out: dict[str, str] = {}
    for line in paragraphs[-1].splitlines():
        match = _TRAILER.fullmatch(line.strip())
        if match:
            out[match.group(1)] = unquote(match.group(2).strip())
    return out


def history(repo: GitRepo, *, secret_id: str | None = None) -> Iterator[HistoryEntry]:
    """The branch's commits, newest first; with ``secret_id``, only gitsm commits about it."""
    for info in repo.log():
        trailers = parse_trailers(info.message)
        entry = HistoryEntry(
            commit=info.commit_id,
            date=info.author_time,
            author=f"{info.author_name} <{info.author_email}>",
            committer=f"{info.committer_name} <{info.committer_email}>",
            subject=info.message.split("\n", 1)[0],
            trailers=trailers,
        )
        if secret_id is None or entry.concerns(secret_id):
            yield entry
