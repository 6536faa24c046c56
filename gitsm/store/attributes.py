"""Setting a clone up for team merges: the committed ``.gitattributes`` and the local merge driver.

``.gitattributes`` tells every clone which files the gitsm merge driver merges
(:data:`gitsm.mergedriver.ATTRIBUTES`); git takes the driver's command only from a clone's own
config, so each clone needs :meth:`AttributesOps.install_merge_driver` once (``gitsm init`` and
``gitsm hook install`` run it).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime

from gitsm.gitrepo import Snapshot
from gitsm.manifest import StoreConfig
from gitsm.mergedriver import ATTRIBUTES_PATH, DRIVER, attributes_text, driver_command
from gitsm.store.core import Change, StoreCore

DRIVER_NAME = "gitsm: merge store manifests and config by meaning"


@dataclass(frozen=True)
class MergeDriverSetup:
    """What :meth:`AttributesOps.install_merge_driver` did."""

    config_changed: bool
    """``merge.gitsm.*`` was written to the clone's config (False: it was already there, or the
    repository is bare and merges nothing)."""
    attributes_commit: str | None
    """The commit that added gitsm's lines to ``.gitattributes`` (None: they were there)."""


class AttributesOps(StoreCore):
    """``install_merge_driver``."""

    def install_merge_driver(
        self, python: str = sys.executable, *, attributes: bool = True
    ) -> MergeDriverSetup:
        """Register the merge driver in this clone's config (not for a bare repository) and, with
        ``attributes``, make sure the branch's ``.gitattributes`` names it (one commit,
        ``SetGitAttributes``, when it does not). Idempotent."""
        changed = False
        if self.repo.workdir is not None:
            wanted = {f"merge.{DRIVER}.name": DRIVER_NAME,
                      f"merge.{DRIVER}.driver": driver_command(python)}  # fmt: skip
            for key, value in wanted.items():
                if self.repo.config_value(key) != value:
                    self.repo.set_local_config(key, value)
                    changed = True

        if not attributes:
            return MergeDriverSetup(changed, None)

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[str | None]:
            text = attributes_text(snap.read(ATTRIBUTES_PATH))
            if text is None:
                return Change(None)
            return Change("", "SetGitAttributes", "", {ATTRIBUTES_PATH: text})

        landed = self._transact(plan)
        commit = self.repo.tip().commit_id if landed is not None else None
        return MergeDriverSetup(changed, commit)
