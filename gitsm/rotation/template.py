"""The steps every Lambda-style rotation function shares, as in AWS's rotation templates.

:func:`rotate` checks the event against the secret (rotation on; the token listed with AWSPENDING;
nothing to do when it is AWSCURRENT already) and calls the function's own step; ``createSecret``
(:func:`create_pending`) and ``finishSecret`` (:func:`finish`) are the same for every function.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

AWSCURRENT, AWSPENDING = "AWSCURRENT", "AWSPENDING"
EXCLUDE_CHARACTERS = "/@\"'\\"
"""Left out of generated passwords, as in AWS's templates (they break connection strings)."""
PASSWORD_LENGTH = 32

Step = Callable[[Any, str, str], None]


def rotate(service: Any, event: dict[str, Any], steps: dict[str, Step]) -> None:
    """Run ``event``'s step with ``steps`` (createSecret and finishSecret have defaults)."""
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    metadata = service.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"Secret {arn} is not enabled for rotation.")
    versions = metadata.get("VersionIdsToStages", {})
    if token not in versions:
        raise ValueError(f"Secret version {token} has no stage for rotation of secret {arn}.")
    if AWSCURRENT in versions[token]:
        return  # finished already
    if AWSPENDING not in versions[token]:
        raise ValueError(f"Secret version {token} not set as AWSPENDING for rotation of {arn}.")
    known: dict[str, Step] = {"createSecret": create_pending, "finishSecret": finish,
                              "setSecret": _nothing, "testSecret": _nothing}  # fmt: skip
    known.update(steps)
    if step not in known:
        raise ValueError(f"Invalid step parameter {step!r}.")
    known[step](service, arn, token)


def _nothing(service: Any, arn: str, token: str) -> None:
    """A step with nothing to do."""


def new_password(service: Any) -> str:
    """A new random password from GetRandomPassword."""
    answer = service.get_random_password(
        PasswordLength=PASSWORD_LENGTH, ExcludeCharacters=EXCLUDE_CHARACTERS
    )
    return str(answer["RandomPassword"])


def create_pending(service: Any, arn: str, token: str) -> None:
    """createSecret: unless the version is there already, put a new value with AWSPENDING: a new
    password, in place of ``password`` when the current value is a JSON object (its other fields
    kept), else as the whole value."""
    try:
        service.get_secret_value(SecretId=arn, VersionId=token, VersionStage=AWSPENDING)
        return  # put by an earlier try of this rotation
    except service.exceptions.ResourceNotFoundException:
        pass
    password = new_password(service)
    value = password
    try:
        current = service.get_secret_value(SecretId=arn, VersionStage=AWSCURRENT)
    except service.exceptions.ResourceNotFoundException:
        current = {}
    text = current.get("SecretString")
    if text is not None:
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            doc["password"] = password
            value = json.dumps(doc)
    service.put_secret_value(
        SecretId=arn, ClientRequestToken=token, SecretString=value, VersionStages=[AWSPENDING]
    )


def finish(service: Any, arn: str, token: str) -> None:
    """finishSecret: move AWSCURRENT to the new version (the old one gets AWSPREVIOUS)."""
    metadata = service.describe_secret(SecretId=arn)
    current = None
    for version, stages in metadata.get("VersionIdsToStages", {}).items():
        if AWSCURRENT in stages:
            if version == token:
                return
            current = version
            break
    service.update_secret_version_stage(
        SecretId=arn, VersionStage=AWSCURRENT, MoveToVersionId=token,
        RemoveFromVersionId=current,
    )  # fmt: skip


def pending_value(service: Any, arn: str, token: str) -> dict[str, Any]:
    """The new value (AWSPENDING, this rotation's version) as a JSON object."""
    answer = service.get_secret_value(SecretId=arn, VersionId=token, VersionStage=AWSPENDING)
    return _json(answer, "AWSPENDING")


def stage_value(service: Any, arn: str, stage: str) -> dict[str, Any] | None:
    """The value with ``stage`` as a JSON object (None when no version has that label)."""
    try:
        answer = service.get_secret_value(SecretId=arn, VersionStage=stage)
    except service.exceptions.ResourceNotFoundException:
        return None
    return _json(answer, stage)


def _json(answer: dict[str, Any], what: str) -> dict[str, Any]:
    try:
        doc = json.loads(answer.get("SecretString") or "")
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise ValueError(f"The {what} value is not a JSON object.")
    return doc
