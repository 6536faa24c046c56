"""The merge driver: ``git merge``, ``git pull`` and ``git rebase`` merge store files by meaning.

For people who run plain git instead of ``gitsm sync``. A committed ``.gitattributes`` names the
driver for manifests and the store config (:data:`ATTRIBUTES`); git never takes a driver's command
from a repository, so each clone gets ``merge.gitsm.driver`` in its own config from ``gitsm init``
or ``gitsm hook install``. git then runs ``python -m gitsm.mergedriver %O %A %B %P %L`` whenever
both sides changed such a file, and the driver writes the merge into ``%A``:

* a manifest: every version of both sides kept, label moves replayed, description, key, deletion
  schedule and tags merged three-way, replica Regions as a set (:func:`gitsm.merge3.merge_secret`);
  ``last_changed`` never conflicts;
* the config: key aliases merge alias by alias, recipients added on both sides are all kept
  (:func:`gitsm.merge3.merge_config`).

The result is canonical, as gitsm writes it. Which side's label moves come last follows push order:
during ``git pull`` (merge) or a merge of a remote-tracking branch, your own side is pushed after the
one you merge in; during a rebase, cherry-pick or a merge of a local branch, the commit being
applied is. Anything both sides changed differently is a real conflict: the file gets conflict
markers around the two readings, a comment naming each conflicting fact, and git stops.

Envelopes are marked ``-merge``: two different envelopes at one path (the same token used for two
writes, or two re-wraps) always conflict instead of being merged as text.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from gitsm import paths
from gitsm.errors import GitsmError
from gitsm.gitenv import run_git
from gitsm.manifest import StoreConfig, dump_secret, load_secret
from gitsm.merge3 import Conflict, merge_config, merge_secret

DRIVER = "gitsm"
ATTRIBUTES_PATH = ".gitattributes"
ATTRIBUTES = (
    "# gitsm: merge store manifests and config by meaning (gitsm init sets up the driver)",
    f"secrets/**/{paths.MANIFEST} merge={DRIVER}",
    f"{paths.CONFIG_PATH} merge={DRIVER}",
    f"secrets/**/{paths.VERSIONS}/*.json -merge",
)
"""The lines gitsm keeps in the committed ``.gitattributes``."""


def attributes_text(current: bytes | None) -> bytes | None:
    """``.gitattributes`` with gitsm's lines added, or None when it has them all already."""
    text = (current or b"").decode("utf-8", "replace")
    have = {line.strip() for line in text.splitlines()}
    missing = [line for line in ATTRIBUTES if line not in have]
    if not missing:
        return None
    if text and not text.endswith("\n"):
        text += "\n"
    return (text + "\n".join(missing) + "\n").encode("utf-8")


def driver_command(python: str = sys.executable) -> str:
    """The ``merge.gitsm.driver`` command for this Python."""
    quoted = "'" + python.replace("'", "'\\''") + "'"
    return f"{quoted} -m gitsm.mergedriver %O %A %B %P %L"


def _git(*args: str) -> str:
    """Ask git about the repository whose merge runs this driver: the one git names in the
    driver's own ``GIT_DIR`` (git exports it when it was started with ``--git-dir``), else the one
    around the working directory git gives the driver (the top of the work tree)."""
    try:
        proc = run_git(args, git_dir=os.environ.get("GIT_DIR") or None, text=True)
    except OSError:
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def later_is_ours(env: Mapping[str, str] | None = None) -> bool:
    """True when our side (``%A``) will be pushed after theirs: see the module docstring."""
    env = os.environ if env is None else env
    gitdir = Path(_git("rev-parse", "--git-dir") or ".git")
    if (gitdir / "rebase-merge").exists() or (gitdir / "rebase-apply").exists():
        return False
    action = env.get("GIT_REFLOG_ACTION", "")
    if action.startswith("pull"):
        return True
    if action.startswith("merge "):
        for name in (a for a in action.split()[1:] if not a.startswith("-")):
            full = _git("rev-parse", "--symbolic-full-name", name)
            if name == "FETCH_HEAD" or full.startswith("refs/remotes/"):
                return True
    return False


def with_markers(ours: bytes, theirs: bytes, conflicts: Sequence[Conflict], size: int) -> bytes:
    """The two readings of a file, conflict markers around the lines where they differ, after a
    comment naming each conflicting fact."""
    import difflib

    notes = [f"# gitsm merge conflict: {c}\n" for c in conflicts]
    notes.append("# Keep one reading of each block (or edit), delete the markers and these lines, "
                 "then git add the file; or abort the merge and run 'gitsm sync'.\n")  # fmt: skip
    a = ours.decode("utf-8", "replace").splitlines(keepends=True)
    b = theirs.decode("utf-8", "replace").splitlines(keepends=True)
    out = list(notes)
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out += a[i1:i2]
        else:
            out += ["<" * size + " ours\n", *a[i1:i2], "=" * size + "\n", *b[j1:j2]]
            out.append(">" * size + " theirs\n")
    return "".join(out).encode("utf-8")


def merge_file(
    path: str, base: bytes | None, ours: bytes, theirs: bytes, *, ours_later: bool, size: int = 7
) -> tuple[bytes, list[Conflict]]:
    """The merge of one store file (``path`` says which kind); conflicts leave markers."""
    if path == paths.CONFIG_PATH:
        b = StoreConfig.load(base) if base else None
        o, t = StoreConfig.load(ours), StoreConfig.load(theirs)
        merged, conflicts = merge_config(b, o, t)
        if not conflicts:
            return merged.dump(), []
        other, _ = merge_config(b, o, t, prefer_theirs=True)
        return with_markers(merged.dump(), other.dump(), conflicts, size), conflicts
    where = path
    bs = load_secret(base, where) if base else None
    os_, ts = load_secret(ours, where), load_secret(theirs, where)
    first, later = (ts, os_) if ours_later else (os_, ts)
    merged_s, conflicts = merge_secret(bs, first, later)
    if not conflicts:
        return dump_secret(merged_s), []
    other_s, _ = merge_secret(bs, first, later, prefer_later=True)
    mine, yours = (other_s, merged_s) if ours_later else (merged_s, other_s)
    return with_markers(dump_secret(mine), dump_secret(yours), conflicts, size), conflicts


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gitsm.mergedriver BASE OURS THEIRS PATH [MARKER_SIZE]``: merge into OURS;
    exit 0 when clean, 1 on a conflict (git then stops the merge), as git expects of drivers."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 4:
        sys.stderr.write("usage: python -m gitsm.mergedriver BASE OURS THEIRS PATH [SIZE]\n")
        return 2
    base_file, ours_file, theirs_file, path = args[:4]
    size = int(args[4]) if len(args) > 4 and args[4].isdigit() else 7
    base = Path(base_file).read_bytes() or None
    ours, theirs = Path(ours_file).read_bytes(), Path(theirs_file).read_bytes()
    try:
        merged, conflicts = merge_file(path, base, ours, theirs, ours_later=later_is_ours(),
                                       size=size)  # fmt: skip
    except GitsmError as exc:  # a side that is not a valid store file: leave ours, conflict
        sys.stderr.write(f"gitsm merge driver: {path}: {exc.message}\n")
        return 1
    tmp = Path(ours_file + ".gitsm-tmp")
    tmp.write_bytes(merged)
    os.replace(tmp, ours_file)
    for conflict in conflicts:
        sys.stderr.write(f"gitsm merge driver: {path}: conflict: {conflict}\n")
    return 1 if conflicts else 0


if __name__ == "__main__":
    sys.exit(main())
