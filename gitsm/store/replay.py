"""Replaying a commit's operation on another tip: the write path of ``gitsm sync``.

A local commit (:class:`gitsm.commitop.CommitOp`) is applied to the upstream tip as the operation it
records, with AWS's serial rules, as if its request had reached the service after every upstream
write: a new version gets the labels it asked for on the upstream state (AWSCURRENT moves to it,
the upstream AWSCURRENT becomes AWSPREVIOUS), a label move is checked against where the label sits
upstream, tags and descriptions land on top of upstream's. The sealed envelope is reused as it is,
so replaying needs no key and never sees a value.

A precondition that no longer holds upstream (the secret was deleted or created again, the version a
label is removed from lost it, the ClientRequestToken is taken by another write) raises
:class:`Refused` with what to redo. A write that is already upstream (the same token with the same
sealed value) raises :class:`Landed`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from gitsm import labels, paths, policy, replicas
from gitsm.commitop import CommitOp, SecretChange
from gitsm.errors import GitsmError, LimitExceededException
from gitsm.gitrepo import Snapshot
from gitsm.model import AWSCURRENT, AWSPENDING, AWSPREVIOUS, Secret, arn_region, merge_tags
from gitsm.rotationstate import TEST_ENDED, test_version_removable
from gitsm.store.replay_base import Landed, Refused, ReplayBase, ReplayContext
from gitsm.store.replay_rotation import ROTATION_OPERATIONS, replay_rotation

__all__ = ["Landed", "Refused", "ReplayOps"]


class ReplayOps(ReplayBase):
    """Applying a :class:`CommitOp` to a snapshot through the store's own write rules."""

    def replay_files(
        self, snap: Snapshot, op: CommitOp, now: datetime
    ) -> tuple[dict[str, bytes | None], list[str]]:
        """The store files that apply ``op`` on ``snap``, and notes for the report.

        Raises :class:`Refused` when a precondition fails and :class:`Landed` when there is
        nothing left to apply.
        """
        name = op.operation
        if name is None:
            raise Refused(
                "it is not a gitsm operation (no Gitsm-Operation trailer) but changes the store "
                "(secrets/ or .gitsm/)",
                "make that change through gitsm commands on the synced store, or rebase the "
                "commit by hand (git rebase)",
            )
        if op.strays:
            raise Refused(
                f"it changes {', '.join(op.strays[:3])}, which gitsm never writes",
                "move those files out of the store and redo the operation",
            )
        config = self._config_at(snap)
        if config is None:
            raise Refused("the upstream branch holds no gitsm store", "run 'gitsm init' first")
        ctx = ReplayContext(snap, config, op, now)
        try:
            if op.config is not None:
                self._replay_config(ctx)
            if name == "PurgeDeletedSecrets":
                for change in op.secrets.values():
                    self._replay_purge(ctx, change)
            else:
                for change in op.secrets.values():
                    self._replay_secret(ctx, change)
        except GitsmError as exc:  # a malformed upstream manifest, say: never a value in it
            raise Refused(exc.message, "fix the upstream store first (gitsm verify)") from None
        if not ctx.files:
            raise Landed()
        return ctx.files, ctx.notes

    # -- reading -------------------------------------------------------------------------------
    def _replay_secret(self, ctx: ReplayContext, change: SecretChange) -> None:
        name = change.name
        if name is None:
            raise Refused(f"{change.directory} is not the directory of a secret name",
                          "move the files to the directory their name maps to")  # fmt: skip
        before = self._manifest_of(change.manifest[0], change)
        after = self._manifest_of(change.manifest[1], change)
        operation = ctx.op.operation
        if operation == "CreateSecret" and after is not None:
            self._replay_create(ctx, name, change, after)
        elif operation == "DeleteSecret" and before is not None:
            self._replay_delete(ctx, name, before, after)
        elif operation in ROTATION_OPERATIONS and before is not None and after is not None:
            replay_rotation(self, ctx, name, before, after)
        elif operation == TEST_ENDED and before is not None and after is not None:
            self._replay_test_ended(ctx, name, before, after)
        elif operation == "Rekey" and before is not None and after is not None:
            cur = self._load(ctx.snap, name)
            if cur is not None and cur.arn == before.arn and not self._expired(cur, ctx.now):
                self._save(ctx, cur, self._replay_envelopes(ctx, cur, change, after)[0])
        elif operation in ("UpdateSecret", "PutSecretValue", "UpdateSecretVersionStage",
                           "RestoreSecret", "TagResource", "UntagResource") and (
            before is not None and after is not None
        ):  # fmt: skip
            restore = operation == "RestoreSecret"
            cur = self._target(ctx, name, before, pending=restore)
            self._save(ctx, cur, self._apply(ctx, cur, change, before, after))
        elif operation in policy.OPERATIONS and before is not None and after is not None:
            cur = self._target(ctx, name, before, pending=False)
            self._save(ctx, cur, self._replay_policy(cur, after))
        elif operation in replicas.OPERATIONS and before is not None and after is not None:
            cur = self._target(ctx, name, before, pending=False)
            self._save(ctx, cur, self._replay_replicas(ctx, cur, after))
        else:
            raise Refused(
                f"gitsm does not know how to replay {operation} on secret {name}",
                "redo the change through gitsm on the synced store (or upgrade gitsm)",
            )

    def _replay_test_ended(
        self, ctx: ReplayContext, name: str, before: Secret, after: Secret
    ) -> None:
        """RotationTestEnded: the test's temporary version removed upstream too, while it is there
        with no label but AWSPENDING (the same secret: its ARN); else nothing to do."""
        token = ctx.op.trailers.get("Client-Request-Token", "")
        cur = self._load(ctx.snap, name)
        if cur is None or cur.arn != before.arn or not test_version_removable(cur, token):
            return  # gone, another secret, labelled since, or upstream's rotation in progress
        kept = {vid: v for vid, v in cur.versions.items() if vid != token}
        changed = max(cur.last_changed, after.last_changed)
        self._save(ctx, cur, replace(cur, versions=kept, last_changed=changed))
        ctx.files[paths.version_path(name, token)] = None

    @staticmethod
    def _replay_policy(cur: Secret, after: Secret) -> Secret:
        """PutResourcePolicy / DeleteResourcePolicy in push order: the commit's policy (None after
        a Delete) replaces upstream's; the same policy upstream, or none to delete, is a no-op."""
        if cur.resource_policy == after.resource_policy:
            return cur
        changed = max(cur.last_changed, after.last_changed)
        return replace(cur, resource_policy=after.resource_policy, last_changed=changed)

    @staticmethod
    def _replay_replicas(ctx: ReplayContext, cur: Secret, after: Secret) -> Secret:
        """ReplicateSecretToRegions / RemoveRegionsFromReplication in push order: the Regions the
        commit asked for (its Gitsm-Replica-Regions) added to upstream's replicas, or removed
        from them; a Region already so upstream is a no-op."""
        asked = replicas.trailer_regions(ctx.op.trailers)
        if asked is None:
            raise Refused("its Gitsm-Replica-Regions trailer is not a JSON list of Regions",
                          "redo the replication change through gitsm")  # fmt: skip
        if ctx.op.operation == "RemoveRegionsFromReplication":
            kept = [r for r in cur.replicas if r not in asked]
        else:
            own = arn_region(cur.arn)
            kept = [*cur.replicas, *(r for r in asked if r not in cur.replicas and r != own)]
        if kept == cur.replicas:
            return cur
        return replace(cur, replicas=kept, last_changed=max(cur.last_changed, after.last_changed))

    def _apply(
        self, ctx: ReplayContext, cur: Secret, change: SecretChange, before: Secret, after: Secret
    ) -> Secret:
        """The upstream secret ``cur`` after the commit's change from ``before`` to ``after``."""
        operation, trailers = ctx.op.operation, ctx.op.trailers
        name = cur.name
        changed = max(cur.last_changed, after.last_changed)
        if operation == "RestoreSecret":
            if cur.deleted_date is None:
                return cur
            return replace(cur, deleted_date=None, deletion_date=None, last_changed=changed)
        if operation in ("TagResource", "UntagResource"):
            old, new = dict(before.tags or []), dict(after.tags or [])
            added = [(k, v) for k, v in new.items() if old.get(k) != v]
            try:
                merged = merge_tags(cur.tags, added)
            except LimitExceededException as exc:
                raise Refused(exc.message, f"remove tags from {name}, then tag again") from None
            tags = [(k, v) for k, v in merged if k in new or k not in old]
            if cur.tags is None and not tags and not added and not old:
                return cur  # nothing was tagged on either side: still never tagged
            return cur if tags == cur.tags else replace(cur, tags=tags, last_changed=changed)
        if operation == "UpdateSecretVersionStage":
            return self._replay_stage(cur, trailers, changed)
        token = trailers.get("Version-Id")
        if token is not None:
            self._check_token(ctx, cur, change, token)
        updated = cur
        if operation == "UpdateSecret":
            if after.description != before.description and after.description != cur.description:
                updated = replace(updated, description=after.description, last_changed=changed)
            if after.kms_key_id != before.kms_key_id:
                updated = self._replay_key_change(ctx, updated, change, after)
        if token is not None:
            stages = self._requested_stages(trailers, operation, after, token)
            updated = self._add_sealed(ctx, updated, change, after, token, stages, changed)
        return updated

    @staticmethod
    def _requested_stages(
        trailers: dict[str, str], operation: str | None, after: Secret, token: str
    ) -> list[str] | None:
        """The VersionStages the write asked for: its Gitsm-Version-Stages trailer, else (older
        commits) the labels its version got; None for UpdateSecret (AWSCURRENT)."""
        if operation == "UpdateSecret":
            return None
        if "Version-Stages" not in trailers:
            return after.versions[token].stages or None if token in after.versions else None
        try:
            stages = json.loads(trailers["Version-Stages"])
        except ValueError:
            stages = None
        if not isinstance(stages, list) or not all(isinstance(x, str) for x in stages):
            raise Refused("its Gitsm-Version-Stages trailer is not a JSON list of labels",
                          "redo the write through gitsm")  # fmt: skip
        return stages or None

    def _check_token(
        self, ctx: ReplayContext, cur: Secret, change: SecretChange, token: str
    ) -> None:
        """Landed when the token's version is upstream with the same sealed value; Refused when
        another write holds the token."""
        if token not in cur.versions:
            return
        mine = change.envelopes.get(paths.version_file_name(token), (None, None))[1]
        there = ctx.snap.blob_id(paths.version_path(cur.name, token))
        if mine is not None and there is not None and self._same_sealing(mine, there):
            raise Landed()
        raise Refused(
            f"ClientRequestToken {token} is already used upstream by another write to {cur.name} "
            "(ResourceExistsException: the same token with another value)",
            f"write the value again with a new token (gitsm put-secret-value --secret-id "
            f"{cur.name} ... without --client-request-token)",
        )

    def _add_sealed(
        self, ctx: ReplayContext, cur: Secret, change: SecretChange, after: Secret, token: str,
        stages: list[str] | None, changed: datetime,
    ) -> Secret:  # fmt: skip
        """``cur`` with the commit's sealed version ``token`` added and its labels moved."""
        blob = change.envelopes.get(paths.version_file_name(token), (None, None))[1]
        if blob is None or token not in after.versions:
            raise Refused(f"the commit lists version {token} without its envelope",
                          "redo the write through gitsm")  # fmt: skip
        ctx.files[paths.version_path(cur.name, token)] = self._blob(blob)
        info = replace(after.versions[token], stages=[])
        try:
            return self._place_version(cur, info, stages, ctx.config, ctx.now, ctx.files, changed)
        except LimitExceededException as exc:
            raise Refused(exc.message, f"remove labels from versions of {cur.name}") from None

    def _replay_stage(self, cur: Secret, trailers: dict[str, str], changed: datetime) -> Secret:
        stage = trailers.get("Version-Stage")
        move = trailers.get("Move-To-Version-Id") or None
        remove = trailers.get("Remove-From-Version-Id") or None
        if stage is None:
            raise Refused("the commit names no staging label (Gitsm-Version-Stage)",
                          "redo the label move through gitsm")  # fmt: skip
        redo = (
            f"gitsm update-secret-version-stage --secret-id {cur.name} --version-stage {stage}"
            + (f" --move-to-version-id {move}" if move else "")
            + " --remove-from-version-id <the version that holds it now>"
        )
        for vid in (move, remove):
            if vid is not None and vid not in cur.versions:
                raise Refused(f"version {vid} of {cur.name} is not upstream (pruned or deleted)",
                              redo)  # fmt: skip
        old = cur.stage_map()
        try:
            new = labels.move_label(old, stage, move_to=move, remove_from=remove)
        except GitsmError as exc:
            holder = labels.holder(old, stage)
            if holder == move and (remove is None or stage not in old.get(remove, [])):
                return cur  # the label is already where this move put it
            raise Refused(f"{exc.message} (upstream: {stage} is on {holder or 'no version'})",
                          redo) from None  # fmt: skip
        if new == old:
            return cur
        versions = {vid: replace(v, stages=new[vid]) for vid, v in cur.versions.items()}
        return replace(cur, versions=versions, last_changed=changed)

    def _replay_envelopes(
        self, ctx: ReplayContext, cur: Secret, change: SecretChange, after: Secret
    ) -> tuple[Secret, set[str]]:
        """``cur`` with the commit's re-wrapped envelopes (same sealed value, new key stanzas)
        taken; the VersionIds re-wrapped. A version re-wrapped upstream too is Refused."""
        by_file = {paths.version_file_name(vid): vid for vid in after.versions}
        versions = dict(cur.versions)
        done: set[str] = set()
        for file_name, (old, new) in change.envelopes.items():
            vid = by_file.get(file_name)
            if old is None or new is None or vid is None or vid not in versions:
                continue  # a new version, a pruned one, or one gone upstream
            path = paths.version_path(cur.name, vid)
            there = ctx.snap.blob_id(path)
            if there not in (old, new):
                raise Refused(f"version {vid} of {cur.name} was re-wrapped upstream too",
                              f"re-key it again (gitsm keys rekey --secret-id {cur.name})")  # fmt: skip
            if there == old:
                ctx.files[path] = self._blob(new)
            versions[vid] = replace(
                versions[vid], kms_key_ids=list(after.versions[vid].kms_key_ids)
            )
            done.add(vid)
        return replace(cur, versions=versions), done

    def _replay_key_change(
        self, ctx: ReplayContext, cur: Secret, change: SecretChange, after: Secret
    ) -> Secret:
        """UpdateSecret's new KmsKeyId: its re-wrapped versions, and a check that every labeled
        upstream version is wrapped for the new key (re-wrapping another one needs the key)."""
        key = after.kms_key_id
        updated, done = self._replay_envelopes(ctx, cur, change, after)
        for stage in (AWSCURRENT, AWSPENDING, AWSPREVIOUS):
            vid = cur.version_with_stage(stage)
            if vid is not None and vid not in done and cur.versions[vid].kms_key_ids != [key]:
                raise Refused(
                    f"upstream version {vid} of {cur.name} ({stage}) is wrapped for the old key; "
                    "re-wrapping it for the new key needs the key, which sync never uses",
                    f"gitsm update-secret --secret-id {cur.name} --kms-key-id {key}",
                )
        return replace(
            updated, kms_key_id=key, last_changed=max(cur.last_changed, after.last_changed)
        )

    def _replay_create(
        self, ctx: ReplayContext, name: str, change: SecretChange, after: Secret
    ) -> None:
        cur = self._load(ctx.snap, name)
        if cur is not None and not self._expired(cur, ctx.now):
            if cur.arn == after.arn:
                return  # this very secret is upstream already
            raise Refused(
                f"The operation failed because the secret {name} already exists: another writer "
                "created it upstream (ResourceExistsException)",
                f"put your value into it (gitsm put-secret-value --secret-id {name} ...) or "
                "create yours under another name",
            )
        if cur is not None:
            ctx.files.update(self._removal(name))
        assert change.manifest[1] is not None
        ctx.files[f"{change.directory}/{paths.MANIFEST}"] = self._blob(change.manifest[1])
        for file_name, (_, new) in change.envelopes.items():
            if new is not None:
                ctx.files[f"{change.directory}/{paths.VERSIONS}/{file_name}"] = self._blob(new)

    def _replay_delete(
        self, ctx: ReplayContext, name: str, before: Secret, after: Secret | None
    ) -> None:
        found = self._load(ctx.snap, name)
        if found is not None and found.arn == before.arn and found.replicas:
            raise Refused(
                f"upstream replicated {name} to {', '.join(found.replicas)}; a secret with "
                "replicas can't be deleted (InvalidParameterException)",
                f"remove its replicas (gitsm remove-regions-from-replication --secret-id {name} "
                f"--remove-replica-regions {' '.join(found.replicas)}), then delete it again",
            )
        if after is not None:  # a scheduled deletion
            cur = self._target(ctx, name, before, pending=True)
            if cur.deleted_date is None:
                self._save(ctx, cur, replace(
                    cur, deleted_date=after.deleted_date, deletion_date=after.deletion_date
                ))  # fmt: skip
            return
        found = self._load(ctx.snap, name)
        if found is None or self._expired(found, ctx.now):
            return  # gone upstream too
        cur = found
        if cur.arn != before.arn:
            raise Refused(f"secret {name} was deleted and created again upstream; deleting now "
                          "would delete the new one", f"check the new {name}, then delete it "
                          "again if you mean to")  # fmt: skip
        added = [vid for vid in cur.versions if vid not in before.versions]
        if added:
            raise Refused(
                f"upstream added version(s) {', '.join(added)} to {name} after you deleted it; "
                "deleting it without recovery now would drop them",
                f"check them, then gitsm delete-secret --secret-id {name} "
                "--force-delete-without-recovery",
            )
        ctx.files.update(self._removal(name))

    def _replay_purge(self, ctx: ReplayContext, change: SecretChange) -> None:
        name = change.name
        before = self._manifest_of(change.manifest[0], change)
        if name is None or before is None or change.manifest[1] is not None:
            return
        cur = self._load(ctx.snap, name)
        if cur is not None and cur.arn == before.arn and self._expired(cur, ctx.now):
            ctx.files.update(self._removal(name))
