"""A secret's rotation, as pure functions: setting it up, starting, finishing and cancelling a
rotation, whether one is in progress, and what DescribeSecret shows of it.

AWS's rule for a rotation in progress: AWSPENDING is attached to a version other than AWSCURRENT's.
When RotateSecret starts a rotation, AWSPENDING marks the new version before the rotation function
has put a value in it (an "empty version"): a rotation function checks that its token is listed in
``VersionIdsToStages`` with AWSPENDING before its ``createSecret`` step puts the value. gitsm keeps
that token in the manifest (:attr:`gitsm.model.Rotation.token`) and shows it with AWSPENDING until
a version of that id exists (:func:`visible_stages`); starting a rotation takes AWSPENDING off the
version it was left on by the last one (which also holds AWSCURRENT).

Pure: no git, no clock of its own, no values.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from gitsm import labels, schedule
from gitsm.errors import InvalidParameterException, InvalidRequestException
from gitsm.model import AWSCURRENT, AWSPENDING, Rotation, Secret
from gitsm.schedule import Rules

ROTATION_OPERATIONS = frozenset({"RotateSecret", "CancelRotateSecret", "RotationSucceeded"})
"""The operations that change a secret's rotation (their commits' Gitsm-Operation)."""
TEST_ENDED = "RotationTestEnded"
"""The end of RotateImmediately=false's test: its temporary AWSPENDING version (the
``Gitsm-Client-Request-Token``) removed, manifest line and envelope; nothing else changes."""
FUNCTION_OPERATIONS = frozenset({"RegisterRotationFunction", "DeregisterRotationFunction"})
"""The operations that change the config's rotation functions."""
DEFAULT_OPERATION = "SetDefaultRotationFunction"
"""The operation that changes the config's default rotation function."""
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
"""The steps of a rotation, in order; the rotation function runs once for each."""
LAMBDA_ARN_MAX = 2048
NO_FUNCTION = (
    "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN "
    "configured and you didn't include such an ARN as a parameter in this call."
)
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LAMBDA_ARN = re.compile(
    r"arn:aws[a-z-]*:lambda:[a-z0-9-]*:[0-9]*:function:([A-Za-z0-9_-]{1,64})(:[A-Za-z0-9$_-]+)?"
)


def started(trailers: dict[str, str]) -> str | None:
    """The token of the rotation a RotateSecret commit started (None: it started none)."""
    if trailers.get("Rotate-Immediately") != "true":
        return None
    return trailers.get("Client-Request-Token")


def validate_function_name(name: object) -> str:
    """A rotation function's name: 1-64 letters, digits, ``-`` and ``_`` (a Lambda name)."""
    if not isinstance(name, str) or not _FUNCTION_NAME.fullmatch(name):
        raise InvalidParameterException(
            f"Invalid rotation function name {str(name)[:80]!r}: use 1-64 letters, digits, '-' "
            "and '_' (as a Lambda function name)."
        )
    return name


