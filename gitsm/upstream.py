"""Which remote and remote branch a store's branch syncs with (pure: no git library, no I/O).

Standard library only, and not even ``re``: the quick path of ``gitsm sync`` imports it.

Shared by the git layer (which reads the config through libgit2) and the CLI's quick check for a
sync with nothing to do (which reads it through ``git config``), so both choose alike.
"""

from __future__ import annotations

from gitsm.errors import RemoteError

TYPE_CHECKING = False  # collections.abc costs the quick path of `gitsm sync` ~5 ms
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def resolve_upstream(
    local: str,
    config: Mapping[str, str],
    remotes: Sequence[str],
    remote: str | None = None,
    branch: str | None = None,
    where: str = "the store",
) -> tuple[str, str]:
    """The (remote, remote branch) to sync ``local`` with: the ones given, else the branch's
    upstream (``branch.<local>.remote`` / ``.merge`` in ``config``), else ``origin`` (or the only
    remote) and a branch of the same name. Raises RemoteError naming what to do."""
    if remote is None:
        remote = config.get(f"branch.{local}.remote")
    if remote is None:
        if "origin" in remotes:
            remote = "origin"
        elif len(remotes) == 1:
            remote = remotes[0]
        else:
            raise RemoteError(
                f"{where} has no remote to sync with"
                + (f" (it has {', '.join(remotes)}; name one with --remote)." if remotes else ".")
                + " Add one with 'git remote add origin URL'."
            )
    if remote not in remotes and "/" not in remote and ":" not in remote:
        raise RemoteError(
            f"There is no git remote {remote!r} (remotes: {', '.join(remotes) or 'none'}). "
            "Add it with 'git remote add' or name another with --remote."
        )
    if branch is None:
        merge = config.get(f"branch.{local}.merge", "")
        branch = merge.removeprefix("refs/heads/") if merge.startswith("refs/heads/") else local
    return remote, branch


def tracking_ref(remote: str, branch: str) -> str:
    """Where gitsm keeps the fetched tip of ``remote``'s ``branch``."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in remote)
    return f"refs/remotes/{safe}/{branch}"


def fetch_args(remote: str, branch: str) -> list[str]:
    """The ``git fetch`` arguments that bring ``branch`` of ``remote`` into its tracking ref."""
    # no auto-maintenance: gitsm packs the repository itself after each write and sync lands
    return ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-auto-maintenance",
            remote, f"+refs/heads/{branch}:{tracking_ref(remote, branch)}"]  # fmt: skip


def missing_remote_ref(stderr: str) -> bool:
    """True when ``git fetch`` said that the remote has no such branch (yet)."""
    return "ouldn't find remote ref" in stderr
