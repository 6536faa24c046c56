"""``gitsm keys set-default KEY``: choose the store's default key (one commit)."""

from __future__ import annotations

from typing import Annotated

import typer

from gitsm.cli.context import Globals, open_store
from gitsm.cli.keys_base import emit, key_write, keys_verb, warn

DEFAULT_KEY_HELP = (
    "An alias of the store's key registry (gitsm keys create-alias), an age recipient (age1...), "
    "an AWS KMS key ARN or alias ARN, or the id of a local key of this machine's key ring."
)


@keys_verb("SetDefaultKey")
def set_default(
    globals_: Globals,
    key: Annotated[str, typer.Argument(help=DEFAULT_KEY_HELP, metavar="KEY")],
) -> None:  # fmt: skip
    """Make KEY the store's default key: the key of every secret created without --kms-key-id
    (one commit changing default_kms_key_id in .gitsm/config.yaml; none when KEY is the default
    already). Prints DefaultKmsKeyId and whether it Changed.

    In a store shared through a git remote, pick a key that every teammate and CI can read: an
    alias of age recipients (from age-keygen) or an AWS KMS key. New versions of secrets without
    their own key use KEY; 'gitsm keys rekey --alias KEY' (or --all) re-wraps the stored ones.
    """
    store = open_store(globals_)
    changed = store.set_default_key(key)
    landed = key_write("SetDefaultKey", DefaultKmsKeyId=key, Changed=changed)
    try:
        emit({"DefaultKmsKeyId": key, "Changed": changed}, globals_, "SetDefaultKey", landed=landed)
    finally:
        warn(store.default_key_warning())
