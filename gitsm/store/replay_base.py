"""What replaying a commit's operation shares: the outcomes, reading the commit's blobs, finding the
upstream secret it was made on, and merging its config change (:mod:`gitsm.store.replay`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gitsm import envelope, paths
from gitsm.commitop import CommitOp, SecretChange
from gitsm.gitrepo import Snapshot
from gitsm.manifest import StoreConfig, load_secret
from gitsm.merge3 import merge_config
from gitsm.model import Secret
from gitsm.store.writes import WriteOps


class Refused(Exception):
    """The operation's precondition does not hold on the new tip."""

    def __init__(self, reason: str, redo: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.redo = redo


class Landed(Exception):
    """The operation's effect is already on the new tip (the same write was pushed before)."""


@dataclass
class ReplayContext:
    """One replay: the tip it applies to, the config there (merged as it goes), the commit, the
    time, and what it has decided so far (files to change, notes for the report)."""

    snap: Snapshot
    config: StoreConfig
    op: CommitOp
    now: datetime
    files: dict[str, bytes | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _sealing(data: bytes) -> tuple[object, ...]:
    """What identifies a sealed value regardless of its key stanzas (re-wrapping keeps it)."""
    doc = envelope.load(data)[0]  # bounded: size, nesting
    if doc is None:
        return (data,)
    return tuple(doc.get(k) for k in ("secret", "version_id", "type", "nonce", "ciphertext"))


class ReplayBase(WriteOps):
    """Reading a commit's blobs and the upstream state; merging a config change."""

    def _blob(self, blob: str) -> bytes:
        return self.repo.read_blob(blob)

    def _same_sealing(self, one: str, other: str) -> bool:
        return one == other or _sealing(self._blob(one)) == _sealing(self._blob(other))

    def _manifest_of(self, blob: str | None, change: SecretChange) -> Secret | None:
        if blob is None:
            return None
        return load_secret(self._blob(blob), f"{change.directory}/{paths.MANIFEST}")

    def _target(
        self, ctx: ReplayContext, name: str, before: Secret | None, *, pending: bool
    ) -> Secret:
        """The upstream secret the operation was made on; Refused when it is gone or another."""
        cur = self._load(ctx.snap, name)
        if cur is None or self._expired(cur, ctx.now):
            raise Refused(f"secret {name} no longer exists upstream (it was deleted)",
                          f"restore or create {name} again if it is still needed")  # fmt: skip
        if before is not None and cur.arn != before.arn:
            raise Refused(
                f"secret {name} was deleted and created again upstream (its ARN is now {cur.arn})",
                f"check the new {name}, then redo the change on it",
            )
        if cur.deleted_date is not None and not pending:
            raise Refused(
                f"secret {name} is scheduled for deletion upstream "
                "(InvalidRequestException: it was marked for deletion)",
                f"restore it first (gitsm restore-secret --secret-id {name}), then redo the change",
            )
        return cur

    # -- the config ----------------------------------------------------------------------------

    def _replay_config(self, ctx: ReplayContext) -> None:
        assert ctx.op.config is not None
        old, new = ctx.op.config
        if new is None:
            raise Refused("it deletes the store config", "restore .gitsm/config.yaml")
        before = StoreConfig.load(self._blob(old)) if old is not None else None
        after = StoreConfig.load(self._blob(new))
        merged, conflicts = merge_config(before, ctx.config, after)
        for conflict in conflicts:
            if conflict.field.startswith("rotation function "):  # the later write (this) wins
                function = conflict.field.removeprefix("rotation function ")
                merged.rotation_functions.pop(function, None)
                if function in after.rotation_functions:
                    merged.rotation_functions[function] = after.rotation_functions[function]
                continue
            alias = conflict.alias
            if alias is None and before is None:
                raise Refused("upstream is another store (its account id or region differs)",
                              "sync with the remote that holds this store")  # fmt: skip
            if alias is None:  # one setting: the later write (this one) wins, as in AWS
                setattr(merged, conflict.field, getattr(after, conflict.field))
            elif before is None or alias not in before.keys:
                raise Refused(f"key alias {alias} was created upstream too, with other "
                              "recipients", f"choose another alias name, or add your recipients "
                              f"to it (gitsm keys add-recipient {alias} ...)")  # fmt: skip
            elif alias not in after.keys:
                merged.keys.pop(alias, None)  # this commit deletes it (checked below)
            elif alias not in ctx.config.keys:
                raise Refused(f"key alias {alias} was deleted upstream",
                              f"create it again (gitsm keys create-alias {alias} ...)")  # fmt: skip
            else:
                raise Refused(f"removing recipients would leave key alias {alias} with none",
                              f"add a recipient to {alias} first, then remove")  # fmt: skip
        self._check_aliases_in_use(ctx, merged)
        default = merged.default_rotation_function
        if default is not None and default not in merged.rotation_functions:
            raise Refused(f"rotation function {default}, the store's default rotation function, "
                          "is not registered upstream", f"register it again (gitsm rotation "
                          f"register-function {default} --command ...) or choose another default "
                          "(gitsm rotation set-default-function)")  # fmt: skip
        ctx.config = merged
        if merged != self._config_at(ctx.snap):
            ctx.files[paths.CONFIG_PATH] = merged.dump()

    def _check_aliases_in_use(self, ctx: ReplayContext, merged: StoreConfig) -> None:
        gone = [a for a in ctx.config.keys if a not in merged.keys]
        if merged.default_kms_key_id != ctx.config.default_kms_key_id:
            key = merged.default_kms_key_id
            if key.startswith("alias/") and key not in merged.keys:
                raise Refused(f"the default key {key} is no longer a key alias upstream",
                              f"create it, then gitsm keys set-default {key}")  # fmt: skip
        if not gone:
            return
        used = {s.kms_key_id or merged.default_kms_key_id for s in self._all(ctx.snap)}
        for alias in gone:
            if alias in used or alias == merged.default_kms_key_id:
                raise Refused(f"key alias {alias} is in use upstream",
                              "move those secrets to another key, then delete the alias")  # fmt: skip

    # -- secrets -------------------------------------------------------------------------------

    def _save(self, ctx: ReplayContext, cur: Secret, updated: Secret) -> None:
        if updated != cur:
            ctx.files.update(self._secret_files(updated))
