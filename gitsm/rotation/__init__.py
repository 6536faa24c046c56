"""Rotation functions that ship with gitsm, and what a rotation function needs to be one.

A rotation function is a program that gitsm runs once per rotation step with the Lambda event on
its standard input (docs/ROTATION.md). The functions here are Lambda-style handlers
(``lambda_handler(event, context)``) run by ``gitsm rotation run-lambda MODULE``
(:mod:`gitsm.rotation.handler`):

* :mod:`gitsm.rotation.password`: a new random password (GetRandomPassword) on each rotation;
* :mod:`gitsm.rotation.postgres`: a PostgreSQL user's password, changed on the server
  (``ALTER ROLE``), tested by logging in, then made AWSCURRENT.

Each uses :func:`client` where a Lambda function uses ``boto3.client("secretsmanager")``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitsm.awsclient import SecretsManagerClient

ENV_REPO = "GITSM_REPO"


def client() -> SecretsManagerClient:
    """The store being rotated, as a boto3-shaped client: ``$GITSM_REPO``, in the secret's region
    (``$AWS_REGION``, which gitsm sets for the function as Lambda does)."""
    import gitsm

    repo = os.environ.get(ENV_REPO)
    if not repo:
        raise RuntimeError(
            f"{ENV_REPO} is not set: a rotation function runs under gitsm, which sets it to the "
            "store being rotated."
        )
    return gitsm.client(repo=repo, region_name=os.environ.get("AWS_REGION") or None)
