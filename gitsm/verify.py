"""``gitsm verify``: check that a tree is a well-formed store (docs/FORMAT.md), one problem a line.

Checked, for a commit (``rev``), the branch tip, or the staged index:

* ``.gitsm/config.yaml`` exists, parses, has a format this gitsm reads and a key registry whose
  recipients name known providers;
* every file under ``secrets/`` is a known kind: a ``~secret.yaml`` manifest or a
  ``~versions/<file>.json`` envelope, in a directory that is the encoding of a secret name;
* each manifest parses, is canonical (re-dumping it gives the same bytes), names the secret its
  directory encodes, carries an ARN of this store, keeps the label invariants, and uses key ids that
  the registry or a provider knows;
* the manifest's versions and the envelope files agree both ways;
* each envelope is canonical JSON of a known format and cipher, its ``secret`` and ``version_id`` match
  its path, its type matches the manifest, and every key stanza names a known key;
* with ``decrypt``, every labeled version decrypts.

The staged check is incremental: only the secret directories that the staged changes touch are
checked (everything when the config changes), so it stays fast on a big store. Through
:func:`run_verify` it also runs the leak guard (:mod:`gitsm.leaks`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitsm import envelope, labels, paths
from gitsm.errors import DecryptionFailure, InvalidParameterException, StoreError
from gitsm.gitrepo import GitRepo, Snapshot
from gitsm.keys import KeyService
from gitsm.manifest import FORMAT, StoreConfig, dump_secret, load_secret
from gitsm.model import Secret, VersionInfo, validate_name
from gitsm.paths import classify, is_store_path
from gitsm.providers import PROVIDERS, KeyUnavailable
from gitsm.providers.base import b64decode_strict

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ARN_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}")

RESTORE = "restore it from git history (git log -- <path>; git checkout <commit> -- <path>)"
REWRITE = "change it only through gitsm operations, or " + RESTORE
NOT_GITSM = "is not a gitsm file"
NOT_GITSM_FIX = (
    "secrets/ holds only ~secret.yaml manifests and ~versions/*.json envelopes: move the file out "
    "of secrets/ or git rm --cached it; if it holds a secret value, rotate that value"
)
UNKNOWN_KEY_FIX = "add the key to an alias in .gitsm/config.yaml or make it available"
UNMERGED = "is unmerged (a merge or rebase left a conflict here)"
UNMERGED_FIX = (
    "resolve it: with the gitsm merge driver installed (gitsm init) re-run the merge, or edit the "
    "file, then git add it"
)


@dataclass(frozen=True)
class Problem:
    """One problem found in a tree: where, what, and how to fix it. Never carries a value."""

    path: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem} ({self.fix})"


def _format_problem(fmt: object, current: int) -> tuple[str, str] | None:
    """A (problem, fix) when ``fmt`` is not a format number this gitsm reads."""
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        return "has no format number", RESTORE
    if fmt > current:
        return f"uses store format {fmt}, newer than this gitsm reads ({current})", "upgrade gitsm"
    return (f"has unknown format {fmt}", RESTORE) if fmt != current else None


def orphan_fix(path: str) -> str:
    """How to bring back the version of an envelope its manifest lost, never by deleting it."""
    return (
        "the manifest lost this version, often in a merge that kept only one side's manifest; "
        "the envelope may be a teammate's write, so keep it: find the commit that wrote it "
        f"(git log --all --diff-filter=A -- {path}), then redo the merge with the gitsm merge "
        "driver or run gitsm sync, or restore the version's entry in the manifest from that commit"
    )


def _canonical_json(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")


class Checker:
    """Collects the problems of one snapshot; see the module docstring for what is checked."""

    def __init__(self, snap: Snapshot, keys: KeyService, *, decrypt: bool = False) -> None:
        self.snap, self.keys, self.decrypt = snap, keys, decrypt
        self.problems: list[Problem] = []
        self.config: StoreConfig | None = None
        self._registry: set[tuple[str, str]] = set()
        self._claimed: dict[tuple[str, str], bool] = {}

    def add(self, path: str, problem: str, fix: str) -> None:
        """Record one problem."""
        self.problems.append(Problem(path, problem, fix))

    def check_all(self) -> list[Problem]:
        """Check the whole tree."""
        self.check_config()
        groups: dict[str, list[str]] = {}
        for path in self.snap.files_under(paths.SECRETS_ROOT):
            found = classify(path)
            if found is None:
                self.add(path, NOT_GITSM, NOT_GITSM_FIX)
                continue
            envelopes = groups.setdefault(found[1], [])
            if found[0] == "envelope":
                envelopes.append(path.rsplit("/", 1)[1])
        for directory in sorted(groups):
            self.check_secret(directory, groups[directory])
        return self.problems

    def check_changes(self, changed: Iterable[str]) -> list[Problem]:
        """Check only what the ``changed`` paths touch (everything if the config changed)."""
        store_paths = sorted(p for p in changed if is_store_path(p))
        if paths.CONFIG_PATH in store_paths:
            return self.check_all()
        if not store_paths:
            return self.problems
        self.check_config()
        directories: set[str] = set()
        for path in store_paths:
            found = classify(path)
            if found is not None:
                directories.add(found[1])
            elif self.snap.read(path) is not None:
                self.add(path, NOT_GITSM, NOT_GITSM_FIX)
        for directory in sorted(directories):
            envelopes: list[str] = []
            versions_dir = f"{directory}/{paths.VERSIONS}"
            for name, is_dir in self.snap.list_dir(versions_dir):
                if is_dir or not name.endswith(".json"):
                    for path in self.snap.files_under(f"{versions_dir}/{name}"):
                        self.add(path, NOT_GITSM, NOT_GITSM_FIX)
                else:
                    envelopes.append(name)
            if envelopes or self.snap.read(f"{directory}/{paths.MANIFEST}") is not None:
                self.check_secret(directory, envelopes)
        return self.problems

    # -- config and keys -----------------------------------------------------------------------

    def _yaml(self, where: str, data: bytes) -> dict[str, Any] | None:
        """Parse a YAML mapping with a readable format number; record a problem otherwise."""
        try:
            doc = yaml.load(data, Loader=_Loader)
        except yaml.YAMLError as exc:
            first = (str(exc).splitlines() or ["syntax error"])[0]
            self.add(where, f"is not valid YAML ({first})", RESTORE)
            return None
        if not isinstance(doc, dict):
            self.add(where, "is not a YAML mapping", RESTORE)
            return None
        bad = _format_problem(doc.get("format"), FORMAT)
        if bad is not None:
            self.add(where, *bad)
            return None
        return doc

    def check_config(self) -> None:
        """Check ``.gitsm/config.yaml`` and remember its key registry."""
        where = paths.CONFIG_PATH
        data = self.snap.read(where)
        if data is None:
            self.add(where, "is missing: this tree is not a gitsm store", "run 'gitsm init'")
            return
        if self._yaml(where, data) is None:
            return
        try:
            self.config = StoreConfig.load(data)
        except StoreError as exc:
            reason = str(exc).removeprefix(f"store config {where} ")
            self.add(where, reason.removesuffix(" Fix or restore it with git."), RESTORE)
            return
        for alias, recipients in self.config.keys.items():
            for r in recipients:
                provider, key_id = r.get("provider", ""), r.get("key_id", "")
                if not key_id or provider not in PROVIDERS:
                    self.add(where, f"key alias {alias} has a recipient with unknown provider "
                             f"{provider!r} or no key_id", "fix it, or upgrade gitsm")  # fmt: skip
                self._registry.add((provider, key_id))

    def _claimed_by(self, provider: str, key_id: str) -> bool:
        if (provider, key_id) not in self._claimed:
            try:
                claimed = self.keys.provider(provider).claims(key_id)
            except KeyUnavailable:
                claimed = False
            self._claimed[(provider, key_id)] = claimed
        return self._claimed[(provider, key_id)]

    def key_id_known(self, key_id: str) -> bool:
        """True when a KmsKeyId is an alias of the registry or a key that a provider holds."""
        if self.config is not None and key_id in self.config.keys:
            return True
        return any(self._claimed_by(name, key_id) for name in PROVIDERS)

    def stanza_known(self, provider: str, key_id: str) -> bool:
        """True when an envelope's key stanza names a registered recipient or a held key."""
        if (provider, key_id) in self._registry:
            return True
        return provider in PROVIDERS and self._claimed_by(provider, key_id)

    # -- secrets -----------------------------------------------------------------------------

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
        data = self.snap.read(where)
        if data is None:
            for name in envelopes:
                self.add(f"{directory}/{paths.VERSIONS}/{name}", "is an envelope without a "
                         "manifest", f"restore {where} from git history (git log --all -- "
                         f"{where}); the envelope may be a teammate's write, so remove it only "
                         "if the secret was deleted on purpose (gitsm delete-secret)")  # fmt: skip
            return
        secret = self._manifest(where, data, dir_name)
        if secret is None:
            return
        expected = {paths.version_file_name(vid): v for vid, v in secret.versions.items()}
        for name, info in expected.items():
            path = f"{directory}/{paths.VERSIONS}/{name}"
            blob = self.snap.read(path) if name in envelopes else None
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

    def _manifest(self, where: str, data: bytes, dir_name: str | None) -> Secret | None:
        if self._yaml(where, data) is None:
            return None
        try:
            secret = load_secret(data, where)
        except StoreError as exc:
            reason = str(exc).removeprefix(f"manifest {where} ")
            self.add(where, reason.removesuffix(" Fix or restore it with git."), RESTORE)
            return None
        try:
            validate_name(secret.name)
        except InvalidParameterException:
            self.add(where, f"names {secret.name!r}, which is not a valid secret name", RESTORE)
        if dir_name is not None and secret.name != dir_name:
            self.add(where, f"names secret {secret.name!r} but lies in the directory of "
                     f"{dir_name!r}", f"move it to {paths.secret_dir(secret.name)}/")  # fmt: skip
        if dump_secret(secret) != data:
            self.add(where, "is not in canonical form (fields, order or layout differ from what "
                     "gitsm writes)", REWRITE)  # fmt: skip
        if self.config is not None:
            # any region: a client opened with another region (--region) makes ARNs of it
            m = re.fullmatch(r"arn:aws:secretsmanager:[a-z0-9-]+:(\d{12}):secret:(.*)", secret.arn)
            rest = m[2] if m and m[1] == self.config.account_id else ""
            if not rest.startswith(secret.name) or not _ARN_SUFFIX.fullmatch(
                rest[len(secret.name) :]
            ):
                self.add(where, f"has ARN {secret.arn!r}, not one of this store and name",
                         "an ARN is fixed at creation: " + RESTORE)  # fmt: skip
        for problem in labels.invariant_problems(secret.stage_map()):
            self.add(where, f"breaks a label invariant: {problem}",
                     "move labels with gitsm update-secret-version-stage, or " + RESTORE)  # fmt: skip
        key_ids = {secret.kms_key_id} if secret.kms_key_id else set()
        for v in secret.versions.values():
            key_ids.update(v.kms_key_ids)
        for key_id in sorted(k for k in key_ids if not self.key_id_known(k)):
            self.add(where, f"uses key {key_id}, which is neither an alias of the key registry "
                     "nor a key that a provider holds", UNKNOWN_KEY_FIX)  # fmt: skip
        return secret

    # -- envelopes ---------------------------------------------------------------------------

    def check_envelope(self, path: str, secret: Secret, info: VersionInfo, data: bytes) -> None:
        """Check one envelope against its path and manifest entry; decrypt it if asked."""
        count = len(self.problems)
        try:
            doc = json.loads(data.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            doc = None
        if not isinstance(doc, dict):
            self.add(path, "is not a JSON object", RESTORE)
            return
        if _canonical_json(doc) != data:
            self.add(path, "is not in canonical JSON form, so it was altered", REWRITE)
        bad = _format_problem(doc.get("format"), envelope.FORMAT)
        if bad is not None:
            self.add(path, *bad)
            return
        if doc.get("cipher") != envelope.CIPHER:
            self.add(path, f"uses unknown cipher {doc.get('cipher')!r}", RESTORE)
        if doc.get("secret") != secret.name:
            self.add(path, f"belongs to secret {doc.get('secret')!r}, not {secret.name!r}",
                     "envelopes cannot move between secrets: " + RESTORE)  # fmt: skip
        if doc.get("version_id") != info.version_id:
            self.add(path, f"holds version_id {doc.get('version_id')!r}, not the "
                     f"{info.version_id!r} its path stands for",
                     "envelopes cannot move between versions: " + RESTORE)  # fmt: skip
        if doc.get("type") != info.kind:
            self.add(path, f"holds a {doc.get('type')!r} value, the manifest says {info.kind!r}",
                     RESTORE)  # fmt: skip
        for field, size in (("nonce", 12), ("ciphertext", 0)):
            try:
                raw = b64decode_strict(doc.get(field))
            except ValueError:
                raw = b""
            if (size and len(raw) != size) or len(raw) < 12:
                self.add(path, f"has a {field} that is not canonical base64 of the right length",
                         RESTORE)  # fmt: skip
        self._check_stanzas(path, doc.get("keys"))
        if self.decrypt and info.stages and len(self.problems) == count:
            try:
                envelope.open_value(data, name=secret.name, arn=secret.arn,
                                    version_id=info.version_id, keys=self.keys)  # fmt: skip
            except DecryptionFailure as exc:
                self.add(path, f"labeled version ({', '.join(info.stages)}) does not decrypt: "
                         f"{exc.message}", "make its key available, or " + RESTORE)  # fmt: skip

    def _check_stanzas(self, path: str, stanzas: object) -> None:
        if not isinstance(stanzas, list) or not stanzas:
            self.add(path, "has no key stanzas", RESTORE)
            return
        for stanza in stanzas:
            if not (
                isinstance(stanza, dict)
                and all(isinstance(v, str) for v in stanza.values())
                and stanza.get("provider")
                and stanza.get("key_id")
            ):
                self.add(path, "has a malformed key stanza", RESTORE)
                continue
            provider, key_id = stanza["provider"], stanza["key_id"]
            if provider not in PROVIDERS:
                self.add(path, f"names unknown key provider {provider!r}",
                         "upgrade gitsm, or " + RESTORE)  # fmt: skip
            elif not self.stanza_known(provider, key_id):
                self.add(path, f"is wrapped for {provider} key {key_id}, which the key registry "
                         "does not list and no provider holds", UNKNOWN_KEY_FIX)  # fmt: skip


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


def index_file_from_env(repo: GitRepo) -> str | None:
    """The index that ``GIT_INDEX_FILE`` names (git sets it for hooks), if it belongs to ``repo``."""
    value = os.environ.get("GIT_INDEX_FILE")
    if not value:
        return None
    path = (Path.cwd() / value).resolve()
    return str(path) if path.is_relative_to(repo.gitdir.resolve()) and path.is_file() else None


def run_verify(
    repo_path: str | Path,
    rev: str | None = None,
    staged: bool = False,
    decrypt: bool = False,
    *,
    leaks: bool | None = None,
    structure: bool = True,
    keys: KeyService | None = None,
) -> list[Problem]:
    """Verify the store at ``repo_path``: the branch tip, the commit ``rev``, or the staged index.

    With ``staged`` the check is incremental (only what the staged changes touch; nothing when
    neither the index nor HEAD holds a store config, as on an application branch whose store lives
    on another branch) and the leak guard runs too (``leaks=False`` skips it; ``structure=False``
    runs only the leak guard). Except with ``rev``, each unmerged index path of the store (a
    conflict a merge or rebase left) is one problem, and the secrets they belong to are not
    checked further until it is resolved.
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
        snap = repo.snapshot_at(rev) if rev is not None else repo.tip()
        return problems + verify_snapshot(snap, keys=keys, decrypt=decrypt)
    changes = repo.staged_changes(index_file)
    # a secret with an unmerged path is checked once that conflict is resolved
    held = {found[1] for found in map(classify, unmerged) if found is not None}
    checked = [p for p in changes if (classify(p) or ("", ""))[1] not in held]
    if structure and any(is_store_path(path) for path in checked):
        snap = repo.staged_snapshot(index_file)
        if any(s.blob_id(paths.CONFIG_PATH) for s in (snap, repo.head_snapshot())):
            problems += verify_snapshot(snap, keys=keys, decrypt=decrypt, changed=checked)
    if leaks is not False:
        from gitsm.leaks import guard

        problems += guard(repo, changes, keys).problems
    return problems
