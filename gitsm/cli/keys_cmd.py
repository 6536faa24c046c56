"""``gitsm keys ...``: local keys, key aliases and their recipients, re-keying, exposure reports.

The verbs print through the same ``--output``/``--query`` machinery as the operations (JSON by
default) and fail with the same messages and exit codes. Key material is printed only when asked
for (``create-key --export``, ``export-key``), and then only on standard output.

Nothing heavy is imported here: each verb imports the store when it runs (start-up speed).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gitsm.cli.context import Globals, open_store
from gitsm.cli.errors import UsageFailure
from gitsm.cli.keys_base import emit, key_write, keys_verb, verb_group, warn
from gitsm.cli.keys_default import set_default

if TYPE_CHECKING:
    from gitsm.keys import Recipient
    from gitsm.store.keyops import KeyAlias, RecipientInfo
    from gitsm.store.rekey import Exposure

ROTATE_HINT = (
    "Recipients no longer on these secrets' keys could decrypt the versions listed under "
    "Exposures (git history keeps them; re-keying cannot take that back). Rotate these values: "
    "put a new value (gitsm put-secret-value) for each secret in SecretsToRotate that is still in "
    "use, and change it wherever it is accepted."
)
RECIPIENT_HELP = (
    "A key id: an age recipient (age1...), an AWS KMS key ARN or alias ARN, or the id of a local "
    "key of this machine's key ring."
)


def _local_provider() -> Any:
    from gitsm.keys import KeyService

    return KeyService().local()  # KeySourceError (exit 253) for a malformed GITSM_LOCAL_KEYS


def _recipient(info: RecipientInfo) -> dict[str, Any]:
    return {"Provider": info.provider, "KeyId": info.key_id, "UsableHere": info.usable}


def _usable(recipients: Sequence[RecipientInfo]) -> bool | None:
    """True when this machine holds a recipient's key, None when only trying would tell."""
    if any(r.usable for r in recipients):
        return True
    return None if any(r.usable is None for r in recipients) else False


def _alias(alias: KeyAlias, usage: dict[str, int] | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"AliasName": alias.alias, "IsDefault": alias.is_default}
    if usage is not None:
        row["SecretCount"] = usage.get(alias.alias, 0)
    row["UsableHere"] = _usable(alias.recipients)
    row["Recipients"] = [_recipient(r) for r in alias.recipients]
    return row


def _name(recipient: Recipient) -> str:
    return f"{recipient.provider}:{recipient.key_id}"


def _exposures(exposures: Sequence[Exposure]) -> dict[str, Any]:
    rows = [
        {
            "Name": e.secret,
            "VersionId": e.version_id,
            "VersionStages": e.stages,
            "InTree": e.in_tree,
            "Recipients": [_name(r) for r in e.recipients],
            "Commit": e.commit,
        }
        for e in exposures
    ]
    data: dict[str, Any] = {
        "Exposures": rows,
        "SecretsToRotate": sorted({e.secret for e in exposures}),
    }
    if exposures:
        data["Hint"] = ROTATE_HINT
    return data


def _warn_exposed(exposures: Sequence[Exposure]) -> None:
    if exposures:
        secrets = len({e.secret for e in exposures})
        sys.stderr.write(
            f"gitsm: {len(exposures)} version(s) of {secrets} secret(s) were readable by "
            "recipients no longer on their key; rotate these values (see SecretsToRotate).\n"
        )


# -- verbs ---------------------------------------------------------------------------------------


@keys_verb("CreateKey")
def create_key(
    globals_: Globals,
    export: Annotated[
        bool, typer.Option("--export", help="Also print the key's GITSM_LOCAL_KEYS entry "
                           "('<key-id>:<base64>', key material) as LocalKeysEntry, for a CI "
                           "secret. Shown on standard output only.")
    ] = False,
) -> None:  # fmt: skip
    """Create a local key (AES-256) in this machine's key ring and print its id.

    The key ring is $GITSM_HOME/keys (default ~/.config/gitsm/keys; 0600 files). No store is
    needed and nothing is committed: use the id in an alias (create-alias, add-recipient) or as
    --kms-key-id.
    """
    local = _local_provider()
    key_id = local.create_key()
    data: dict[str, Any] = {"KeyId": key_id, "Provider": "local", "KeyRing": str(local.key_dir)}
    if export:
        data["LocalKeysEntry"] = local.export_key(key_id)
    emit(data, globals_, "CreateKey", landed=key_write("CreateKey", KeyId=key_id))


