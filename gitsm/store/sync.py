"""``gitsm sync``: fetch the remote branch, replay the local operations it lacks, push.

1. Fetch the remote branch through the ``git`` CLI (outside the write lock).
2. Under the write lock, compare the local tip L with the fetched tip U. Nothing to do when they are
   equal; fast-forward when L is behind; push L as it is when U is behind. Otherwise replay every
   local commit that U lacks, oldest first, onto U as the operation it records
   (:mod:`gitsm.store.replay`), building commits that no ref points to yet.
3. Push the result without force. The remote accepts it only if its branch is still U: that is the
   compare-and-swap. A rejection because the branch moved starts again from 1 (a bounded number of
   times); once accepted, the local branch (and a checked-out work tree) moves to the result.

A local operation whose precondition fails upstream is not applied; later operations on the same
secrets (or, after a failed config change, every later operation) are held back with it, because
they may depend on it. Everything else is replayed and pushed, the local commits are kept under
``refs/gitsm/unsynced/<branch>/<time>``, and :class:`gitsm.errors.SyncConflict` lists what to redo.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gitsm.commitop import CommitOp, read_commit_op
from gitsm.errors import RemoteError, SyncConflict
from gitsm.gitrepo import Snapshot
from gitsm.gitrepo.graph import BlobRef, FileChange
from gitsm.store.replay import Landed, Refused, ReplayOps

SYNC_ATTEMPTS = 10
UNSYNCED_PREFIX = "refs/gitsm/unsynced"
PENDING_PREFIX = "refs/gitsm/sync"


@dataclass(frozen=True)
class SyncedOp:
    """What sync did with one local commit."""

    commit: str
    """The local commit."""
    operation: str | None
    secrets: list[str]
    outcome: str
    """``replayed``, ``pushed`` (pushed as it was), ``already-upstream``, ``skipped`` (a merge
    commit, or an empty one), ``failed`` (a precondition does not hold upstream) or ``held`` (after
    a failed operation on the same secrets)."""
    new_commit: str | None = None
    reason: str = ""
    redo: str = ""


@dataclass
class SyncReport:
    """What ``gitsm sync`` did."""

    remote: str
    branch: str
    """The remote branch."""
    before: str | None
    """The local tip before the sync."""
    upstream: str | None = None
    """The remote tip the last attempt built on."""
    after: str | None = None
    """The local tip after the sync."""
    pushed: bool = False
    fast_forward: bool = False
    attempts: int = 0
    operations: list[SyncedOp] = field(default_factory=list)
    unsynced_ref: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[SyncedOp]:
        """The operations that were not applied (failed or held back)."""
        return [o for o in self.operations if o.outcome in ("failed", "held")]


class SyncOps(ReplayOps):
    """``SecretStore.sync``."""

    def sync(
        self,
        remote: str | None = None,
        branch: str | None = None,
        *,
        attempts: int = SYNC_ATTEMPTS,
        fetched: tuple[str, str] | None = None,
    ) -> SyncReport:
        """Bring the store's branch and its remote branch together; see the module docstring.

        ``remote`` and ``branch`` default to the branch's configured upstream, else ``origin``
        and the same branch name. Raises RemoteError when git cannot fetch or push (or the push
        was rejected ``attempts`` times), SyncConflict when some local operations could not be
        replayed (the others are pushed; ``exc.report`` says which), LocalChangesError when the
        work tree has edits to paths the sync must change (nothing moves then). When the caller
        has just fetched this (remote, branch) (``fetched``), the first attempt uses that.
        """
        remote, rbranch = self.repo.upstream_of(remote, branch)
        report = SyncReport(remote, rbranch, self.repo.tip().commit_id)
        for attempt in range(1, attempts + 1):
            report.attempts = attempt
            if fetched == (remote, rbranch) and attempt == 1:
                upstream = self.repo.fetched_tip(remote, rbranch)
            else:
                upstream = self.repo.fetch(remote, rbranch)
            with self.repo.write_lock():
                if self._sync_once(report, upstream):
                    break
            time.sleep(random.uniform(0, 0.02 * attempt))
        else:
            raise RemoteError(
                f"The push to {remote} (branch {rbranch}) was rejected {attempts} times because "
                "other writers kept moving the branch. Nothing was lost: the local commits are "
                "still on the local branch. Run 'gitsm sync' again."
            )
        if report.failed:
            raise SyncConflict(_conflict_message(report), report)
        return report

    def _sync_once(self, report: SyncReport, upstream: str | None) -> bool:
        """One attempt under the write lock; False when the push lost a race (retry)."""
        local = self.repo.tip()
        tip = local.commit_id
        report.upstream, report.after, report.operations = upstream, tip, []
        if upstream == tip:
            return True
        if tip is None or (upstream is not None and self.repo.is_ancestor(tip, upstream)):
            assert upstream is not None
            self.repo.advance(local, upstream, "gitsm sync: fast-forward")
            report.after, report.fast_forward = upstream, True
            return True
        if upstream is None or self.repo.is_ancestor(upstream, tip):
            ahead = self.repo.commits_between(upstream, tip)
            if not self._push(report, tip):
                return False
            for commit in ahead:
                op = read_commit_op(self.repo, commit)
                report.operations.append(SyncedOp(commit, op.operation, op.names, "pushed", commit))
            return True
        new_tip = self._replay_all(report, local, upstream).commit_id or upstream
        self.repo.check_advance(local, new_tip)  # local edits in the way: stop before pushing
        pending = self._pending_refs()
        if new_tip != upstream:
            self.repo.set_ref(pending[0], tip, "gitsm sync: replaying these local commits")
            self.repo.set_ref(pending[1], new_tip, "gitsm sync: as these commits")
            if not self._push(report, new_tip):
                return False
        if report.failed:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            report.unsynced_ref = f"{UNSYNCED_PREFIX}/{self.repo.branch}/{stamp}-{tip[:12]}"
            self.repo.set_ref(report.unsynced_ref, tip, "gitsm sync: operations not replayed")
        self.repo.advance(local, new_tip, "gitsm sync: replayed", checked=True)
        for ref in pending:
            self.repo.delete_ref(ref)
        report.after = new_tip
        return True

    def _pending_refs(self) -> tuple[str, str]:
        """Where a sync records, before it pushes, the local tip it replayed and the tip it
        pushed, until the local branch has moved: if it dies in between, the next sync knows
        exactly which local commits are upstream already."""
        base = f"{PENDING_PREFIX}/{self.repo.branch}"
        return f"{base}/local", f"{base}/pushed"

    def _pushed_already(self, tip: str, upstream: str) -> str | None:
        """The local commit up to which an interrupted sync's replay is already upstream."""
        local_ref, pushed_ref = self._pending_refs()
        done, pushed = self.repo.ref_target(local_ref), self.repo.ref_target(pushed_ref)
        if done is None or pushed is None:
            return None
        if self.repo.is_ancestor(pushed, upstream) and self.repo.is_ancestor(done, tip):
            return done
        for ref in (local_ref, pushed_ref):  # that push never landed: forget it
            self.repo.delete_ref(ref)
        return None

    def _push(self, report: SyncReport, commit: str | None) -> bool:
        assert commit is not None
        outcome = self.repo.push(report.remote, report.branch, commit)
        report.pushed = outcome.accepted
        return outcome.accepted

    def _replay_all(self, report: SyncReport, local: Snapshot, upstream: str) -> Snapshot:
        """Replay the local commits that ``upstream`` lacks onto it; the resulting tip."""
        assert local.commit_id is not None
        done = self._pushed_already(local.commit_id, upstream)
        hidden = [upstream] if done is None else [upstream, done]
        for commit in [] if done is None else self.repo.commits_between(upstream, done):
            op = read_commit_op(self.repo, commit)
            report.operations.append(SyncedOp(commit, op.operation, op.names, "already-upstream"))
        tip = self.repo.snapshot_of(upstream)
        blocked: set[str] = set()
        config_blocked = False
        for commit in self.repo.commits_between(hidden, local.commit_id):
            op = read_commit_op(self.repo, commit)
            names = op.names
            record = SyncedOp(commit, op.operation, names, "skipped")
            if op.is_merge:
                record = SyncedOp(commit, None, names, "skipped",
                                  reason="a merge commit: the operations on both sides are "
                                  "replayed instead")  # fmt: skip
            elif (config_blocked and op.touches_store) or blocked.intersection(names):
                record = SyncedOp(commit, op.operation, names, "held",
                                  reason="held back after a failed operation it may depend on")  # fmt: skip
            elif op.touches_store or op.outside:
                tip, record = self._replay_commit(tip, op)
                if record.outcome == "failed":
                    blocked.update(names)
                    config_blocked = config_blocked or op.config is not None
                elif record.reason:
                    report.notes.append(f"{commit[:12]} {op.describe()}: {record.reason}")
            report.operations.append(record)
        return tip

    def _replay_commit(self, tip: Snapshot, op: CommitOp) -> tuple[Snapshot, SyncedOp]:
        """``tip`` with ``op`` replayed on it (unchanged when it failed or had landed)."""
        names, now = op.names, self.clock()
        changes: dict[str, bytes | BlobRef | None] = {}
        notes: list[str] = []
        try:
            if op.touches_store:
                files, notes = self.replay_files(tip, op, now)
                changes.update(files)
            changes.update(self._rebase_outside(tip, op.outside))
        except Refused as exc:
            return tip, SyncedOp(op.commit.commit_id, op.operation, names, "failed",
                                 reason=exc.reason, redo=exc.redo)  # fmt: skip
        except Landed:
            return tip, SyncedOp(op.commit.commit_id, op.operation, names, "already-upstream")
        if not changes:
            return tip, SyncedOp(op.commit.commit_id, op.operation, names, "skipped",
                                 reason="nothing left to change")  # fmt: skip
        new = self.repo.write_commit(
            tip, changes, op.commit.message, op.commit.author, self.repo.committer(now)
        )
        return new, SyncedOp(op.commit.commit_id, op.operation, names, "replayed",
                             new.commit_id, reason="; ".join(notes))  # fmt: skip

    def _rebase_outside(
        self, tip: Snapshot, changes: list[FileChange]
    ) -> dict[str, BlobRef | None]:
        """The commit's changes outside the store, applied to ``tip`` as git rebases a commit:
        taken where ``tip`` still has the old file, merged as text where both changed it."""
        out: dict[str, BlobRef | None] = {}
        for change in changes:
            old = BlobRef(change.old, change.old_mode) if change.old else None
            new = BlobRef(change.new, change.new_mode) if change.new else None
            there = self.repo.blob_at(tip, change.path)
            if there == new:
                continue
            if there == old:
                out[change.path] = new
                continue
            merged = self.repo.merge_blob(change.path, old, there, new)
            if merged is None:
                raise Refused(
                    f"it changes {change.path}, which changed upstream too, and the two "
                    "changes conflict",
                    "rebase this commit by hand (git rebase) after syncing the others",
                )
            out[change.path] = merged
        return out


def _conflict_message(report: SyncReport) -> str:
    failed = report.failed
    lines = [
        f"gitsm sync could not replay {len(failed)} local operation(s) on {report.remote}/"
        f"{report.branch}; they were not applied:"
    ]
    for op in failed:
        what = f"{op.commit[:12]} {op.operation or 'commit'} {', '.join(op.secrets)}".rstrip()
        lines.append(f"  {what}: {op.reason}.")
        if op.redo:
            lines.append(f"    redo: {op.redo}")
    done = sum(o.outcome == "replayed" for o in report.operations)
    lines.append(
        f"The other {done} operation(s) were replayed"
        + (" and pushed" if report.pushed else "")
        + f". Every local commit is kept at {report.unsynced_ref} (git log "
        f"{report.unsynced_ref}); redo the operations above on the synced store, then run "
        "'gitsm sync' again."
    )
    return "\n".join(lines)
