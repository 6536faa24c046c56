"""``gitsm verify``: check that a tree is a well-formed store (docs/FORMAT.md), one problem a line.

Checked, for a commit (``rev``), the branch tip, or the staged index:

* ``.gitsm/config.yaml`` exists, is a regular file within its size limit, parses strictly (no
  YAML anchors, aliases or tags; every field of its type and size), has a format this gitsm reads
  and a key registry whose recipients name known providers;
* every file under ``secrets/`` is a known kind: a ``~secret.yaml`` manifest or a
  ``~versions/<file>.json`` envelope, in a directory that is the encoding of a secret name, and a
  regular file (mode 100644: no symbolic link, gitlink or executable) within its size limit;
* each manifest parses strictly (as the config does), is canonical (re-dumping it gives the same
  bytes), names the secret its directory encodes, carries an ARN of this store, keeps the label
  invariants, and uses key ids that the registry or a provider knows;
* the manifest's versions and the envelope files agree both ways;
* each envelope is canonical JSON of a known format and cipher, every field of its type and size,
  its ``secret`` and ``version_id`` match its path, its type matches the manifest, and every key
  stanza names a known key;
* with ``decrypt``, every labeled version decrypts;
* ``.gitsm/server.yaml`` (gitsm serve's policy), when there is one, parses strictly
  (:mod:`gitsm.serverpolicy`).

The staged check is incremental: only the secret directories that the staged changes touch are
checked (everything when the config changes), so it stays fast on a big store. Through
:func:`run_verify` it also runs the leak guard (:mod:`gitsm.leaks`).

A file the strict readers refuse (:mod:`gitsm.treefiles`, :mod:`gitsm.strict`) is one problem, its
``path``, ``problem`` and ``fix`` taken from the refusal; nothing more is checked in it. The checks
of single files live in :mod:`gitsm.verifyfiles`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from gitsm import paths, treefiles, verifymemo
from gitsm.errors import MalformedEnvelope, MalformedStoreFile
from gitsm.gitrepo import GITLINK_MODE, GitRepo, Snapshot
from gitsm.keys import KeyService
from gitsm.paths import classify, is_store_path
from gitsm.problems import RESTORE, REWRITE, Problem
from gitsm.providers import PROVIDERS
from gitsm.serverpolicy import parse_rules
from gitsm.verifyfiles import UNKNOWN_KEY_FIX, FileChecks

__all__ = ["NOT_GITSM", "RESTORE", "REWRITE", "UNKNOWN_KEY_FIX", "UNMERGED", "Checker", "Problem",
           "classify", "index_file_from_env", "orphan_fix", "run_verify", "verify_snapshot"]  # fmt: skip

NOT_GITSM = "is not a gitsm file"
NOT_GITSM_FIX = (
    "secrets/ holds only ~secret.yaml manifests and ~versions/*.json envelopes: move the file out "
    "of secrets/ or git rm --cached it; if it holds a secret value, rotate that value"
)
UNMERGED = "is unmerged (a merge or rebase left a conflict here)"
UNMERGED_FIX = (
    "resolve it: with the gitsm merge driver installed (gitsm init) re-run the merge, or edit the "
    "file, then git add it"
)


def not_gitsm(mode: int) -> str:
    """The problem of a file under ``secrets/`` that is no store file, naming an odd git mode."""
    kinds = {0o120000: "a symbolic link", 0o160000: "a gitlink", 0o100755: "an executable"}
    return f"{NOT_GITSM} ({kinds[mode]})" if mode in kinds else NOT_GITSM


def orphan_fix(path: str) -> str:
    """How to bring back the version of an envelope its manifest lost, never by deleting it."""
    return (
        "the manifest lost this version, often in a merge that kept only one side's manifest; "
        "the envelope may be a teammate's write, so keep it: find the commit that wrote it "
        f"(git log --all --diff-filter=A -- {path}), then redo the merge with the gitsm merge "
        "driver or run gitsm sync, or restore the version's entry in the manifest from that commit"
    )


class Checker(FileChecks):
    """Collects the problems of one snapshot; see the module docstring for what is checked."""

    def check_all(self) -> list[Problem]:
        """Check the whole tree."""
        self.check_config()
        self.check_server()
        groups: dict[str, list[str]] = {}
        for path, mode in self.snap.entries_under(paths.SECRETS_ROOT):
            found = classify(path)
            if found is None:
                self.add(path, not_gitsm(mode), NOT_GITSM_FIX)
                continue
            envelopes = groups.setdefault(found[1], [])
            if found[0] == "envelope":
                envelopes.append(path.rsplit("/", 1)[1])
        for directory in sorted(groups):
            self.check_secret(directory, groups[directory])
        return self.problems

    def check_changes(self, changed: Iterable[str]) -> list[Problem]:
        """Check only what the ``changed`` paths touch (everything if the config changed)."""
        changed = list(changed)
        store_paths = sorted(p for p in changed if is_store_path(p))
        if paths.CONFIG_PATH in store_paths:
            return self.check_all()
        if paths.SERVER_PATH in changed:
            self.check_server()
        if not store_paths:
            return self.problems
        self.check_config()
        directories: set[str] = set()
        for path in store_paths:
            found = classify(path)
            entry = self.snap.file(path, 0) if found is None else None
            if found is not None:
                directories.add(found[1])
            elif entry is not None:
                self.add(path, not_gitsm(entry.mode), NOT_GITSM_FIX)
        for directory in sorted(directories):
            envelopes: list[str] = []
            versions_dir = f"{directory}/{paths.VERSIONS}"
            for name, is_dir in self.snap.list_dir(versions_dir):
                if is_dir or not name.endswith(".json"):
                    for path, mode in self.snap.entries_under(f"{versions_dir}/{name}"):
                        self.add(path, not_gitsm(mode), NOT_GITSM_FIX)
                else:
                    envelopes.append(name)
            if envelopes or self.snap.file(f"{directory}/{paths.MANIFEST}", 0) is not None:
                self.check_secret(directory, envelopes)
        return self.problems

    def check_server(self) -> None:
        """Check ``.gitsm/server.yaml`` (gitsm serve's policy) when the tree has one."""
        try:
            data = treefiles.server_policy_bytes(self.snap)
            if data is not None:
                parse_rules(data)
        except MalformedStoreFile as exc:
            self.refused(exc)

    def check_config(self) -> None:
        """Check ``.gitsm/config.yaml`` and remember its key registry."""
        where = paths.CONFIG_PATH
        try:
            self.config = treefiles.read_config(self.snap)
        except MalformedStoreFile as exc:
            self.refused(exc)
            return
        if self.config is None:
            self.add(where, "is missing: this tree is not a gitsm store", "run 'gitsm init'")
            return
        for alias, recipients in self.config.keys.items():
            for r in recipients:
                provider, key_id = r["provider"], r["key_id"]
                if provider not in PROVIDERS:
                    self.add(where, f"key alias {alias} has a recipient with unknown provider "
                             f"{provider!r}", "fix it, or upgrade gitsm")  # fmt: skip
                self._registry.add((provider, key_id))

    def check_secret(self, directory: str, envelopes: list[str]) -> None:
        """Check one secret directory: its manifest and the envelopes in its ``~versions``."""
        where = f"{directory}/{paths.MANIFEST}"
        try:
            dir_name: str | None = paths.name_from_dir(directory)
        except ValueError:
            dir_name = None
        if dir_name is None or paths.secret_dir(dir_name) != directory:
            dir_name = None
            self.add(directory, "is not the directory of any secret name (docs/FORMAT.md)",
                     "move the secret's files to the directory its name maps to")  # fmt: skip
        try:
            data = treefiles.manifest_bytes(self.snap, where)
        except MalformedStoreFile as exc:  # not a regular file, or too large to read
            self.refused(exc)
            return
        if data is None:
            for name in envelopes:
                self.add(f"{directory}/{paths.VERSIONS}/{name}", "is an envelope without a "
                         "manifest", f"restore {where} from git history (git log --all -- "
                         f"{where}); the envelope may be a teammate's write, so remove it only "
                         "if the secret was deleted on purpose (gitsm delete-secret)")  # fmt: skip
            return
        secret = self.check_manifest(where, data, dir_name)
        if secret is None:
            return
        expected = {paths.version_file_name(vid): v for vid, v in secret.versions.items()}
        for name, info in expected.items():
            path = f"{directory}/{paths.VERSIONS}/{name}"
            try:
                blob = (
                    treefiles.envelope_bytes(self.snap, secret.name, info.version_id, path)
                    if name in envelopes
                    else None
                )
            except MalformedEnvelope as exc:  # not a regular file, or too large to read
                self.refused(exc)
                continue
            if blob is None:
                self.add(path, f"is missing although the manifest lists version {info.version_id}",
                         RESTORE + ", or remove the version from the manifest")  # fmt: skip
            else:
                self.check_envelope(path, secret, info, blob)
        for name in envelopes:
            if name not in expected:
                path = f"{directory}/{paths.VERSIONS}/{name}"
                self.add(path, "is an envelope of a version the manifest does not list",
                         orphan_fix(path))  # fmt: skip


def verify_snapshot(
    snap: Snapshot,
    *,
    keys: KeyService | None = None,
    decrypt: bool = False,
    changed: Iterable[str] | None = None,
) -> list[Problem]:
    """Problems of the tree in ``snap``; only what ``changed`` touches when it is given."""
    checker = Checker(snap, keys or KeyService(), decrypt=decrypt)
    return checker.check_all() if changed is None else checker.check_changes(changed)


def _verify_tip(repo: GitRepo, keys: KeyService, *, decrypt: bool, full: bool) -> list[Problem]:
    """The problems of the tip's tree: only what changed since the last tree found clean, when
    that is known and may be trusted (see :mod:`gitsm.verifymemo`), else all of it."""
    snap = repo.tip()
    checker = Checker(snap, keys, decrypt=decrypt)
    since = None if full or decrypt else verifymemo.changed_since(repo, snap, checker.claimed_by)
    if since is not None:
        changed, claims = since
        if not checker.check_changes(changed):
            verifymemo.save(repo, snap, {**claims, **checker.claims()})
            return []
        checker = Checker(snap, keys, decrypt=decrypt)  # report what a full check reports
    problems = checker.check_all()
    if not problems:
        verifymemo.save(repo, snap, checker.claims())
    return problems


def index_file_from_env(repo: GitRepo) -> str | None:
    """The index that ``GIT_INDEX_FILE`` names (git sets it for hooks), if it belongs to ``repo``."""
    return repo.index_file_from_env()


def run_verify(
    repo_path: str | Path,
    rev: str | None = None,
    staged: bool = False,
    decrypt: bool = False,
    *,
    leaks: bool | None = None,
    structure: bool = True,
    keys: KeyService | None = None,
    full: bool = False,
) -> list[Problem]:
    """Verify the store at ``repo_path``: the branch tip, the commit ``rev``, or the staged index.

    With ``staged`` the check is incremental (only what the staged changes touch; nothing when
    neither the index nor HEAD holds a store config, as on an application branch whose store lives
    on another branch) and the leak guard runs too (``leaks=False`` skips it; ``structure=False``
    runs only the leak guard). Except with ``rev``, each unmerged index path of the store (a
    conflict a merge or rebase left) is one problem, and the secrets they belong to are not
    checked further until it is resolved.
    The tip's check (neither ``rev`` nor ``staged``) checks only what changed since the last tree
    it found clean (:mod:`gitsm.verifymemo`), unless ``full`` or ``decrypt`` is given; the
    problems it reports are always those of a full check.
    Returns the problems, empty when there are none. Raises StoreError when the repository or
    ``rev`` cannot be read, ValueError when both ``rev`` and ``staged`` are given.
    """
    if rev is not None and staged:
        raise ValueError("give rev or staged, not both")
    repo = GitRepo.open(repo_path)
    keys = keys or KeyService()
    index_file = index_file_from_env(repo) if staged else None
    unmerged = (
        [p for p in repo.unmerged_paths(index_file) if is_store_path(p)] if rev is None else []
    )
    problems = [Problem(path, UNMERGED, UNMERGED_FIX) for path in unmerged if structure]
    if not staged:
        if not structure:
            return []
        if rev is not None:
            return problems + verify_snapshot(repo.snapshot_at(rev), keys=keys, decrypt=decrypt)
        return problems + _verify_tip(repo, keys, decrypt=decrypt, full=full)
    entries = repo.staged_entries(index_file)  # gitlinks too: no store file may be one
    # a secret with an unmerged path is checked once that conflict is resolved
    held = {found[1] for found in map(classify, unmerged) if found is not None}
    checked = [p for p in entries if (classify(p) or ("", ""))[1] not in held]
    if structure and any(is_store_path(p) or p == paths.SERVER_PATH for p in checked):
        snap = repo.staged_snapshot(index_file)
        if any(s.file(paths.CONFIG_PATH, 0) for s in (snap, repo.head_snapshot())):
            problems += verify_snapshot(snap, keys=keys, decrypt=decrypt, changed=checked)
    if leaks is not False:
        from gitsm.leaks import guard

        files = {p: e and e[1] for p, e in entries.items() if e is None or e[0] != GITLINK_MODE}
        problems += guard(repo, files, keys).problems
    return problems