@keys_verb("ExportKey")
def export_key(
    globals_: Globals,
    key_id: Annotated[str, typer.Argument(help="The id of a local key.", metavar="KEY_ID")],
) -> None:  # fmt: skip
    """Print a local key's GITSM_LOCAL_KEYS entry ('<key-id>:<base64>': key material).

    For a CI system's secret store, so that CI can read the secrets wrapped for that key. Printed
    on standard output only; never pass it on a command line.
    """
    from gitsm.errors import ResourceNotFoundException

    local = _local_provider()
    if not local.claims(key_id):
        raise ResourceNotFoundException(
            f"No local key {key_id} in {local.key_dir} or GITSM_LOCAL_KEYS (see 'gitsm keys list')."
        )
    emit({"KeyId": key_id, "LocalKeysEntry": local.export_key(key_id)}, globals_, "ExportKey")


@keys_verb("ListKeys")
def list_keys(globals_: Globals) -> None:
    """List the store's key aliases (recipients, secrets using each, usable here or not), the
    other key ids secrets use, and the keys this machine holds (local key ring, GITSM_LOCAL_KEYS,
    age identities from GITSM_AGE_IDENTITY_FILE / GITSM_AGE_KEY).

    UsableHere: true when this machine holds the key; null when only trying tells (AWS KMS).
    """
    listing = open_store(globals_).list_keys()
    aliases = {a.alias for a in listing.aliases}
    data = {
        "DefaultKmsKeyId": listing.default_kms_key_id,
        "Aliases": [_alias(a, listing.usage) for a in listing.aliases],
        "OtherKeysInUse": [
            {"KeyId": k, "SecretCount": n} for k, n in sorted(listing.usage.items())
            if k not in aliases
        ],
        "HeldKeys": [{"Provider": r.provider, "KeyId": r.key_id} for r in listing.held],
        "Problems": listing.problems,
    }  # fmt: skip
    emit(data, globals_, "ListKeys")
    warn(listing.default_warning)


@keys_verb("DescribeKeyAlias")
def describe_alias(
    globals_: Globals,
    alias: Annotated[str, typer.Argument(help="The alias (alias/<name>).", metavar="ALIAS")],
) -> None:  # fmt: skip
    """Show one key alias and its recipients."""
    emit(_alias(open_store(globals_).describe_key_alias(alias)), globals_, "DescribeKeyAlias")


@keys_verb("PutKeyAlias")
def create_alias(
    globals_: Globals,
    alias: Annotated[str, typer.Argument(help="The new alias (alias/<name>).", metavar="ALIAS")],
    recipient: Annotated[
        list[str], typer.Option("--recipient", help=RECIPIENT_HELP + " (one or more; required)",
                                metavar="KEY_ID...", show_default=False)
    ] = [],  # noqa: B006 (typer reads the default; it is never mutated)
) -> None:  # fmt: skip
    """Create a key alias in the store's key registry (.gitsm/config.yaml; one commit).

    A value encrypted under the alias is readable with any one of its recipients' keys. Writers
    need only the public recipients (age recipients, KMS ARNs) to add versions.
    """
    if not recipient:
        raise UsageFailure("the following arguments are required: --recipient")
    created = open_store(globals_).create_key_alias(alias, recipient)
    emit(_alias(created), globals_, "PutKeyAlias", landed=key_write("PutKeyAlias", AliasName=alias))


