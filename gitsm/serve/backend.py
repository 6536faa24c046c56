"""The store behind the endpoint: client handles per thread and region, and test mode's reset.

The server opens the store once per worker thread (the writer and each reader) rather than
sharing one handle between threads: a handle keeps parsed state (the config, a listing) and a
libgit2 repository, neither made for concurrent use. Each thread keeps one client per region a
caller signed for (the ARNs a client makes and accepts carry its region), all over the thread's
one repository and key service. Clients check parameters as a service does: values below the
model's minimums reach the store, whose checks answer with the service's own errors
(``ClientRequestToken must be 32-64 characters long.``), not botocore's client-side report.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

from gitsm import paths
from gitsm.awsclient import SecretsManagerClient
from gitsm.gitrepo import Snapshot
from gitsm.manifest import StoreConfig
from gitsm.store import SecretStore
from gitsm.store.core import Change

TEST_ACCOUNT = "123456789012"
"""The account of a store reset in test mode (moto's, which its server-mode tests expect)."""
MAX_REGIONS = 16
"""Regions a thread keeps clients for at once (it starts over beyond)."""


class Backend:
    """The store at ``path`` (branch ``branch``), opened per thread on first use."""

    def __init__(self, path: str | Path, *, branch: str | None = None) -> None:
        self.path = Path(path)
        first = SecretStore.open(self.path, branch=branch)  # fails now when there is no store
        self.branch = first.repo.branch
        self.gitdir = first.repo.gitdir
        self.generation = 0
        self._local = threading.local()

    def store(self) -> SecretStore:
        """This thread's handle on the store."""
        local = self._local
        if getattr(local, "generation", None) != self.generation:
            local.generation = self.generation
            local.store = SecretStore.open(self.path, branch=self.branch)
            local.clients = {}
        store: SecretStore = local.store
        return store

    def client(self, region: str) -> SecretsManagerClient:
        """This thread's client for ``region``."""
        base = self.store()
        clients: dict[str, SecretsManagerClient] = self._local.clients
        found = clients.get(region)
        if found is None:
            if len(clients) >= MAX_REGIONS:
                clients.clear()
            store = SecretStore(base.repo, base.keys, base.clock, region)
            found = clients[region] = SecretsManagerClient(store, check_minimums=False)
        return found

    def tip(self) -> str | None:
        """The commit the branch points to, through this thread's handle."""
        return self.store().repo.tip().commit_id

    def reset(self) -> str | None:
        """Test mode: one commit that empties the store, as a new one: every secret removed, the
        config a fresh one with moto's account (its region, default key, key aliases, rotation
        functions and default rotation function kept, so values stay readable with the same keys
        and rotations run as before; retention settings back to their defaults). Returns the new tip. History stays: nothing is beyond recovery."""
        store = self.store()

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[None]:
            files: dict[str, bytes | None] = {}
            if snap.is_dir(paths.SECRETS_ROOT):
                files[paths.SECRETS_ROOT] = None
            fresh = StoreConfig(account_id=TEST_ACCOUNT, region=config.region,
                                default_kms_key_id=config.default_kms_key_id, keys=config.keys,
                                rotation_functions=config.rotation_functions,
                                default_rotation_function=config.default_rotation_function)  # fmt: skip
            if fresh != config:
                files[paths.CONFIG_PATH] = fresh.dump()
            return Change(None, "Reset", "", files)

        store._transact(plan)  # the write path's lock, compare-and-swap and checkout sync
        self.generation += 1
        return self.tip()
