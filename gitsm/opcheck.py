"""Whether a commit's tree change is exactly what its operation may do from its parent.

``gitsm verify --range`` judges every pushed commit that touches the store by its change
(:class:`gitsm.commitop.CommitOp`): the trailers must name a gitsm operation, and the change must be
one that operation makes. Labels move only in operations that move labels, exactly as AWS's rules
move them (:mod:`gitsm.labels`); an envelope's sealed value (nonce, ciphertext) never changes, and
its key stanzas change only in a re-wrap; a version file disappears only by pruning or a deletion;
a description, key, tags, resource policy or deletion schedule change only in the operation that
sets them; the config changes only in key operations (and when a write creates the default key). A
hand-edited rollback (AWSCURRENT moved back by plain git) is a label moved outside an operation.

Pure apart from reading blobs: no keys, no values.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from gitsm import labels, paths, replicacheck, replicas, rotationcheck
from gitsm.commitop import CommitOp, SecretChange
from gitsm.errors import GitsmError
from gitsm.manifest import StoreConfig, load_secret
from gitsm.model import DEFAULT_KEY_ALIAS, Secret
from gitsm.policy import OPERATIONS as POLICY_OPERATIONS
from gitsm.problems import Problem
from gitsm.rotationstate import test_version_removable

VERSION_WRITES = frozenset({"CreateSecret", "UpdateSecret", "PutSecretValue"})
ONE_SECRET = VERSION_WRITES | {"UpdateSecretVersionStage", "DeleteSecret", "RestoreSecret",
                               "TagResource", "UntagResource"}  # fmt: skip
ONE_SECRET |= POLICY_OPERATIONS | replicas.OPERATIONS
KEY_OPERATIONS = frozenset(
    {"PutKeyAlias", "AddKeyRecipients", "RemoveKeyRecipients", "DeleteKeyAlias"}
)
CONFIG_ONLY = KEY_OPERATIONS | {"Init", "SetDefaultKey"}
KNOWN = ONE_SECRET | CONFIG_ONLY | {"PurgeDeletedSecrets", "Rekey", "SetGitAttributes"}
REPLICAS = {op: {"replicas"} for op in replicas.OPERATIONS}
FIELDS = {
    "UpdateSecret": {"description", "kms_key_id"},
    "TagResource": {"tags"},
    "UntagResource": {"tags"},
    "DeleteSecret": {"deleted_date", "deletion_date"},
    "RestoreSecret": {"deleted_date", "deletion_date"},
    "PutResourcePolicy": {"resource_policy"},
    "DeleteResourcePolicy": {"resource_policy"},
    **REPLICAS,
}
"""The manifest fields each operation may change (besides versions, labels and last_changed;
how the replication operations change ``replicas``: :mod:`gitsm.replicacheck`)."""
_COMPARED = ("name", "arn", "created", "description", "kms_key_id", "tags", "deleted_date",
             "deletion_date", "resource_policy", "replicas")  # fmt: skip
FIX = (
    "change the store only through gitsm operations: revert this commit (git revert) or redo the "
    "change with gitsm, and check who made it"
)

Blobs = Callable[[str], bytes]

ONE_SECRET |= rotationcheck.ROTATION_OPERATIONS  # their rotation field: gitsm.rotationcheck
ONE_SECRET |= {rotationcheck.TEST_ENDED}
CONFIG_ONLY |= rotationcheck.FUNCTION_OPERATIONS | {rotationcheck.DEFAULT_OPERATION}
KNOWN |= rotationcheck.ROTATION_OPERATIONS | rotationcheck.FUNCTION_OPERATIONS
KNOWN |= {rotationcheck.DEFAULT_OPERATION, rotationcheck.TEST_ENDED}


def _sealing(data: bytes) -> tuple[object, ...] | None:
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    return tuple(doc.get(k) for k in ("secret", "version_id", "type", "nonce", "ciphertext"))


class OperationCheck:
    """The problems of one (non-merge) commit's change against its operation."""

    def __init__(self, op: CommitOp, blobs: Blobs, config: StoreConfig | None) -> None:
        self.op, self.blobs, self.config = op, blobs, config
        self.name = op.operation
        self.problems: list[Problem] = []

    def add(self, path: str, problem: str) -> None:
        """Record one problem, naming the commit."""
        commit = self.op.commit.commit_id[:12]
        self.problems.append(
            Problem(path, f"commit {commit} ({self.op.describe()}) {problem}", FIX)
        )

    def run(self) -> list[Problem]:
        """Every problem of the commit (empty when its change is its operation's)."""
        if not self.op.touches_store:
            return []
        if self.name is None:
            where = next(iter([*self.op.secrets, *self.op.strays]), paths.CONFIG_PATH)
            self.add(where, "changes the store but is not a gitsm operation (no Gitsm-Operation "
                     "trailer)")  # fmt: skip
            for change in self.op.secrets.values():  # and say what it changed, as for any other
                self.check_secret(change)
            return self.problems
        if self.name not in KNOWN:
            self.add(paths.CONFIG_PATH, f"names operation {self.name!r}, which gitsm does not know")
            return self.problems
        for stray in self.op.strays:
            self.add(stray, "adds or changes a file gitsm never writes")
        if self.op.config is not None:
            self.check_config()
        if self.name in ONE_SECRET and len(self.op.secrets) > 1:
            self.add(paths.SECRETS_ROOT, f"changes {len(self.op.secrets)} secrets; "
                     f"{self.name} changes one")  # fmt: skip
        if self.name in CONFIG_ONLY | {"SetGitAttributes"} and self.op.secrets:
            self.add(next(iter(self.op.secrets)), f"changes a secret; {self.name} changes none")
        for change in self.op.secrets.values():
            self.check_secret(change)
        return self.problems

    # -- the config ----------------------------------------------------------------------------

    def _config(self, blob: str | None) -> StoreConfig | None:
        return None if blob is None else StoreConfig.load(self.blobs(blob))

    def check_config(self) -> None:
        assert self.op.config is not None
        where = paths.CONFIG_PATH
        try:
            before, after = (self._config(b) for b in self.op.config)
        except GitsmError:
            return  # the tree check reports a malformed config
        if after is None:
            self.add(where, "deletes the store config")
            return
        if before is None:
            if self.name != "Init":
                self.add(where, "creates the store config outside Init")
            return
        if (before.account_id, before.region, before.max_versions, before.min_version_age_hours) != (
            after.account_id, after.region, after.max_versions, after.min_version_age_hours
        ):  # fmt: skip
            self.add(where, "changes the account, region or retention, which no operation does")
        aliases = {
            a for a in {*before.keys, *after.keys} if before.keys.get(a) != after.keys.get(a)
        }
        default_moved = before.default_kms_key_id != after.default_kms_key_id
        trailers = self.op.trailers
        if self.name in KEY_OPERATIONS:
            allowed = {trailers.get("Key-Alias")}
        elif self.name in VERSION_WRITES:  # a first write may register the default key
            default = DEFAULT_KEY_ALIAS
            allowed = {default} if default not in before.keys and default in after.keys else set()
        else:
            allowed = set()
        if aliases - allowed:
            self.add(where, f"changes key alias(es) {', '.join(sorted(aliases - allowed))} outside "
                     "a key operation on them")  # fmt: skip
        for problem in rotationcheck.config_problems(self.name or "", trailers, before, after):
            self.add(where, problem)
        if default_moved and (self.name != "SetDefaultKey" or
                              after.default_kms_key_id != trailers.get("Key-Id")):  # fmt: skip
            self.add(where, "changes the default key outside SetDefaultKey")

    # -- secrets -------------------------------------------------------------------------------

    def _manifest(self, change: SecretChange, blob: str | None) -> Secret | None:
        return None if blob is None else load_secret(self.blobs(blob), change.directory)

    def check_secret(self, change: SecretChange) -> None:
        """One secret's change: identity, fields, versions, labels, envelopes."""
        where = f"{change.directory}/{paths.MANIFEST}"
        try:
            before = self._manifest(change, change.manifest[0])
            after = self._manifest(change, change.manifest[1])
        except GitsmError:
            return  # the tree check reports a malformed manifest
        name, trailers = self.name or "", self.op.trailers
        if name in ONE_SECRET and (after or before) is not None:
            secret = after or before
            assert secret is not None
            if trailers.get("Secret") != secret.name:
                self.add(where, f"changes secret {secret.name!r}, but its trailers name "
                         f"{trailers.get('Secret')!r}")  # fmt: skip
        created = after is not None and (
            before is None or (name == "CreateSecret" and before.arn != after.arn)
        )
        for problem in replicacheck.secret_problems(
            name, trailers, None if created else before, after
        ):
            self.add(where, problem)
        if after is None:
            self.check_removal(change, before)
            return
        for problem in rotationcheck.secret_problems(
            name, trailers, None if created else before, after
        ):
            self.add(where, problem)
        if before is None or (name == "CreateSecret" and before.arn != after.arn):
            self.check_created(change, before, after)
            return
        for field in _COMPARED:
            if getattr(before, field) != getattr(after, field) and field not in FIELDS.get(
                name, ()
            ):
                self.add(where, f"changes {field} outside an operation that sets it")
        self.check_policy(where, after)
        self.check_versions(change, before, after)

    def check_policy(self, where: str, after: Secret) -> None:
        """DeleteResourcePolicy leaves no policy (PutResourcePolicy's is checked when read)."""
        if self.name == "DeleteResourcePolicy" and after.resource_policy is not None:
            self.add(where, "sets a resource policy in DeleteResourcePolicy")

    def check_removal(self, change: SecretChange, before: Secret | None) -> None:
        where = f"{change.directory}/{paths.MANIFEST}"
        if before is None:
            return
        when = self.op.commit.committer.time
        forced = self.name == "DeleteSecret" and "Force-Delete-Without-Recovery" in self.op.trailers
        expired = before.deletion_date is not None and before.deletion_date.timestamp() <= when
        if not (forced or (self.name in ("PurgeDeletedSecrets", "CreateSecret") and expired)):
            self.add(where, "removes the secret outside a deletion without recovery or the purge "
                     "of an expired one")  # fmt: skip

    def check_created(self, change: SecretChange, before: Secret | None, after: Secret) -> None:
        where = f"{change.directory}/{paths.MANIFEST}"
        if self.name != "CreateSecret":
            self.add(where, "creates a secret outside CreateSecret")
            return
        token = self.op.trailers.get("Version-Id")
        expected = labels.add_version({}, token, None) if token else {}
        if after.stage_map() != expected:
            self.add(where, f"creates the secret with labels {after.stage_map()}, not {expected}")
        if after.resource_policy is not None:
            self.add(where, "creates the secret with a resource policy (set by PutResourcePolicy)")
        added = {f for f, (old, new) in change.envelopes.items() if old is None and new}
        wanted = {paths.version_file_name(token)} if token else set()
        if added != wanted or set(after.versions) != ({token} if token else set()):
            self.add(where, "creates the secret with other versions than its operation's")

    def check_versions(self, change: SecretChange, before: Secret, after: Secret) -> None:
        """Versions added, removed and re-wrapped, and where the labels went."""
        where = f"{change.directory}/{paths.MANIFEST}"
        name, trailers = self.name or "", self.op.trailers
        token = trailers.get("Version-Id") if name in VERSION_WRITES else None
        added = set(after.versions) - set(before.versions)
        removed = set(before.versions) - set(after.versions)
        if added - ({token} if token else set()):
            self.add(where, f"adds version(s) {', '.join(sorted(added))} outside a write of them")
        rewrap = name == "Rekey" or (
            name == "UpdateSecret" and before.kms_key_id != after.kms_key_id
        )
        for vid in set(before.versions) & set(after.versions):
            b, a = before.versions[vid], after.versions[vid]
            if (b.created, b.kind) != (a.created, a.kind) or (
                b.kms_key_ids != a.kms_key_ids and not rewrap
            ):
                self.add(where, f"changes version {vid}'s record outside a re-wrap")
        expected = self.expected_labels(before, token, after, removed)
        if expected is not None and after.stage_map() != expected:
            now = {v: s for v, s in after.stage_map().items() if s}
            self.add(where, f"moves labels outside an operation that moves them: the manifest "
                     f"has {now}; {name} would leave "
                     f"{ {v: s for v, s in expected.items() if s} }")  # fmt: skip
        self.check_envelopes(change, before, after, token, removed, rewrap)

    def expected_labels(
        self, before: Secret, token: str | None, after: Secret, removed: set[str]
    ) -> dict[str, list[str]] | None:
        """The labels the operation leaves (None when it cannot be known: a malformed trailer)."""
        name, trailers = self.name, self.op.trailers
        stages = before.stage_map()
        try:
            if token is not None and token in after.versions and name != "UpdateSecretVersionStage":
                asked = None
                if name == "PutSecretValue" and "Version-Stages" in trailers:
                    asked = json.loads(trailers["Version-Stages"])
                elif name == "PutSecretValue":
                    asked = after.versions[token].stages
                stages = labels.add_version(stages, token, asked)
            elif name in rotationcheck.ROTATION_OPERATIONS:
                stages = rotationcheck.expected_stages(name, trailers, stages)
            elif name == "UpdateSecretVersionStage":
                stages = labels.move_label(
                    stages, trailers.get("Version-Stage", ""),
                    move_to=trailers.get("Move-To-Version-Id") or None,
                    remove_from=trailers.get("Remove-From-Version-Id") or None,
                )  # fmt: skip
        except (GitsmError, ValueError, KeyError, TypeError):
            return None
        return {vid: s for vid, s in stages.items() if vid not in removed}

    def check_envelopes(
        self, change: SecretChange, before: Secret, after: Secret, token: str | None,
        removed: set[str], rewrap: bool,
    ) -> None:  # fmt: skip
        """Each envelope added, changed or removed, against what the operation may do."""
        files = {paths.version_file_name(v): v for v in [*before.versions, *after.versions]}
        pruned = self.prunable(before, after, token) | self.test_version(before)
        for file_name, (old, new) in sorted(change.envelopes.items()):
            path = f"{change.directory}/{paths.VERSIONS}/{file_name}"
            vid = files.get(file_name)
            if old is None:
                if token is None or file_name != paths.version_file_name(token):
                    self.add(path, "adds an envelope outside a write of its version")
            elif new is None:
                if vid not in removed or vid not in pruned:
                    self.add(path, "removes a version outside pruning or a deletion")
            elif not rewrap:
                self.add(path, "changes an envelope outside a re-wrap (Rekey, UpdateSecret with a "
                         "new KmsKeyId)")  # fmt: skip
            elif _sealing(self.blobs(old)) != _sealing(self.blobs(new)):
                self.add(path, "changes a sealed value (nonce or ciphertext): envelopes are "
                         "immutable; a re-wrap changes only their key stanzas")  # fmt: skip
        for vid in removed - {files.get(f) for f, (o, n) in change.envelopes.items() if n is None}:
            self.add(f"{change.directory}/{paths.MANIFEST}",
                     f"drops version {vid} from the manifest but keeps its envelope")  # fmt: skip

    def test_version(self, before: Secret) -> set[str]:
        """The version a RotationTestEnded may remove: the one its token names, while it carries
        no label but AWSPENDING and is not the secret's rotation in progress."""
        token = self.op.trailers.get("Client-Request-Token")
        if self.name != rotationcheck.TEST_ENDED or not test_version_removable(before, token):
            return set()
        return {token or ""}

    def prunable(self, before: Secret, after: Secret, token: str | None) -> set[str]:
        """The versions the retention rules let this write remove: unlabeled once its labels
        moved, old enough at the commit's time, and only while the secret stays at its cap
        (a replayed write prunes as of when it was replayed, so the exact set is not recomputed).
        None without a new version."""
        if token is None or token not in after.versions or self.config is None:
            return set()
        moved = self.expected_labels(before, token, after, set()) or {}
        cfg = self.config
        if len(after.versions) < cfg.max_versions:
            return set()
        cutoff = self.op.commit.committer.time + 1 - cfg.min_version_age_hours * 3600
        return {
            vid for vid, info in before.versions.items()
            if not moved.get(vid) and info.created.timestamp() <= cutoff
        }  # fmt: skip


def merge_problem(commit: str, path: str) -> Problem:
    """A merge commit's file that is neither parent's nor their merge by the gitsm driver."""
    return Problem(path, f"merge commit {commit[:12]} changes it beyond merging its parents "
                   "(neither side's version nor the gitsm merge driver's merge of them)", FIX)  # fmt: skip


__all__ = ["OperationCheck", "merge_problem"]