@keys_verb("AddKeyRecipients")
def add_recipient(
    globals_: Globals,
    alias: Annotated[str, typer.Argument(help="The alias (alias/<name>).", metavar="ALIAS")],
    recipients: Annotated[
        list[str], typer.Argument(help=RECIPIENT_HELP, metavar="KEY_ID...", show_default=False)
    ],
) -> None:  # fmt: skip
    """Add recipients to a key alias (one commit). New versions are wrapped for them too; run
    'gitsm keys rekey --alias ALIAS' to give them the versions already stored.
    """
    changed = open_store(globals_).add_key_recipients(alias, recipients)
    emit(_alias(changed), globals_, "AddKeyRecipients",
         landed=key_write("AddKeyRecipients", AliasName=alias))  # fmt: skip


@keys_verb("RemoveKeyRecipients")
def remove_recipient(
    globals_: Globals,
    alias: Annotated[str, typer.Argument(help="The alias (alias/<name>).", metavar="ALIAS")],
    recipients: Annotated[
        list[str], typer.Argument(help="Key ids of the alias's recipients to remove.",
                                  metavar="KEY_ID...", show_default=False)
    ],
) -> None:  # fmt: skip
    """Remove recipients from a key alias (one commit). New versions exclude them; then run
    'gitsm keys rekey --alias ALIAS' to re-wrap what is stored and read its exposure report:
    history still holds what they could decrypt, so rotate those values.
    """
    store = open_store(globals_)
    changed = store.remove_key_recipients(alias, recipients)
    try:
        emit(_alias(changed), globals_, "RemoveKeyRecipients",
             landed=key_write("RemoveKeyRecipients", AliasName=alias))  # fmt: skip
    finally:  # what to do next holds even when the output could not be shown
        sys.stderr.write(
            f"gitsm: next, run 'gitsm keys rekey --alias {alias}' and rotate the values its "
            "exposure report lists.\n"
        )


@keys_verb("DeleteKeyAlias")
def delete_alias(
    globals_: Globals,
    alias: Annotated[str, typer.Argument(help="The alias (alias/<name>).", metavar="ALIAS")],
) -> None:  # fmt: skip
    """Delete a key alias that no secret uses and that is not the default key (one commit)."""
    open_store(globals_).delete_key_alias(alias)


def _scope(secret_id: str | None, prefix: str | None, all_: bool) -> None:
    given = [o for o, v in (("--secret-id", secret_id), ("--prefix", prefix), ("--all", all_)) if v]
    if len(given) > 1:
        raise UsageFailure(f"argument {given[1]}: not allowed with argument {given[0]}")


SECRET_ID = Annotated[
    str | None,
    typer.Option("--secret-id", help="One secret (name or ARN).", show_default=False,
                 metavar="TEXT"),
]  # fmt: skip
PREFIX = Annotated[
    str | None,
    typer.Option("--prefix", help="The secrets whose names start with this.", show_default=False,
                 metavar="TEXT"),
]  # fmt: skip
REPORT_FOR = Annotated[
    list[str],
    typer.Option("--recipient", help="Report only on these key ids (former or current "
                 "recipients). Default: every recipient no longer on a secret's key.",
                 metavar="KEY_ID...", show_default=False),
]  # fmt: skip


