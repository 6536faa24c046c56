"""Fetching and pushing through the ``git`` command line.

The git CLI brings what a team's remotes need with no code of gitsm's: ssh-agent and ssh config,
``core.sshCommand``, credential helpers, proxies and ``insteadOf`` rewrites. libgit2 needs a
credential callback per method, runs no credential helpers, and its file:// push was seen updating
the remote ref without checking its old value. A push is never forced: the remote's own
fast-forward check is the compare-and-swap that keeps concurrent pushers from losing commits.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from gitsm.errors import RemoteError, StoreError, storage_error
from gitsm.gitenv import run_git
from gitsm.gitrepo.base import RepoBase
from gitsm.gitrepo.failures import errno_of, translating
from gitsm.upstream import fetch_args, missing_remote_ref, resolve_upstream, tracking_ref

_RACE = ("non-fast-forward", "fetch first", "stale info", "cannot lock ref", "failed to lock",
         "failed to update ref", "incorrect old value", "reference already exists")  # fmt: skip


@dataclass(frozen=True)
class PushOutcome:
    """What a push did: accepted, or rejected because the remote branch moved (``raced``)."""

    accepted: bool
    raced: bool
    detail: str


@translating
class RepoRemote(RepoBase):
    """The branch's remote: which one, fetching it, pushing to it."""

    def _git(self, *args: str) -> subprocess.CompletedProcess[str]:
        try:
            return run_git(args, git_dir=self.gitdir, text=True)
        except OSError as exc:  # no git to run
            return subprocess.CompletedProcess(args, 127, "", f"git: {exc.strerror or exc}")

    def has_remotes(self) -> bool:
        """True when at least one git remote is configured (the store is shared through it)."""
        return any(True for _ in self.repo.remotes.names())

    def upstream_of(self, remote: str | None, branch: str | None) -> tuple[str, str]:
        """The (remote, remote branch) to sync with (:func:`gitsm.upstream.resolve_upstream`)."""
        config = self.repo.config
        keys = (f"branch.{self.branch}.remote", f"branch.{self.branch}.merge")
        values = {key: str(config[key]) for key in keys if key in config}
        names = [str(n) for n in self.repo.remotes.names()]
        where = str(self.workdir or self.gitdir)
        return resolve_upstream(self.branch, values, names, remote, branch, where)

    def config_value(self, key: str) -> str | None:
        """A value of the repository's git config (all levels), or None."""
        config = self.repo.config
        return str(config[key]) if key in config else None

    def set_local_config(self, key: str, value: str) -> None:
        """Set ``key`` in the repository's own config (``.git/config``)."""
        self.repo.config[key] = value

    def fetch(self, remote: str, branch: str) -> str | None:
        """Fetch ``branch`` of ``remote`` into its tracking ref; its tip, or None when the remote
        has no such branch yet (an empty repository). Raises RemoteError when git fails."""
        proc = self._git(*fetch_args(remote, branch))
        if proc.returncode != 0:
            if missing_remote_ref(proc.stderr):
                return None
            code = errno_of(proc.stderr)
            if code is not None:  # this repository's disk, not the remote, failed the fetch
                said = " ".join(ln.strip() for ln in proc.stderr.splitlines() if ln.strip())
                raise storage_error(
                    OSError(code, said[:2000]),
                    f"fetching from {remote} into {self.gitdir}",
                    "nothing was changed here",
                )
            raise RemoteError(_failure("fetch from", remote, branch, proc.stderr))
        return self._ref_id(tracking_ref(remote, branch))

    def fetched_tip(self, remote: str, branch: str) -> str | None:
        """The tip of ``remote``'s ``branch`` as the last fetch left it (None: never fetched)."""
        return self._ref_id(tracking_ref(remote, branch))

    def scratch_clone(self, dest: Path) -> None:
        """A bare clone of the branch at ``dest`` that borrows this repository's objects (``git
        clone --shared``): writes to it never reach this repository. Commit signing is off in
        it (its commits are thrown away). Raises StoreError when git fails."""
        proc = run_git(
            ["clone", "--bare", "--shared", "--quiet", "--single-branch", "--branch",
             self.branch, "--config", "commit.gpgsign=false", str(self.gitdir), str(dest)],
            text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            raise StoreError(f"git could not make a scratch copy of the store: {proc.stderr[:500]}")

    def _ref_id(self, name: str) -> str | None:
        ref = self.repo.references.get(name)
        return None if ref is None else str(ref.target)

    def push(self, remote: str, branch: str, commit: str) -> PushOutcome:
        """Push ``commit`` to ``branch`` of ``remote`` without force.

        A rejection because the remote branch moved (not a fast-forward, a lost ref lock) is
        ``raced``: fetch and try again. Any other failure (authentication, a hook that declined
        the push, the network) raises RemoteError.
        """
        proc = self._git("push", "--porcelain", "--quiet", remote, f"{commit}:refs/heads/{branch}")
        detail = proc.stdout + proc.stderr
        if proc.returncode == 0:
            ref = tracking_ref(remote, branch)
            self.repo.create_reference_direct(ref, commit, True, message="gitsm sync: pushed")
            return PushOutcome(True, False, detail)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("!")]
        if lines and all(any(r in ln for r in _RACE) for ln in lines):
            return PushOutcome(False, True, detail)
        raise RemoteError(_failure("push to", remote, branch, detail))


def _failure(action: str, remote: str, branch: str, output: str) -> str:
    """A RemoteError message: what failed and git's own words (which hold no secret values)."""
    said = " ".join(ln.strip() for ln in output.strip().splitlines() if ln.strip())
    said = said[:2000] or "no output"
    return (
        f"git could not {action} {remote} (branch {branch}): {said}. Check the remote's URL, "
        "your access to it and the network (git's own settings apply: ssh, credential "
        "helpers, proxies), then run 'gitsm sync' again."
    )
