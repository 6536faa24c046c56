"""gitsm's own commands: ``init``, ``log`` and ``purge-deleted-secrets``.

They print through the same ``--output``/``--query`` machinery as the AWS operations and fail with
the same messages and exit codes.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from gitsm.cli import options, output, params
from gitsm.cli.context import META_KEY, Globals, globals_from, open_store
from gitsm.cli.errors import Landed, Secrets, guarded
from gitsm.cli.locate import ENV_REPO

LOG_KEYS = {"Secret": "Name", "Secret-Arn": "ARN"}


def with_globals(operation: str) -> Callable[[Callable[..., Any]], Callable[..., None]]:
    """Let a verb accept the global options after its name and fail like the operations do.

    The verb receives the merged :class:`Globals` as its first argument. ``--output`` and
    ``--query`` are checked before it runs (exit 252, nothing done); a verb that writes passes a
    :class:`Landed` to :func:`output.emit`.
    """

    def wrap(func: Callable[..., Any]) -> Callable[..., None]:
        own = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in list(inspect.signature(func, eval_str=True).parameters.values())[1:]
        ]

        @functools.wraps(func)
        def command(**values: Any) -> None:
            ctx: typer.Context = values.pop("ctx")
            globals_ = ctx.meta.get(META_KEY, Globals()).merged(globals_from(values))
            mine = {k: v for k, v in values.items() if not k.startswith("g_")}

            def action() -> None:
                output.check_format(globals_.output or "json")
                output.compile_query(globals_.query)  # before the verb runs: nothing done
                func(globals_, **mine)

            guarded(action, operation=operation, debug=bool(globals_.debug), secrets=Secrets())

        params = [options.context_parameter(), *own, *options.global_parameters(hidden=True)]
        options.with_signature(command, params, func.__doc__ or "")
        return command

    return wrap


@with_globals("Init")
def init(
    globals_: Globals,
    path: Annotated[
        str | None,
        typer.Argument(help=f"Where to make the store (default: --repo, ${ENV_REPO}, or '.').",
                       show_default=False, metavar="[PATH]"),
    ] = None,
    bare: Annotated[bool, typer.Option("--bare", help="Make a bare repository.")] = False,
    account_id: Annotated[
        str | None,
        typer.Option("--account-id", help="The 12-digit account id of the store's ARNs "
                     "(default: random).", show_default=False, metavar="ID"),
    ] = None,
    branch: Annotated[
        str, typer.Option("--branch", help="The branch that holds the store.", metavar="NAME")
    ] = "main",
    kms_key_id: Annotated[
        str | None,
        typer.Option("--kms-key-id", help="The new store's default key, for secrets created "
                     "without --kms-key-id: an age recipient (age1...), an AWS KMS key ARN or "
                     "alias ARN, or a local key id (default: alias/aws/secretsmanager, a local key "
                     "made on first use).", show_default=False, metavar="KEY"),
    ] = None,
) -> None:  # fmt: skip
    """Make a store: git init if needed, then the store config. Running it again changes nothing.

    In a clone of a team's store, run it once: it registers gitsm's merge driver in the clone's
    git config (and adds gitsm's lines to .gitattributes if the store lacks them: one commit).

    --region sets the store's region (default: $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1).
    A store that teammates share needs a default key they hold: --kms-key-id, or later
    'gitsm keys set-default KEY'.
    """
    from gitsm.errors import StoreError
    from gitsm.store import SecretStore

    target = Path(path or globals_.repo or os.environ.get(ENV_REPO) or ".")
    try:
        existing: SecretStore | None = SecretStore.open(target)
    except StoreError:
        existing = None
    store = existing or SecretStore.init(
        target, bare=bare, region=globals_.region, account_id=account_id, branch=branch,
        default_kms_key_id=kms_key_id,
    )  # fmt: skip
    setup = store.install_merge_driver()
    config = store.config()
    if existing is not None and globals_.region not in (None, config.region):
        sys.stderr.write(
            f"gitsm: the store at {target} already exists with region {config.region}; "
            f"--region {globals_.region} was not applied.\n"
        )
    if existing is not None and kms_key_id not in (None, config.default_kms_key_id):
        sys.stderr.write(
            f"gitsm: the store at {target} already exists with default key "
            f"{config.default_kms_key_id}; --kms-key-id {kms_key_id} was not applied. To change "
            f"it, run 'gitsm keys set-default {kms_key_id}'.\n"
        )
    result = {
        "Path": str(target.resolve()),
        "Bare": store.repo.workdir is None,
        "Branch": store.repo.branch,
        "Region": config.region,
        "AccountId": config.account_id,
        "DefaultKmsKeyId": config.default_kms_key_id,
        "Created": existing is None,
        "MergeDriver": "configured" if setup.config_changed else "unchanged",
    }
    if setup.attributes_commit is not None:
        result["AttributesCommit"] = setup.attributes_commit
    ids = {"Path": result["Path"], "AttributesCommit": setup.attributes_commit}
    landed = Landed("Init", ids, see=f"gitsm --repo {result['Path']} keys list")
    output.emit(result, globals_, "Init", landed=landed)


@with_globals("Log")
def log(
    globals_: Globals,
    secret_id: Annotated[
        str | None,
        typer.Option("--secret-id", help="Only the operations on this secret (name or ARN).",
                     show_default=False, metavar="TEXT"),
    ] = None,
    max_items: Annotated[
        str | None,
        typer.Option("--max-items", help="Show at most this many operations.",
                     show_default=False, metavar="INTEGER"),
    ] = None,
) -> None:  # fmt: skip
    """Show the history of operations, newest first: date, author, committer, operation, secret,
    VersionId and ClientRequestToken, from the commits' Gitsm-* trailers. Never a value.

    Signature is good, bad, untrusted (not an allowed signer), unverified or none, and Signer the
    signer's key (and name, once verified), checked as 'git log --show-signature' does: ssh
    signatures against gpg.ssh.allowedSignersFile when it is set, OpenPGP ones with your GnuPG.
    """
    from itertools import islice

    from gitsm.history import history
    from gitsm.signatures import with_signatures

    store = open_store(globals_)
    entries = history(store.repo, secret_id=secret_id)
    limit = None if max_items is None else params.coerce(max_items, "integer", "--max-items")
    rows = [_log_row(e) for e in with_signatures(store.repo, islice(entries, limit))]
    output.emit({"Operations": rows}, globals_, "Log")


def _log_row(entry: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "Commit": entry.commit,
        "Date": entry.date,
        "Author": entry.author,
        "Committer": entry.committer,
        "Signature": entry.signature,
    }
    if entry.signer:
        row["Signer"] = entry.signer
    if entry.operation is None:
        row["Subject"] = entry.subject
    for key, value in entry.trailers.items():
        row[LOG_KEYS.get(key, key.replace("-", ""))] = value
    return row


@with_globals("PurgeDeletedSecrets")
def purge_deleted_secrets(globals_: Globals) -> None:
    """Remove the secrets whose recovery window has passed (one commit); print their names."""
    store = open_store(globals_)
    purged = store.purge_deleted_secrets()
    landed = Landed("PurgeDeletedSecrets", {"PurgedSecrets": ", ".join(purged) or "none"},
                    see="gitsm log --max-items 1")  # fmt: skip
    output.emit({"PurgedSecrets": purged}, globals_, "PurgeDeletedSecrets", landed=landed)
