"""``gitsm serve``: the AWS Secrets Manager API over a store, and the access keys it accepts."""

from __future__ import annotations

import typer

from gitsm.cli.serve_keys_cmd import add_access_key_commands

serve_app = typer.Typer(
    name="serve",
    help="Serve the AWS Secrets Manager API (AWS JSON 1.1, SigV4) over a store, and manage the "
    "access keys it accepts.",
    no_args_is_help=True,
)
add_access_key_commands(serve_app)
