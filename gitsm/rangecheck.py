"""``gitsm verify --range A..B``: every commit of a push is a well-formed gitsm operation.

For each commit reachable from B and not from A, oldest first, in one process:

* a commit that does not touch ``secrets/`` or ``.gitsm/`` is not looked at further;
  ``.gitsm/server.yaml`` (gitsm serve's policy) is an administrator's file, changed by plain git
  commits: a commit changing it needs no operation, and only the file itself is checked;
* the store files it changed are checked as ``gitsm verify`` checks a tree, but only those
  (:func:`gitsm.verify.verify_snapshot` with ``changed``): the cost follows the change, not the
  store's size;
* its change must be what its operation may do from its parent (:mod:`gitsm.opcheck`);
* a merge commit's store files must each be one parent's version or the gitsm merge driver's merge
  of the two (in either order of sides), so merges made with the driver verify against both parents.

The tree of B is checked in full too, once, so a push cannot build on damage the range does not
show. Problems name the commit; none when the whole range is sound.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from gitsm import paths
from gitsm.commitop import CommitOp, in_store, read_commit_op
from gitsm.errors import GitsmError, StoreError
from gitsm.gitrepo import GitRepo, Snapshot
from gitsm.keys import KeyService
from gitsm.manifest import StoreConfig
from gitsm.mergedriver import merge_file
from gitsm.opcheck import OperationCheck, merge_problem
from gitsm.problems import Problem
from gitsm.verify import verify_snapshot
from gitsm.verifyfiles import UNKNOWN_KEY_FIX

NULL = "0" * 40


def range_commits(repo: GitRepo, spec: str) -> tuple[list[str], str]:
    """The commits ``A..B`` names (oldest first) and B. An empty or all-zero A means every commit
    reachable from B."""
    start, sep, end = spec.partition("..")
    if not sep:
        raise StoreError(f"--range takes A..B (two revisions), not {spec!r}.")
    tip = repo.snapshot_at(end or "HEAD").commit_id
    assert tip is not None
    hidden = None if start.strip("0") == "" else repo.snapshot_at(start).commit_id
    return repo.commits_between(hidden, tip), tip


def _config(
    repo: GitRepo, snap: Snapshot, cache: dict[str, StoreConfig | None]
) -> StoreConfig | None:
    """The config at ``snap``, parsed once per blob across the range."""
    blob = snap.blob_id(paths.CONFIG_PATH)
    if blob is None:
        return None
    if blob not in cache:
        try:
            cache[blob] = StoreConfig.load(repo.read_blob(blob))
        except GitsmError:
            cache[blob] = None
    return cache[blob]


def _check_merge(repo: GitRepo, op: CommitOp) -> list[Problem]:
    """A merge commit: each store file is a parent's, or the driver's merge of the parents'."""
    commit, parents = op.commit.commit_id, op.commit.parents
    sides = [repo.snapshot_of(p) for p in parents]
    base_id = repo.merge_base_of(parents[0], parents[1]) if len(parents) == 2 else None
    base = repo.snapshot_of(base_id) if base_id else None
    mine = repo.snapshot_of(commit)
    changed = {c.path for p in parents for c in repo.changed_files(p, commit) if in_store(c.path)}
    problems = []
    for path in sorted(changed):
        blob = mine.blob_id(path)
        if blob in {s.blob_id(path) for s in sides}:
            continue
        if (
            blob is not None
            and base is not None
            and len(sides) == 2
            and _driver_made(path, base, sides, mine)
        ):
            continue
        problems.append(merge_problem(commit, path))
    return problems


def _driver_made(path: str, base: Snapshot, sides: list[Snapshot], mine: Snapshot) -> bool:
    """True when ``mine``'s file at ``path`` is the merge driver's merge of the two sides."""
    if not (path == paths.CONFIG_PATH or path.endswith("/" + paths.MANIFEST)):
        return False
    ours, theirs, got = sides[0].read(path), sides[1].read(path), mine.read(path)
    if ours is None or theirs is None:
        return False
    for ours_later in (True, False):
        try:
            merged, conflicts = merge_file(
                path, base.read(path), ours, theirs, ours_later=ours_later
            )
        except GitsmError:
            return False
        if not conflicts and merged == got:
            return True
    return False


def verify_range(
    repo_path: str | Path,
    spec: str,
    *,
    keys: KeyService | None = None,
    allowed_signers: str | Path | None = None,
) -> list[Problem]:
    """The problems of the commits ``spec`` (``A..B``) names and of B's tree; see the module.

    With ``allowed_signers`` (an ssh allowed_signers file, a GnuPG home or keyring), every commit
    of the range must also carry a good signature by an allowed signer (:mod:`gitsm.signatures`).
    """
    repo = GitRepo.open(repo_path)
    keys = keys or KeyService()
    commits, tip = range_commits(repo, spec)
    problems: list[Problem] = []
    if allowed_signers is not None:
        from gitsm.signatures import signature_problems

        problems += signature_problems(repo, commits, allowed_signers)
    configs: dict[str, StoreConfig | None] = {}
    for commit in commits:
        op = read_commit_op(repo, commit)
        server = any(c.path == paths.SERVER_PATH for c in op.outside)
        if not op.touches_store and not op.is_merge and not server:
            continue
        if op.is_merge:
            problems += _check_merge(repo, op)
            continue
        snap = repo.snapshot_of(commit)
        if _holds_store(snap):  # history from before the store began is not a store's
            changed = _changed_paths(op)
            found = verify_snapshot(snap, keys=keys, changed=changed)
            # which keys are known is a question for the tip (a server holds none, and versions
            # keep a removed recipient's stanza until the next rekey): judged once, below
            problems += _named(commit, [p for p in found if p.fix != UNKNOWN_KEY_FIX])
        problems += OperationCheck(op, repo.read_blob, _config(repo, snap, configs)).run()
    last = repo.snapshot_of(tip)
    if _holds_store(last):
        problems += verify_snapshot(last, keys=keys)
    return _unique(problems)


def _holds_store(snap: Snapshot) -> bool:
    return snap.blob_id(paths.CONFIG_PATH) is not None or snap.is_dir(paths.SECRETS_ROOT)


def _changed_paths(op: CommitOp) -> list[str]:
    out = list(op.strays) + [c.path for c in op.outside if c.path == paths.SERVER_PATH]
    if op.config is not None:
        out.append(paths.CONFIG_PATH)
    for directory, change in op.secrets.items():
        out.append(f"{directory}/{paths.MANIFEST}")
        out += [f"{directory}/{paths.VERSIONS}/{name}" for name in change.envelopes]
    return out


def _named(commit: str, problems: Iterable[Problem]) -> list[Problem]:
    """Problems of one commit's tree, saying which commit."""
    return [Problem(p.path, f"{p.problem} (in commit {commit[:12]})", p.fix) for p in problems]


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    out = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out
