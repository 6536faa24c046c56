"""A rotation function for a PostgreSQL user's password (one user changes its own password).

The secret is a JSON object as AWS's database secrets are: ``{"engine": "postgres", "host": ...,
"port": 5432, "username": ..., "password": ..., "dbname": ...}`` (``port`` and ``dbname`` are
optional). The steps, as in AWS's single-user PostgreSQL rotation template:

* ``createSecret``: the same object with a new password, as AWSPENDING;
* ``setSecret``: log in with the AWSPENDING password (done, if it works already: a retry), else
  with the AWSCURRENT one (or the AWSPREVIOUS one, after an interrupted rotation) and change the
  user's password to the new one (``ALTER ROLE ... PASSWORD``);
* ``testSecret``: log in with the new password and run a query;
* ``finishSecret``: make the new version AWSCURRENT. The old password no longer works.

It talks to the server with ``psql`` (``$PSQL``, else ``psql`` on PATH), passing passwords in the
environment (``PGPASSWORD``) and the new one on standard input, never on a command line. Register it
with::

    gitsm rotation register-function postgres --command "gitsm rotation run-lambda gitsm.rotation.postgres"
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from gitsm.rotation import client
from gitsm.rotation.template import (
    AWSCURRENT,
    pending_value,
    rotate,
    stage_value,
)

TIMEOUT = 30


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    """One rotation step (the Lambda handler's signature)."""
    rotate(client(), event, {"setSecret": set_secret, "testSecret": test_secret})


def set_secret(service: Any, arn: str, token: str) -> None:
    """Change the user's password on the server to the AWSPENDING one."""
    pending = pending_value(service, arn, token)
    if run_sql(pending, "SELECT 1;").returncode == 0:
        return  # the server has the new password already
    errors = []
    for stage in (AWSCURRENT, "AWSPREVIOUS"):
        old = stage_value(service, arn, stage)
        if old is None or old.get("username") != pending.get("username"):
            continue
        statement = (
            f"ALTER ROLE {identifier(str(pending['username']))} "
            f"PASSWORD {literal(str(pending['password']))};"
        )
        done = run_sql(old, statement)
        if done.returncode == 0:
            return
        errors.append(f"with the {stage} password: {done.stderr.strip()}")
    raise RuntimeError(
        "setSecret: could not log in to change the password: "
        + ("; ".join(errors) or "no AWSCURRENT or AWSPREVIOUS value for the same username")
    )


def test_secret(service: Any, arn: str, token: str) -> None:
    """Log in with the new password and run a query."""
    done = run_sql(pending_value(service, arn, token), "SELECT now();")
    if done.returncode != 0:
        raise RuntimeError(f"testSecret: the new password does not work: {done.stderr.strip()}")


def identifier(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A quoted SQL string literal (standard_conforming_strings, the default since 9.1)."""
    return "'" + text.replace("'", "''") + "'"


def run_sql(secret: dict[str, Any], sql: str) -> subprocess.CompletedProcess[str]:
    """Run ``sql`` (given on standard input) as the secret's user; the password travels in
    PGPASSWORD, and no password file or service file is read."""
    psql = os.environ.get("PSQL") or shutil.which("psql")
    if not psql:
        raise RuntimeError("psql not found: install PostgreSQL's client or set PSQL to its path")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        PGHOST=str(secret.get("host", "localhost")), PGPORT=str(secret.get("port", 5432)),
        PGUSER=str(secret["username"]), PGPASSWORD=str(secret["password"]),
        PGDATABASE=str(secret.get("dbname", "postgres")), PGCONNECT_TIMEOUT="10",
        PGPASSFILE=os.devnull, PGSERVICEFILE=os.devnull,
    )  # fmt: skip
    return subprocess.run(
        [psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"],
        input=sql, env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
