"""``gitsm sync``: fetch the store's remote branch, replay the local operations it lacks, push.

Prints what it did (JSON by default, ``--output``/``--query`` apply). When some local operations
could not be replayed, it prints the report too, then the error listing what to redo (exit 254).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gitsm.cli.context import Globals, open_store
from gitsm.cli.errors import Landed, WriteLanded
from gitsm.cli.keys_base import emit
from gitsm.cli.verbs import with_globals

if TYPE_CHECKING:
    from gitsm.store import SyncReport


def report_data(report: SyncReport) -> dict[str, Any]:
    """The report as printed: what moved where, and one entry per local commit."""
    operations = []
    for op in report.operations:
        row: dict[str, Any] = {"Commit": op.commit, "Operation": op.operation,
                               "Secrets": op.secrets, "Outcome": op.outcome}  # fmt: skip
        if op.new_commit and op.new_commit != op.commit:
            row["NewCommit"] = op.new_commit
        if op.reason:
            row["Reason"] = op.reason
        if op.redo:
            row["Redo"] = op.redo
        operations.append(row)
    data: dict[str, Any] = {
        "Remote": report.remote,
        "Branch": report.branch,
        "Before": report.before,
        "Upstream": report.upstream,
        "After": report.after,
        "Pushed": report.pushed,
        "FastForward": report.fast_forward,
        "Attempts": report.attempts,
        "Operations": operations,
    }
    if report.unsynced_ref:
        data["UnsyncedRef"] = report.unsynced_ref
    if report.notes:
        data["Notes"] = report.notes
    return data


@with_globals("Sync")
def sync(
    globals_: Globals,
    remote: Annotated[
        str | None,
        typer.Option("--remote", help="The git remote (default: the branch's upstream remote, "
                     "else origin).", show_default=False, metavar="NAME"),
    ] = None,
    branch: Annotated[
        str | None,
        typer.Option("--branch", help="The remote branch (default: the branch's upstream, else "
                     "the same name).", show_default=False, metavar="NAME"),
    ] = None,
) -> None:  # fmt: skip
    """Bring the store and its git remote together, losing no write.

    Fetches the remote branch with git (ssh, credential helpers and proxies work as for git),
    replays every local operation the remote lacks on top of it, as the operation it records
    (AWS's label rules in push order: the write pushed last holds AWSCURRENT), and pushes without
    force, retrying when another writer pushed first. Needs no key: sealed versions are reused.

    An operation whose precondition no longer holds upstream (the secret was deleted, the label it
    moves moved elsewhere, its ClientRequestToken is taken) is not applied: it is listed with what
    to redo, and the local commits are kept under refs/gitsm/unsynced/. See docs/SYNC.md.
    """
    from gitsm.cli import syncfast
    from gitsm.errors import SyncConflict
    from gitsm.store import SyncReport

    store = open_store(globals_)
    try:
        report = store.sync(remote, branch, fetched=syncfast.FETCHED)
    except SyncConflict as exc:
        if isinstance(exc.report, SyncReport):
            try:
                emit(report_data(exc.report), globals_, "Sync", landed=_landed(exc.report))
            except WriteLanded as lost:  # the conflict is the news (exit 254): say both
                sys.stderr.write(lost.message + "\n")
        raise
    emit(report_data(report), globals_, "Sync", landed=_landed(report))


def _landed(report: SyncReport) -> Landed:
    """What a sync changed: where the branch is now and whether it pushed."""
    ids = {"After": report.after, "Pushed": report.pushed, "UnsyncedRef": report.unsynced_ref}
    return Landed("Sync", ids, see="gitsm log")


def register(
    app: typer.Typer,
    command_cls: type[Any],
    fast: Callable[[Sequence[Any]], None],
    epilog: str,
) -> None:
    """Add ``gitsm sync`` to ``app``."""
    app.command("sync", cls=command_cls, epilog=epilog,
                short_help="Fetch, replay local operations on the remote branch, push.")(sync)  # fmt: skip