def validate_lambda_arn(value: object) -> str | None:
    """RotationLambdaARN: ``arn:aws:lambda:<region>:<account>:function:<name>`` (an optional
    version or alias after it is accepted) or a plain function name; empty means not given."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > LAMBDA_ARN_MAX:
        raise InvalidParameterException(
            f"RotationLambdaARN must be a string of at most {LAMBDA_ARN_MAX} characters."
        )
    if not (_LAMBDA_ARN.fullmatch(value) or _FUNCTION_NAME.fullmatch(value)):
        raise InvalidParameterException(
            f"RotationLambdaARN {value[:200]} is neither a Lambda function ARN "
            "(arn:aws:lambda:<region>:<account>:function:<name>) nor a function name."
        )
    return value


def function_name(lambda_arn: str) -> str:
    """The function name a RotationLambdaARN names (the ARN's ``function:<name>``, or itself)."""
    m = _LAMBDA_ARN.fullmatch(lambda_arn)
    return m[1] if m else lambda_arn


def rules_of(rotation: Rotation | None) -> Rules | None:
    """The rotation's schedule, or None when it has none."""
    if rotation is None or (rotation.after_days is None and rotation.schedule is None):
        return None
    return Rules(rotation.after_days, rotation.schedule, rotation.duration)


def visible_stages(secret: Secret) -> dict[str, list[str]]:
    """VersionId -> labels as DescribeSecret lists them: labeled versions, and the version a
    rotation in progress is making, with AWSPENDING, until the rotation function puts it."""
    out = {vid: list(v.stages) for vid, v in secret.versions.items() if v.stages}
    token = secret.rotation.token if secret.rotation is not None else None
    if token is not None and token not in secret.versions and not labels.holder(out, AWSPENDING):
        out[token] = [AWSPENDING]
    return out


def pending(secret: Secret) -> str | None:
    """The VersionId of the rotation in progress: the one with AWSPENDING, when it is not the one
    with AWSCURRENT (AWS's rule); None when no rotation is in progress."""
    stages = visible_stages(secret)
    found = labels.holder(stages, AWSPENDING)
    return found if found is not None and found != labels.holder(stages, AWSCURRENT) else None


def test_version_removable(secret: Secret, token: str | None) -> bool:
    """True when RotationTestEnded may remove version ``token`` of ``secret``: it is there, has no
    label but AWSPENDING, and is not the rotation in progress."""
    version = secret.versions.get(token or "")
    in_progress = secret.rotation is not None and secret.rotation.token == token
    return version is not None and set(version.stages) <= {AWSPENDING} and not in_progress


def check_can_start(secret: Secret, token: str) -> None:
    """Refuse a new rotation while another is in progress (InvalidRequestException); the same
    ClientRequestToken as the one in progress retries it."""
    found = pending(secret)
    if found is not None and found != token:
        raise InvalidRequestException(
            f"A previous rotation isn't complete: version {found} of secret {secret.name} has "
            f"AWSPENDING and not AWSCURRENT. Retry that rotation (RotateSecret with "
            f"ClientRequestToken {found}), or cancel it (CancelRotateSecret; then, if version "
            f"{found} exists, remove AWSPENDING from it with UpdateSecretVersionStage)."
        )


def configure(
    secret: Secret,
    lambda_arn: str | None,
    rules: Rules | None,
    start: str | None,
    now: datetime,
    *,
    has_default: bool = False,
) -> Rotation:
    """The rotation after RotateSecret: the function and rules given (else those the secret has),
    turned on; ``start`` is the token of the rotation it starts (None: RotateImmediately=false).
    With no function given or set, the store's default rotation function rotates the secret
    (``has_default``: the store has one; the rotation keeps no function of its own, as AWS's
    managed rotation shows none); without a default that is AWS's InvalidRequestException.

    The next window is computed again when the schedule is new or changed, or rotation was off,
    from the last rotation (or now, for a secret never rotated); otherwise it is kept, so that a
    rotation that fails leaves the secret due."""
    before = secret.rotation
    function = lambda_arn or (before.lambda_arn if before is not None else None)
    if function is None and not has_default:
        raise InvalidRequestException(NO_FUNCTION)
    old_rules = rules_of(before)
    new_rules = rules or old_rules
    next_rotation = before.next_rotation if before is not None else None
    if before is None or not before.enabled or new_rules != old_rules or next_rotation is None:
        anchor = (before.last_rotated if before is not None else None) or now
        next_rotation = schedule.next_window(new_rules, anchor)[0] if new_rules else None
    token = start if start is not None else (before.token if before is not None else None)
    return Rotation(
        enabled=True, lambda_arn=function,
        after_days=new_rules.after_days if new_rules else None,
        schedule=new_rules.schedule if new_rules else None,
        duration=new_rules.duration if new_rules else None,
        last_rotated=before.last_rotated if before is not None else None,
        next_rotation=next_rotation, token=token,
    )  # fmt: skip


def start_stages(stages: dict[str, list[str]], token: str) -> dict[str, list[str]]:
    """Labels when a rotation with ``token`` starts: AWSPENDING leaves the version the last
    rotation left it on (it marks the new, empty version now). A retry changes nothing."""
    out = {vid: list(s) for vid, s in stages.items()}
    found = labels.holder(out, AWSPENDING)
    if found is not None and found != token and AWSCURRENT in out[found]:
        out[found].remove(AWSPENDING)
    return out


def succeed(rotation: Rotation, now: datetime) -> Rotation:
    """The rotation after it finished at ``now``: LastRotatedDate, the next window."""
    rules = rules_of(rotation)
    following = schedule.next_window(rules, now)[0] if rules else None
    return replace(rotation, last_rotated=now, next_rotation=following, token=None)


def finish_stages(stages: dict[str, list[str]], token: str) -> dict[str, list[str]]:
    """Labels after a rotation finished: AWSPENDING leaves the new AWSCURRENT version."""
    out = {vid: list(s) for vid, s in stages.items()}
    if token in out and AWSCURRENT in out[token] and AWSPENDING in out[token]:
        out[token].remove(AWSPENDING)
    return out


def cancel(rotation: Rotation) -> Rotation:
    """The rotation after CancelRotateSecret: off, no rotation in progress, no next window; the
    function and rules stay (DescribeSecret shows them, as AWS does)."""
    return replace(rotation, enabled=False, next_rotation=None, token=None)


def is_due(secret: Secret, now: datetime) -> bool:
    """True when rotation is on and the next rotation window has opened."""
    rotation = secret.rotation
    return bool(
        rotation is not None and rotation.enabled and secret.deleted_date is None
        and rotation.next_rotation is not None and rotation.next_rotation <= now
    )  # fmt: skip


def describe(secret: Secret, out: dict[str, Any], stages_key: str) -> None:
    """Add DescribeSecret's (and ListSecrets') rotation fields to ``out``: none for a secret never
    set up for rotation; the function and rules (kept when rotation is off); LastRotatedDate and
    NextRotationDate while it is on; the empty version of a rotation in progress."""
    rotation = secret.rotation
    out.pop("RotationEnabled", None)
    if rotation is None:
        return
    out["RotationEnabled"] = rotation.enabled
    if rotation.lambda_arn:
        out["RotationLambdaARN"] = rotation.lambda_arn
    rules = rules_of(rotation)
    if rules is not None:
        shown: dict[str, Any] = {}
        days = schedule.reported_days(rules)
        if days is not None:
            shown["AutomaticallyAfterDays"] = days
        if rules.schedule is not None:
            shown["ScheduleExpression"] = rules.schedule
        if rules.duration is not None:
            shown["Duration"] = rules.duration
        out["RotationRules"] = shown
    if rotation.enabled and rotation.last_rotated is not None:
        out["LastRotatedDate"] = rotation.last_rotated
    if rotation.enabled and rotation.next_rotation is not None and rules is not None:
        out["NextRotationDate"] = schedule.window_close(rules, rotation.next_rotation)
    stages = visible_stages(secret)
    if stages:  # a secret without a value lists the empty version of its rotation too
        out[stages_key] = stages
