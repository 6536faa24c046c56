"""What each secret's directory resolved to in earlier quick reads: kept beside the repository so
that reading the same secrets again skips their trees, manifests and envelope files.

A batch of quick reads (:mod:`gitsm.quickbatch`) spends most of its time finding each secret
(its tree, its manifest read and parsed), the version a request names and that version's
envelope file (read and checked). All of that is a function of the secret directory's tree id:
git names a tree by its content, so the same directory at the same id holds the same manifest and
the same envelopes. This memo keeps, per secret directory (its path and tree id), the manifest's
ARN and, per request (VersionId, VersionStage), the envelope of the version it resolved to, as
:func:`gitsm.quickopen.parse_envelope` and :func:`~gitsm.quickopen.sealed_parts` checked and
decoded it (with the authenticated data both of its layers are opened with). A later batch
walks the root tree as before (checked), finds each secret directory's id, and takes what the
memo holds for that id; anything the memo does not hold is read as before and added.

A CI job or a developer reads the same requests again and again at the same commit: the memo also
keeps the last batch that it answered whole, as the root tree's id, the requests (compared whole)
and the key of the directory each request's walk ended at. The same requests at the same root tree
walk to the same directories (a tree id names the whole tree below it), so that batch takes each
answer by its key without walking; any key the memo no longer holds, or a request it does not
answer there, and the batch is walked as before.

Nothing secret is kept: the envelope's ciphertext and wrapped data key, which the repository
holds anyway. Keys are looked up and every envelope is opened (authenticated) at every read. The
file (``<common git dir>/gitsm/quick-memo``) is written whole and renamed into place, with a
CRC-32 of its body; a file that is missing, damaged or of another format is an empty memo, and a
file that cannot be written is no memo. It is bounded (:data:`ENTRIES_MAX`, and envelopes over
:data:`ENVELOPE_KEPT_MAX` bytes are not kept).
"""

from __future__ import annotations

import os

from gitsm import memofile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from gitsm.quickopen import Parts

FILE = "quick-memo"
_TAG = b"gitsm-quick-memo-3\n"
ENTRIES_MAX = 4096
"""Secret directories the file holds at most (or four times as many as the batch that wrote it
used, when that is more): those the batch used first, then older ones."""
ENVELOPE_KEPT_MAX = 8192
"""Envelope files larger than this (large values) are read from the repository every time."""

Entry = tuple[str, dict[tuple[str | None, str | None], "Parts"]]
"""(the secret's ARN, the answer of each (VersionId, VersionStage) asked)."""
Batch = tuple[str, list[tuple[str, str | None, str | None]], list[str]]
"""(the root tree's id, the requests, the key of each request's secret directory)."""


class Memo:
    """The memo of one repository: what it held when loaded, and what this batch adds."""

    def __init__(self, common: str) -> None:
        self.path = os.path.join(common, "gitsm", FILE)
        self.known, self.batch = _load(self.path)
        self.added: dict[str, Entry] = {}
        self.used: set[str] = set()
        self.new_batch: Batch | None = None

    def get(self, key: str) -> Entry | None:
        """The entry of the secret directory ``key`` (:func:`key_of`), if any."""
        entry = self.added.get(key) or self.known.get(key)
        if entry is not None:
            self.used.add(key)
        return entry

    def replay(
        self, tree: str, requests: Sequence[tuple[str, str | None, str | None]]
    ) -> list[Parts | None] | None:
        """The answers of the last batch answered whole (none of them None), when it asked
        ``requests`` at the root tree ``tree`` too and the memo still holds every answer; None
        otherwise."""
        batch = self.batch
        if batch is None or batch[0] != tree or batch[1] != list(requests):
            return None
        out: list[Parts | None] = []
        for request, key in zip(batch[1], batch[2], strict=True):
            entry = self.get(key)
            hit = entry[1].get(request[1:]) if entry is not None else None
            if hit is None:
                return None
            out.append(hit)
        return out

    def note_batch(
        self, tree: str, requests: Sequence[tuple[str, str | None, str | None]], keys: list[str]
    ) -> None:
        """Keep this batch, answered whole, for :meth:`replay` (saved with the memo)."""
        batch = (tree, list(requests), keys)
        if batch != self.batch:
            self.new_batch = batch

    def add(
        self, key: str, arn: str, request: tuple[str | None, str | None], answer: Parts
    ) -> None:
        """Note what ``request`` resolved to in the secret directory ``key``."""
        if sum(map(len, answer)) > ENVELOPE_KEPT_MAX:
            return
        old = self.get(key)
        answers = dict(old[1]) if old is not None else {}
        answers[request] = answer
        self.added[key] = (arn, answers)
        self.used.add(key)

    def notes(self) -> tuple[dict[str, Entry], set[str]]:
        """What this batch added and used, for :meth:`merge` in another process."""
        return self.added, self.used

    def merge(self, notes: object) -> None:
        """Take what another process's batch (a forked helper) added and used (:meth:`notes`)."""
        if not (isinstance(notes, tuple) and len(notes) == 2):
            return
        added, used = notes
        for key, entry in added.items():
            old = self.added.get(key) or self.known.get(key)
            if old is not None:
                entry = (entry[0], {**old[1], **entry[1]})
            self.added[key] = entry
        self.used |= used

    def save(self) -> None:
        """Write the memo when this batch added to it: the entries used first, then older ones
        while there is room, and the batch to replay. Quietly nothing when the file cannot be
        written."""
        if not self.added and self.new_batch is None:
            return
        kept = {k: self.added.get(k) or self.known[k] for k in self.used}
        room = max(ENTRIES_MAX, 4 * len(kept))
        for key, entry in self.known.items():
            if len(kept) >= room:
                break
            kept.setdefault(key, entry)
        memofile.write(self.path, _TAG, (kept, self.new_batch or self.batch))


def key_of(directory: str, tree: str) -> str:
    """The memo's key of the secret directory at path ``directory`` with tree id ``tree``."""
    return f"{tree} {directory}"


def _load(path: str) -> tuple[dict[str, Entry], Batch | None]:
    loaded = memofile.read(path, _TAG)
    if not (isinstance(loaded, tuple) and len(loaded) == 2 and isinstance(loaded[0], dict)):
        return {}, None
    known, batch = loaded
    usable = (
        isinstance(batch, tuple) and len(batch) == 3 and isinstance(batch[0], str)
        and isinstance(batch[1], list) and isinstance(batch[2], list)
        and len(batch[1]) == len(batch[2])
    )  # fmt: skip
    return known, batch if usable else None
