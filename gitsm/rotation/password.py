"""The generic rotation function: a new random password on every rotation.

``createSecret`` puts a new password from GetRandomPassword (32 characters, without ``/@"'\\``)
as AWSPENDING: the whole value, or the ``password`` field when the current value is a JSON object;
``setSecret`` and ``testSecret`` do nothing (there is no service to tell); ``finishSecret`` makes it
AWSCURRENT. Register it with::

    gitsm rotation register-function password --command "gitsm rotation run-lambda gitsm.rotation.password"
"""

from __future__ import annotations

from typing import Any

from gitsm.rotation import client
from gitsm.rotation.template import rotate


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    """One rotation step (the Lambda handler's signature)."""
    rotate(client(), event, {})
