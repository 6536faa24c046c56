"""One materialization from start to end: read, check, then write (or hand over to a command).

Every problem (a secret that is missing, pending deletion or undecryptable; a missing JSON key; a
value the format cannot hold; a path that would leave ``--out`` or pass a symbolic link; a target
in a work tree; a file that cannot be written) ends the run with one :class:`MaterializeError`
listing them all, and nothing is written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, TextIO

from gitsm.materialize import confine, formats
from gitsm.materialize.errors import MaterializeError, SpecError
from gitsm.materialize.progress import Progress
from gitsm.materialize.read import StorePath, read_values
from gitsm.materialize.resolve import Item, build_items
from gitsm.materialize.spec import Entry, Spec
from gitsm.materialize.worktree import REFUSING, target_problems
from gitsm.materialize.writing import append_file, write_file, write_files

if TYPE_CHECKING:
    from gitsm.store import SecretStore

ENV_GITHUB = "GITHUB_ENV"


@dataclass
class Summary:
    """What a run wrote: how many values, where (paths only), from which commit."""

    count: int
    commit: str | None
    paths: list[str]


def entries_for(spec: Spec, fmt: str) -> list[Entry]:
    """The entries format ``fmt`` uses (``exec`` and the env formats take those with ``env``)."""
    if fmt == "files":
        chosen = [e for e in spec.entries if e.file is not None]
        wanted = "file paths ('file:' or --file)"
    elif fmt in formats.KEYED_FORMATS:
        chosen, wanted = list(spec.entries), "entries"
    else:
        chosen = [e for e in spec.entries if e.env is not None]
        wanted = "environment variables ('env:' or --env)"
    if not chosen:
        what = "gitsm exec" if fmt == "exec" else f"--format {fmt}"
        raise SpecError(f"nothing to materialize: {what} needs {wanted}, and none are given")
    return chosen


def collect(
    store: SecretStore | StorePath,
    spec: Spec,
    fmt: str,
    *,
    progress: TextIO | None = None,
    targets: Sequence[str] = (),
    check: Callable[[formats.Pairs], list[str]] | None = None,
) -> tuple[formats.Pairs, str]:
    """Read and check everything format ``fmt`` needs: its (name, item) pairs and the commit read.

    ``targets`` are the paths the run will write; a refused one (see :mod:`.worktree`) is reported
    in the same error as the read problems, and so is every problem ``check`` finds in the pairs
    (where they would be written), so one run shows everything to fix."""
    refused = target_problems(targets) if targets else []
    entries = entries_for(spec, fmt)
    bar = Progress(len({(e.secret_id, e.version_id, e.version_stage) for e in entries}),
                   "gitsm: reading secrets", stream=progress)  # fmt: skip
    try:
        results, commit = read_values(store, entries, tick=bar.tick)
    finally:
        bar.close()
    items, problems = build_items(results, entries, default_mode=spec.mode)
    pairs = formats.select(items, fmt)
    problems += formats.problems(pairs, fmt)
    if check is not None:
        problems += check(pairs)
    if refused:
        raise MaterializeError(problems + refused, outcome=REFUSING)
    if problems:
        raise MaterializeError(problems)
    return pairs, commit


def materialize(
    store: SecretStore | StorePath,
    spec: Spec,
    fmt: str,
    *,
    out: str | None = None,
    stdout: BinaryIO | None = None,
    progress: TextIO | None = None,
) -> Summary:
    """Materialize ``spec`` in format ``fmt``.

    ``files``: relative paths under ``out`` (default: the current directory).
    ``github``: masks on ``stdout``, variables appended to ``out`` (default ``$GITHUB_ENV``).
    Others: the document to the file ``out``, or to ``stdout``.
    """
    if fmt not in formats.FORMATS:
        raise SpecError(f"unknown format {fmt!r} (one of {', '.join(formats.FORMATS)})")
    env_file = (out or os.environ.get(ENV_GITHUB)) if fmt == "github" else None
    if fmt == "github" and not env_file:
        raise SpecError(
            f"--format github appends to ${ENV_GITHUB}, which is not set: run it in a GitHub "
            "Actions step, or give --out PATH"
        )
    if fmt == "files":
        return _write_files(store, spec, out or ".", progress)
    document = env_file or out  # the one file the other formats write, if any

    def check_document(_: formats.Pairs) -> list[str]:
        problem = confine.document_problem(document) if document else None
        return [problem] if problem else []

    targets = [document] if document else []
    pairs, commit = collect(store, spec, fmt, progress=progress, targets=targets,
                            check=check_document)  # fmt: skip
    if fmt == "github":
        assert env_file is not None
        _emit(stdout, formats.github_masks(pairs))  # masks first: the runner hides them from now on
        append_file(env_file, formats.github_env(pairs))
        return Summary(len(pairs), commit, [env_file])
    data = formats.render(pairs, fmt, k8s_name=spec.k8s_name, k8s_namespace=spec.k8s_namespace)
    if out:
        write_file(out, data)
        return Summary(len(pairs), commit, [out])
    _emit(stdout, data)
    return Summary(len(pairs), commit, [])


def _write_files(
    store: SecretStore | StorePath, spec: Spec, base: str, progress: TextIO | None
) -> Summary:
    """``--format files``: every path below ``base``, checked (see :mod:`.confine`), then written."""
    entries = entries_for(spec, "files")
    places = _Places(base)
    outside = confine.entry_problems(entries, places.parts)
    targets = [places.joined(e.file) for e in entries if e.file and places.confined(e.file)]

    def check_paths(pairs: formats.Pairs) -> list[str]:
        placed = [(name, p) for name, _ in pairs if (p := places.confined(name)) is not None]
        return outside + confine.link_problems(base, placed)

    pairs, commit = collect(store, spec, "files", progress=progress, targets=targets,
                            check=check_paths)  # fmt: skip
    files: list[tuple[confine.Parts, bytes, int]] = []
    for name, item in pairs:
        parts = places.confined(name)
        if parts is None:  # collect has refused it already; fail closed even so
            raise MaterializeError([f"{name} would leave --out {base}"])
        files.append((parts, item.value, item.mode))
    write_files(base, files)
    return Summary(len(files), commit, [places.joined(name) for name, _ in pairs])


class _Places:
    """Each file path's components below ``--out`` and its path as shown, worked out once per
    path (a run looks at each several times)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._parts: dict[str, confine.Parts | str] = {}
        self._joined: dict[str, str] = {}
        top = os.path.normpath(base)
        self._prefix = "" if top == "." else top if top.endswith("/") else top + "/"

    def parts(self, name: str) -> confine.Parts | str:
        """:func:`.confine.parts_of` of ``name``."""
        found = self._parts.get(name)
        if found is None:
            found = self._parts[name] = confine.parts_of(name)
        return found

    def confined(self, name: str) -> confine.Parts | None:
        """The components of ``name`` below ``--out``; None when it would leave it."""
        found = self.parts(name)
        return None if isinstance(found, str) else found

    def joined(self, name: str) -> str:
        """``base/name`` as pathlib shows it (no ``./`` or doubled ``/``; a confined ``name``
        holds no ``..``), without building a Path per file."""
        found = self._joined.get(name)
        if found is None:
            parts = self.confined(name)
            if parts is None:
                found = os.path.normpath(os.path.join(self.base, name))
            else:  # what normpath makes of it: --out's own form, then the parts
                found = self._prefix + "/".join(parts)
            self._joined[name] = found
        return found


def _emit(stream: BinaryIO | None, data: bytes) -> None:
    if stream is None:
        import sys

        stream = sys.stdout.buffer
    stream.write(data)
    stream.flush()


def environment(
    store: SecretStore | StorePath,
    spec: Spec,
    *,
    base: dict[str, str] | None = None,
    progress: TextIO | None = None,
) -> dict[str, str]:
    """The environment for ``gitsm exec``: ``base`` (default: this process's) plus the secrets."""
    pairs, _ = collect(store, spec, "exec", progress=progress)
    env = dict(os.environ if base is None else base)
    env.update(_env_values(pairs))
    return env


def _env_values(pairs: Sequence[tuple[str, Item]]) -> dict[str, str]:
    return {name: item.value.decode("utf-8") for name, item in pairs}
