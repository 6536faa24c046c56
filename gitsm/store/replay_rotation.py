"""Replaying the rotation operations on another tip (``gitsm sync``), with AWS's serial rules.

RotateSecret is applied as the request it records (its trailers: the function, the rules, whether
it rotated now and with which token) to the upstream secret at the time it was made: refused when
upstream has another rotation in progress (AWS would have refused the request then) or no longer
registers the function (the store's default one, for a secret without a RotationLambdaARN).
RotationSucceeded needs its rotation still in progress upstream, its version AWSCURRENT there.
CancelRotateSecret turns off whatever rotation upstream has.
"""

from __future__ import annotations

import json
from dataclasses import replace

from gitsm import rotationstate
from gitsm.errors import GitsmError
from gitsm.model import AWSCURRENT, Secret
from gitsm.rotationstate import ROTATION_OPERATIONS, started
from gitsm.schedule import validate_rules
from gitsm.store.replay_base import Refused, ReplayBase, ReplayContext

__all__ = ["ROTATION_OPERATIONS", "replay_rotation"]


def replay_rotation(
    store: ReplayBase, ctx: ReplayContext, name: str, before: Secret, after: Secret
) -> None:
    """Apply the commit's rotation operation to the upstream secret ``name``."""
    cur = store._target(ctx, name, before, pending=False)
    operation = ctx.op.operation
    changed = max(cur.last_changed, after.last_changed)
    if operation == "RotateSecret":
        updated = _rotate(ctx, cur, after)
    elif operation == "CancelRotateSecret":
        rotation = cur.rotation
        if rotation is None or not rotation.enabled:
            return  # off upstream already
        updated = replace(cur, rotation=rotationstate.cancel(rotation))
    else:
        updated = _succeeded(ctx, cur, after)
    if updated != cur:
        store._save(ctx, cur, replace(updated, last_changed=changed))


def _redo(name: str) -> str:
    return (
        f"check the secret (gitsm describe-secret --secret-id {name}), then rotate it again if "
        f"it is still needed (gitsm rotate-secret --secret-id {name})"
    )


def _rotate(ctx: ReplayContext, cur: Secret, after: Secret) -> Secret:
    trailers = ctx.op.trailers
    try:
        lambda_arn = rotationstate.validate_lambda_arn(trailers.get("Rotation-Lambda-Arn"))
        raw = trailers.get("Rotation-Rules")
        rules = validate_rules(json.loads(raw)) if raw is not None else None
    except (GitsmError, ValueError):
        raise Refused("its Gitsm-Rotation-Lambda-Arn or Gitsm-Rotation-Rules trailer is not "
                      "valid", "redo the RotateSecret through gitsm") from None  # fmt: skip
    start = started(trailers)
    if start is not None and start in cur.versions and rotationstate.pending(cur) != start:
        return cur  # that rotation has finished upstream already
    when = after.last_changed
    try:
        if start is not None:
            rotationstate.check_can_start(cur, start)
        default = ctx.config.default_rotation_function
        rotation = rotationstate.configure(cur, lambda_arn, rules, start, when,
                                           has_default=default is not None)  # fmt: skip
    except GitsmError as exc:
        raise Refused(f"{exc.message} (upstream)", _redo(cur.name)) from None
    if rotation.lambda_arn is None:  # the store's default rotates it
        assert default is not None
        function = default
    else:
        function = rotationstate.function_name(rotation.lambda_arn)
    if function not in ctx.config.rotation_functions:
        raise Refused(
            f"rotation function {function} is not registered upstream",
            f"register it (gitsm rotation register-function {function} --command ...), then "
            f"rotate again (gitsm rotate-secret --secret-id {cur.name})",
        )
    stages = cur.stage_map()
    if start is not None:
        stages = rotationstate.start_stages(stages, start)
    versions = {vid: replace(v, stages=stages[vid]) for vid, v in cur.versions.items()}
    return replace(cur, rotation=rotation, versions=versions)


def _succeeded(ctx: ReplayContext, cur: Secret, after: Secret) -> Secret:
    token = ctx.op.trailers.get("Client-Request-Token")
    rotation, done = cur.rotation, after.rotation
    if done is None or done.last_rotated is None or token is None:
        raise Refused("the commit records no finished rotation", "redo the rotation through gitsm")
    if rotation is None or rotation.token != token:
        if rotation is not None and rotation.last_rotated == done.last_rotated:
            return cur  # recorded upstream already
        raise Refused(
            f"rotation {token} of {cur.name} is no longer in progress upstream (it was "
            "cancelled, or another rotation started)", _redo(cur.name),
        )  # fmt: skip
    version = cur.versions.get(token)
    if version is None or AWSCURRENT not in version.stages:
        raise Refused(f"version {token} of {cur.name} is not AWSCURRENT upstream",
                      _redo(cur.name))  # fmt: skip
    stages = rotationstate.finish_stages(cur.stage_map(), token)
    versions = {vid: replace(v, stages=stages[vid]) for vid, v in cur.versions.items()}
    return replace(
        cur, rotation=rotationstate.succeed(rotation, done.last_rotated), versions=versions
    )
