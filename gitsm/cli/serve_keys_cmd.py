"""``gitsm serve create-access-key | list-access-keys | delete-access-key``: who may call the
server.

The keys live in ``$GITSM_HOME/serve-access-keys.json`` (mode 0600, never in git); see
:mod:`gitsm.serve.accesskeys`. The output has the shape of ``aws iam create-access-key`` and
``aws iam list-access-keys`` (the principal as UserName). A secret access key is printed once,
by create-access-key, on standard output only.

Nothing heavy is imported here: each verb imports what it needs when it runs (start-up speed).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gitsm.cli.context import Globals
from gitsm.cli.errors import Landed
from gitsm.cli.output import emit
from gitsm.cli.verbs import with_globals

SEE = "gitsm serve list-access-keys"
PRINCIPAL_HELP = (
    "The principal the key belongs to: the name the server policy grants actions to (1-64 "
    "letters, digits and +=,.@_-, like an IAM user name)."
)


def _metadata(info: Any) -> dict[str, Any]:
    return {
        "UserName": info.principal,
        "AccessKeyId": info.access_key_id,
        "Status": "Active",
        "CreateDate": info.created,
    }


@with_globals("CreateAccessKey")
def create_access_key(
    globals_: Globals,
    principal: Annotated[
        str, typer.Option("--principal", help=PRINCIPAL_HELP, show_default=False, metavar="NAME")
    ],
) -> None:  # fmt: skip
    """Create an access key for gitsm serve and print it, with its secret (shown only this once).

    Give the AccessKeyId and SecretAccessKey to the client (AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY). The secret is kept in $GITSM_HOME/serve-access-keys.json (0600),
    never in the store.
    """
    from gitsm.serve.accesskeys import AccessKeys

    key = AccessKeys().create(principal)
    data = {
        "AccessKey": {
            "UserName": key.principal,
            "AccessKeyId": key.access_key_id,
            "Status": "Active",
            "SecretAccessKey": key.secret_access_key,
            "CreateDate": key.created,
        }
    }
    landed = Landed("CreateAccessKey", {"AccessKeyId": key.access_key_id}, see=SEE)
    emit(data, globals_, "CreateAccessKey", landed=landed)


@with_globals("ListAccessKeys")
def list_access_keys(
    globals_: Globals,
    principal: Annotated[
        str | None, typer.Option("--principal", help="Only this principal's keys.",
                                 show_default=False, metavar="NAME")
    ] = None,
) -> None:  # fmt: skip
    """List the access keys of gitsm serve (never their secrets)."""
    from gitsm.serve.accesskeys import AccessKeys

    rows = [_metadata(info) for info in AccessKeys().list(principal)]
    emit({"AccessKeyMetadata": rows}, globals_, "ListAccessKeys")


@with_globals("DeleteAccessKey")
def delete_access_key(
    globals_: Globals,
    access_key_id: Annotated[
        str, typer.Option("--access-key-id", help="The key to delete.", show_default=False,
                          metavar="ID")
    ],
) -> None:  # fmt: skip
    """Delete an access key: a running server refuses it from its next request on."""
    from gitsm.serve.accesskeys import AccessKeys

    AccessKeys().delete(access_key_id)


VERBS = (
    ("create-access-key", create_access_key, "Create an access key (prints its secret once)."),
    ("list-access-keys", list_access_keys, "List the access keys (never their secrets)."),
    ("delete-access-key", delete_access_key, "Delete an access key."),
)


def add_access_key_commands(app: typer.Typer) -> None:
    """Add the access-key verbs to ``app`` (the ``gitsm serve`` group), built like gitsm's other
    verbs (aws CLI argument conventions, no pydantic at start-up)."""
    from gitsm.cli.app import EPILOG, GitsmCommand

    for name, func, short in VERBS:
        app.command(name, cls=GitsmCommand, epilog=EPILOG, short_help=short)(func)
