"""The options every command shares, and finding and opening the store.

Global options may come before the command (``gitsm --output text get-secret-value ...``) or after
it, as with the aws CLI; a value given after the command wins. The store is ``--repo PATH``, else
``$GITSM_REPO``, else the git repository enclosing the current directory.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitsm.cli.errors import EnvironmentFailure, UsageFailure
from gitsm.cli.locate import ENV_REPO, find_store
from gitsm.cli.params import BINARY_FORMATS

if TYPE_CHECKING:
    from gitsm.awsclient import SecretsManagerClient
    from gitsm.store import SecretStore

META_KEY = "gitsm.globals"


@dataclass(frozen=True)
class Globals:
    """Options that every command accepts (None: not given)."""

    repo: str | None = None
    region: str | None = None
    output: str | None = None
    query: str | None = None
    debug: bool | None = None
    no_paginate: bool | None = None
    cli_binary_format: str | None = None
    no_cli_pager: bool | None = None

    def merged(self, later: Globals) -> Globals:
        """These options overridden by those given later on the command line."""
        given = {f.name: getattr(later, f.name) for f in fields(later)}
        return replace(self, **{k: v for k, v in given.items() if v is not None})

    @property
    def binary_format(self) -> str:
        """``--cli-binary-format`` (aws CLI v2's default: base64)."""
        fmt = self.cli_binary_format or "base64"
        if fmt not in BINARY_FORMATS:
            raise UsageFailure(
                "argument --cli-binary-format: Invalid choice, valid choices are:\n\n"
                + " | ".join(BINARY_FORMATS)
            )
        return fmt


def store_path(globals_: Globals) -> Path:
    """The store this invocation works on (no git work is done here)."""
    found = find_store(globals_.repo)
    if found is not None:
        return Path(found)
    raise EnvironmentFailure(
        f"No gitsm store: {Path.cwd()} is not inside a git repository, and neither --repo nor "
        f"{ENV_REPO} names one. Create a store with 'gitsm init PATH', then pass --repo PATH, "
        f"set {ENV_REPO}, or run gitsm inside it."
    )


def open_client(globals_: Globals) -> SecretsManagerClient:
    """A boto3-shaped client on the selected store; ``--region`` overrides the store's region
    (set by 'gitsm init --region') for this call: the ARNs it makes and accepts."""
    import gitsm

    return gitsm.client(repo=store_path(globals_), region_name=globals_.region)


def open_store(globals_: Globals) -> SecretStore:
    """The selected store itself, for gitsm's own verbs (what :func:`open_client` wraps, without
    loading the boto3-shaped client and its parameter model)."""
    from gitsm.store import SecretStore

    return SecretStore.open(store_path(globals_), region=globals_.region)


def globals_from(values: dict[str, Any]) -> Globals:
    """Globals from the typer parameters of a command (keys prefixed with ``g_``)."""
    return Globals(**{f.name: values.get("g_" + f.name) for f in fields(Globals)})
