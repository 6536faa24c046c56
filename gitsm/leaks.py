"""The leak guard: no staged file may hold the plaintext of a secret that the store manages.

gitsm knows exactly which values it manages, so it stops the leaks that entropy-based scanners miss
(a short password, a value that looks like prose). The values looked for are those of every labeled
version (AWSCURRENT, AWSPREVIOUS, AWSPENDING or any custom label) of every secret on the store's
branch, each decrypted once with the keys at hand:

* the value itself, when it has 8 bytes or more;
* for a JSON SecretString, every string in it (at any depth) of 8 bytes or more;
* for a SecretBinary, also its base64 text.

Only the staged changes are scanned (files added or modified relative to HEAD, as staged in the
index, not as in the work tree), so the cost is that of the change plus one decryption per labeled
version. A hit names the file, the line and the secret, never the value. A line that contains
``gitsm:allow`` is not reported: the way to keep a value that is deliberately public (a host name
in a JSON secret, say), visible to reviewers in the diff. When no key is at hand for any labeled
version the guard cannot look; it says so in a note and reports nothing.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitsm import envelope, paths, treefiles
from gitsm.errors import DecryptionFailure, MalformedEnvelope, MalformedStoreFile
from gitsm.gitrepo import GitRepo, Snapshot
from gitsm.keys import KeyService
from gitsm.model import Secret
from gitsm.problems import Problem

MIN_BYTES = 8
ALLOW_MARKER = b"gitsm:allow"
FIX = (
    "remove it and read the secret at run time with gitsm exec or gitsm materialize; "
    "rotate the value if it was ever committed or pushed"
)
log = logging.getLogger("gitsm.leaks")


@dataclass
class LeakReport:
    """What the leak guard found: problems (file:line), notes, and what it looked at."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_scanned: int = 0
    values: int = 0
    undecryptable: int = 0


def _json_strings(doc: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string leaf of a JSON document, with a readable key path."""
    if isinstance(doc, str):
        yield where, doc
    elif isinstance(doc, dict):
        for key, value in doc.items():
            yield from _json_strings(value, f"{where}.{key}" if where else str(key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _json_strings(value, f"{where}[{i}]")


def needles_of(value: bytes, kind: str, label: str) -> dict[bytes, str]:
    """The byte strings to look for for one value, each with a description (never the value)."""
    out: dict[bytes, str] = {}
    if len(value) >= MIN_BYTES:
        out[value] = f"the {label}"
    if kind == "binary":
        encoded = base64.b64encode(value)
        if len(encoded) >= MIN_BYTES:
            out.setdefault(encoded, f"the {label} (base64)")
    elif value.lstrip()[:1] in (b"{", b"["):
        try:  # a value nested too deep for the JSON reader (or for the walk) is looked for whole
            doc = json.loads(value)
            strings = list(_json_strings(doc))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return out
        for key, text in strings:
            raw = text.encode("utf-8")
            if len(raw) >= MIN_BYTES:
                out.setdefault(raw, f"JSON key {key!r} of the {label}")
    return out


def managed_values(snap: Snapshot, keys: KeyService) -> tuple[dict[bytes, str], int]:
    """Needles for every labeled version in ``snap``, and how many versions did not decrypt."""
    needles: dict[bytes, str] = {}
    failed = 0
    labelled: list[tuple[str, Secret, str, str]] = []  # envelope path, secret, VersionId, label
    for directory, secret in treefiles.each_manifest(snap):
        if isinstance(secret, MalformedStoreFile):
            continue  # gitsm verify reports it
        for vid, info in secret.versions.items():
            if info.stages:
                where = f"{directory}/{paths.VERSIONS}/{paths.version_file_name(vid)}"
                label = f"{'/'.join(info.stages)} value of secret {secret.name}"
                labelled.append((where, secret, vid, label))
    for start in range(0, len(labelled), envelope.OPEN_BATCH):  # read and open a batch at a time
        items: list[envelope.Sealed] = []
        labels: list[str] = []
        for where, secret, vid, label in labelled[start : start + envelope.OPEN_BATCH]:
            try:
                sealed = treefiles.envelope_bytes(snap, secret.name, vid, where)
            except MalformedEnvelope:
                sealed = None  # gitsm verify reports it, and it does not decrypt
                failed += 1
            if sealed is not None:  # gitsm verify reports a missing envelope
                items.append((sealed, secret.name, secret.arn, vid))
                labels.append(label)
        for label, result in zip(labels, envelope.open_values(items, keys), strict=True):
            if isinstance(result, DecryptionFailure):
                failed += 1
                continue
            for needle, what in needles_of(*result, label).items():
                needles.setdefault(needle, what)
    return needles, failed


def scan(path: str, data: bytes, needles: Mapping[bytes, str]) -> list[Problem]:
    """One problem per line of ``data`` that holds a needle (lines with ``gitsm:allow`` excepted)."""
    hits: dict[int, str] = {}
    for needle, what in needles.items():
        start = data.find(needle)
        while start != -1:
            line_start = data.rfind(b"\n", 0, start) + 1
            line_end = data.find(b"\n", start)
            line = data[line_start : len(data) if line_end == -1 else line_end]
            if ALLOW_MARKER not in line:
                hits.setdefault(data.count(b"\n", 0, start) + 1, what)
            start = data.find(needle, start + 1)
    return [Problem(f"{path}:{n}", f"contains {hits[n]}", FIX) for n in sorted(hits)]


def guard(
    repo: GitRepo,
    changes: Mapping[str, str | None],
    keys: KeyService,
    *,
    store: Snapshot | None = None,
) -> LeakReport:
    """Scan the blobs that ``changes`` adds or modifies for the values managed in ``store``.

    ``store`` defaults to the tip of the store's branch: the values gitsm operations committed.
    """
    report = LeakReport()
    targets = sorted((path, blob) for path, blob in changes.items() if blob is not None)
    if not targets:
        return report
    needles, report.undecryptable = managed_values(store or repo.tip(), keys)
    report.values = len(needles)
    if report.undecryptable:
        note = (
            f"leak guard: {report.undecryptable} labeled version(s) could not be decrypted with "
            "the keys at hand, so their values were not looked for"
        )
        if not needles:
            note = "leak guard: no key at hand for any labeled version; nothing was looked for"
        report.notes.append(note)
        log.warning(note)
    if not needles:
        return report
    for path, blob in targets:
        report.files_scanned += 1
        report.problems += scan(path, repo.read_blob(blob), needles)
    return report


def run_leak_guard(repo_path: str | Path, *, keys: KeyService | None = None) -> LeakReport:
    """Run the leak guard on what is staged in the repository at ``repo_path``."""
    repo = GitRepo.open(repo_path)
    changes = repo.staged_changes(repo.index_file_from_env())
    return guard(repo, changes, keys or KeyService())
