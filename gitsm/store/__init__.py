"""The typed core: :class:`SecretStore`, every operation of the store as a method."""

from __future__ import annotations

from gitsm.store.attributes import AttributesOps, MergeDriverSetup
from gitsm.store.keyops import KeyOps
from gitsm.store.lifecycle import LifecycleOps
from gitsm.store.policies import PolicyOps
from gitsm.store.reads import BatchError, ReadOps, SecretValue
from gitsm.store.rekey import RekeyOps
from gitsm.store.replication import ReplicationOps
from gitsm.store.rotation import RotationOps
from gitsm.store.sync import SyncedOp, SyncOps, SyncReport
from gitsm.store.writes import WriteOps, WriteResult


class SecretStore(
    SyncOps,
    WriteOps,
    LifecycleOps,
    ReadOps,
    KeyOps,
    RekeyOps,
    AttributesOps,
    PolicyOps,
    RotationOps,
    ReplicationOps,
):
    """A gitsm store: a git repository whose branch holds secrets, versions and labels.

    Open one with :meth:`SecretStore.open` or create one with :meth:`SecretStore.init`.
    """


__all__ = [
    "BatchError",
    "MergeDriverSetup",
    "SecretStore",
    "SecretValue",
    "SyncReport",
    "SyncedOp",
    "WriteResult",
]