@keys_verb("Rekey")
def rekey(
    globals_: Globals,
    secret_id: SECRET_ID = None,
    prefix: PREFIX = None,
    all_: Annotated[bool, typer.Option("--all", help="Every secret of the store.")] = False,
    alias: Annotated[
        str | None,
        typer.Option("--alias", help="Only the secrets whose key is this alias (with no scope "
                     "option: all of them).", show_default=False, metavar="ALIAS"),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Re-wrap even versions already wrapped for exactly "
                           "the current recipients.")
    ] = False,
    recipient: REPORT_FOR = [],  # noqa: B006
) -> None:  # fmt: skip
    """Re-wrap stored data keys for their key's current recipients (one commit), then report
    every secret and VersionId, in the tree and in history, that recipients no longer on the key
    could decrypt.

    Scope: --secret-id, --prefix or --all (or --alias alone). Values are not re-encrypted and git
    history keeps the old wrappings, so whoever was removed can still read the versions listed
    under Exposures: rotate those values. A version this machine cannot unwrap fails the whole
    rekey, naming it, and nothing is written.
    """
    _scope(secret_id, prefix, all_)
    if not (secret_id or prefix or all_ or alias):
        raise UsageFailure(
            "name what to re-key: --secret-id ID, --prefix PREFIX, --all, or --alias ALIAS"
        )
    report = open_store(globals_).rekey(
        secret_id=secret_id, prefix=prefix, alias=alias, force=force,
        report_for=recipient or None,
    )  # fmt: skip
    data: dict[str, Any] = {
        "Rewrapped": [{"Name": n, "VersionId": v} for n, v in report.rewrapped],
        "SecretsInScope": report.secrets,
        "RemovedRecipients": [_name(r) for r in report.removed],
        **_exposures(report.exposures),
    }
    landed = key_write("Rekey", Rewrapped=f"{len(report.rewrapped)} version(s)")
    try:
        emit(data, globals_, "Rekey", landed=landed)
    finally:  # the rotation advice holds even when the output could not be shown
        _warn_exposed(report.exposures)


@keys_verb("ExposureReport")
def exposure_report(
    globals_: Globals,
    secret_id: SECRET_ID = None,
    prefix: PREFIX = None,
    recipient: REPORT_FOR = [],  # noqa: B006
) -> None:  # fmt: skip
    """List every secret and VersionId, in the tree and in history, that recipients no longer on
    the secret's key could decrypt (read-only; walks the branch's history once). Rotate these
    values.
    """
    _scope(secret_id, prefix, False)
    exposures = open_store(globals_).exposure_report(
        secret_id=secret_id, prefix=prefix, recipients=recipient or None
    )
    emit(_exposures(exposures), globals_, "ExposureReport")
    _warn_exposed(exposures)


VERBS: list[tuple[str, Callable[..., None], str]] = [
    ("create-key", create_key, "Create a local key in this machine's key ring; print its id."),
    ("export-key", export_key, "Print a local key's GITSM_LOCAL_KEYS entry (key material)."),
    ("list", list_keys, "List key aliases, the keys secrets use, and the keys held here."),
    ("describe-alias", describe_alias, "Show a key alias and its recipients."),
    ("create-alias", create_alias, "Create a key alias with one or more recipients."),
    ("add-recipient", add_recipient, "Add recipients to a key alias."),
    ("remove-recipient", remove_recipient, "Remove recipients from a key alias."),
    ("delete-alias", delete_alias, "Delete an unused key alias."),
    ("set-default", set_default, "Make a key the store's default key."),
    ("rekey", rekey, "Re-wrap data keys for the current recipients; report exposures."),
    ("exposure-report", exposure_report, "List the versions removed recipients could decrypt."),
]

HELP = """Manage the keys that encrypt secrets: local keys, key aliases and their recipients.

A key id (--kms-key-id, a recipient) is an alias of the store's key registry (.gitsm/config.yaml,
e.g. alias/team-prod), an age recipient (age1...), an AWS KMS key ARN or alias ARN, or a local key
id. Identities: GITSM_AGE_IDENTITY_FILE or GITSM_AGE_KEY (age), GITSM_LOCAL_KEYS (local keys in
CI), AWS credentials (aws-kms). Secrets created without --kms-key-id use the store's default key
('gitsm keys set-default KEY'); a store shared through a git remote needs one that teammates hold.
"""


def register(
    app: typer.Typer,
    command_cls: type[Any],
    fast: Callable[[Sequence[Any]], None],
    epilog: str,
) -> None:
    """Add ``gitsm keys`` to ``app`` (its verbs built with ``command_cls``)."""
    keys = verb_group(fast, HELP, command_cls, epilog, VERBS)
    app.add_typer(keys, name="keys", short_help="Manage keys, key aliases and recipients; rekey.")
