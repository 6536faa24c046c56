"""Rotation helpers for tests: a rotation function that runs no Python (fast), a scriptable one,
and a full rotation made cheaply (the function's writes done in-process).

``python tests/rotating.py`` is itself the scriptable rotation function: it puts
``$GITSM_TEST_VALUE`` at createSecret, moves AWSCURRENT at finishSecret, and fails the step
``$GITSM_TEST_FAIL_AT`` after printing that value to stderr (which gitsm must never show).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

NOOP = ["sh", "-c", "cat >/dev/null"]
"""A rotation function that does nothing and succeeds (every step exits 0)."""
SCRIPTED = [sys.executable, str(Path(__file__).resolve())]
"""This file as a rotation function (see the module docstring)."""
PASSWORD = ["gitsm", "rotation", "run-lambda", "gitsm.rotation.password"]
"""The shipped generic rotation function."""
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


def rotate_by_hand(store: object, name: str, token: str, *, function: str | None = "noop") -> None:
    """A complete rotation of ``name`` with ``token``, as a rotation function would make it, but
    without its processes: RotateSecret with a function that writes nothing fails after
    createSecret (no version), the test then puts the value and moves AWSCURRENT itself, and the
    retry with the same token runs the (empty) steps again and records the success. ``function``
    None: no RotationLambdaARN, the store's default function (which must write nothing)."""
    from gitsm.store import SecretStore
    from gitsm.store.rotation import RotationFailed

    assert isinstance(store, SecretStore)
    if function is not None and function not in store.rotation_functions():
        store.register_rotation_function(function, NOOP)
    try:
        store.rotate_secret(
            name, client_request_token=token,
            rotation_lambda_arn=ARN.format(function) if function is not None else None,
            rotation_rules={"AutomaticallyAfterDays": 30},
        )  # fmt: skip
    except RotationFailed as exc:
        assert "put no version" in exc.message
    else:
        raise AssertionError("a function that writes nothing cannot finish a rotation")
    store.put_secret_value(
        name, client_request_token=token, secret_string=f"rotated {token[:8]}",
        version_stages=["AWSPENDING"],
    )  # fmt: skip
    current = store.describe_secret(name).version_with_stage("AWSCURRENT")
    store.update_secret_version_stage(
        name, "AWSCURRENT", move_to_version_id=token, remove_from_version_id=current
    )
    store.rotate_secret(name, client_request_token=token)


def main() -> int:
    """The scriptable rotation function (see the module docstring)."""
    event = json.load(sys.stdin)
    step, arn, token = event["Step"], event["SecretId"], event["ClientRequestToken"]
    value = os.environ.get("GITSM_TEST_VALUE", "")
    if step == os.environ.get("GITSM_TEST_FAIL_AT"):
        shown = json.loads(value).get("password", value) if value.startswith("{") else value
        sys.stderr.write(f"connecting with password {shown}\nerror: cannot reach the database\n")
        return 1
    if step not in ("createSecret", "finishSecret"):
        return 0
    from gitsm.rotation import client
    from gitsm.rotation.template import finish

    service = client()
    if step == "finishSecret":
        finish(service, arn, token)
        return 0
    try:
        service.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
    except service.exceptions.ResourceNotFoundException:
        service.put_secret_value(
            SecretId=arn, ClientRequestToken=token, SecretString=value,
            VersionStages=["AWSPENDING"],
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
