"""What the rotation operations may change, for ``gitsm verify --range`` (:mod:`gitsm.opcheck`).

* ``RotateSecret`` sets the rotation up (on, its function and schedule, the next window) and, with
  ``Gitsm-Rotate-Immediately: true``, starts the rotation ``Gitsm-Client-Request-Token`` names:
  AWSPENDING leaves the AWSCURRENT version for the new, empty one.
* ``RotationSucceeded`` records the end of the rotation its token names: LastRotatedDate, the next
  window, no rotation in progress; AWSPENDING leaves the new AWSCURRENT version.
* ``CancelRotateSecret`` turns rotation off, forgetting the rotation in progress and the next
  window; function and schedule stay.
* ``RotationTestEnded`` removes the temporary AWSPENDING version of RotateImmediately=false's
  test (``Gitsm-Client-Request-Token``), while it carries no other label (:mod:`gitsm.opcheck`).
* ``RegisterRotationFunction`` and ``DeregisterRotationFunction`` change the one rotation function
  ``Gitsm-Rotation-Function`` names in the config.
* ``SetDefaultRotationFunction`` makes the registered function ``Gitsm-Rotation-Function`` names
  the config's default rotation function (no trailer: no default).

No other operation changes a secret's rotation or the config's rotation functions or default. The
rotation function's own writes (PutSecretValue, UpdateSecretVersionStage) are ordinary operations.

Pure: no git, no keys, no values.
"""

from __future__ import annotations

from dataclasses import replace

from gitsm import rotationstate
from gitsm.manifest import StoreConfig
from gitsm.model import Rotation, Secret
from gitsm.rotationstate import (
    DEFAULT_OPERATION,
    FUNCTION_OPERATIONS,
    ROTATION_OPERATIONS,
    TEST_ENDED,
    started,
)

__all__ = ["DEFAULT_OPERATION", "FUNCTION_OPERATIONS", "ROTATION_OPERATIONS", "TEST_ENDED",
           "config_problems", "expected_stages", "secret_problems"]  # fmt: skip


def expected_stages(
    operation: str, trailers: dict[str, str], stages: dict[str, list[str]]
) -> dict[str, list[str]]:
    """The labels a rotation operation leaves, from ``stages``."""
    token = trailers.get("Client-Request-Token")
    if operation == "RotateSecret" and (start := started(trailers)) is not None:
        return rotationstate.start_stages(stages, start)
    if operation == "RotationSucceeded" and token is not None:
        return rotationstate.finish_stages(stages, token)
    return stages


def secret_problems(
    operation: str, trailers: dict[str, str], before: Secret | None, after: Secret
) -> list[str]:
    """Why a commit's change of ``after``'s rotation is not its operation's (empty: it is)."""
    old, new = before.rotation if before is not None else None, after.rotation
    if old == new:
        return []
    if operation not in ROTATION_OPERATIONS:
        return ["changes the rotation settings outside RotateSecret, CancelRotateSecret or "
                "RotationSucceeded"]  # fmt: skip
    if new is None:
        return [f"removes the rotation settings, which {operation} never does"]
    if operation == "RotateSecret":
        return _rotate(trailers, old, new)
    if old is None:
        return [f"sets rotation up, which {operation} never does"]
    if operation == "CancelRotateSecret":
        return [] if new == rotationstate.cancel(old) else [
            "changes more than CancelRotateSecret does (rotation off, no rotation in progress, "
            "no next window)"
        ]  # fmt: skip
    token = trailers.get("Client-Request-Token")
    if old.token is None or old.token != token:
        return [f"records the end of rotation {token}, which was not in progress"]
    expected = replace(old, last_rotated=new.last_rotated, next_rotation=new.next_rotation,
                       token=None)  # fmt: skip
    if new != expected or new.last_rotated is None:
        return ["changes more than RotationSucceeded does (LastRotatedDate, the next window, "
                "the rotation in progress)"]  # fmt: skip
    return []


def _rotate(trailers: dict[str, str], old: Rotation | None, new: Rotation) -> list[str]:
    problems = []
    start = started(trailers)
    if not new.enabled:
        problems.append("leaves rotation off, which RotateSecret never does")
    if new.lambda_arn is None and old is not None and old.lambda_arn is not None:
        problems.append("removes the rotation function, which RotateSecret never does")
    if old is not None and new.last_rotated != old.last_rotated:
        problems.append("changes LastRotatedDate, which only RotationSucceeded records")
    keeps = old.token if old is not None else None
    if new.token != (start if start is not None else keeps):
        problems.append("sets a rotation in progress other than the one its trailers start")
    given = trailers.get("Rotation-Lambda-Arn")
    if given is not None and new.lambda_arn != given:
        problems.append(f"sets the rotation function {new.lambda_arn}, not {given}")
    return problems


def config_problems(
    operation: str, trailers: dict[str, str], before: StoreConfig, after: StoreConfig
) -> list[str]:
    """Why a commit's change of the rotation functions or the default one is not its
    operation's (empty: it is)."""
    problems = _default_problems(operation, trailers, before, after)
    old, new = before.rotation_functions, after.rotation_functions
    changed = sorted(n for n in {*old, *new} if old.get(n) != new.get(n))
    if not changed:
        return problems
    named = trailers.get("Rotation-Function")
    if operation not in FUNCTION_OPERATIONS or changed != [named]:
        return [*problems, f"changes rotation function(s) {', '.join(changed)} outside a "
                "RegisterRotationFunction or DeregisterRotationFunction of them"]  # fmt: skip
    if operation == "DeregisterRotationFunction" and named in new:
        return [*problems, f"keeps rotation function {named}, which its operation removes"]
    if operation == "RegisterRotationFunction" and named not in new:
        return [*problems, f"removes rotation function {named}, which its operation registers"]
    return problems


def _default_problems(
    operation: str, trailers: dict[str, str], before: StoreConfig, after: StoreConfig
) -> list[str]:
    """SetDefaultRotationFunction alone changes the default, to the function its trailer names
    (none when it names none), a registered one."""
    default = after.default_rotation_function
    if before.default_rotation_function == default:
        return []
    if operation != DEFAULT_OPERATION or trailers.get("Rotation-Function") != default:
        return ["changes the default rotation function outside a SetDefaultRotationFunction to it"]
    if default is not None and default not in after.rotation_functions:
        return [f"makes {default} the default rotation function, which is not registered"]
    return []
