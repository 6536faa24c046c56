"""The rotation function the moto-suite plugins register for a moto Lambda function (one step).

``python gitsm_moto_lambda.py FUNCTION_ARN``, run by gitsm as any rotation function is (the event
on standard input, ``GITSM_REPO`` naming the store; in the server-mode run, by ``gitsm serve``):
it invokes the moto Lambda function FUNCTION_ARN with the event through the bridge
(``gitsm_moto_bridge.py``, ``$GITSM_MOTO_BRIDGE``: an HTTP endpoint in the test process, where
moto's backends are), as Secrets Manager invokes a rotation Lambda. In process moto runs no Lambda
code, and in the server-mode run the function's code may fail: then it does the step's work with
gitsm's generic password function. Exit status 1 (and the reason on standard error) when the
invocation or the step fails.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request

from gitsm.rotation.handler import read_event
from gitsm.rotation.password import lambda_handler


def main(arn: str) -> int:
    """Invoke, then rotate; 0 when both worked."""
    event = read_event()
    request = urllib.request.Request(
        os.environ["GITSM_MOTO_BRIDGE"],
        data=json.dumps({"FunctionArn": arn, "Event": event}).encode(),
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=180) as answer:
            said = answer.read()
            ran = answer.headers.get("X-Gitsm-Ran-Code") == "1"
    except OSError as exc:  # urllib's HTTPError (the invoke failed) is an OSError too
        detail = exc.read().decode("utf-8", "replace") if hasattr(exc, "read") else str(exc)
        print(f"invoking {arn} in moto failed: {detail}", file=sys.stderr)
        return 1
    if not ran:  # no code ran, or it failed: do the step with gitsm's generic function
        print(f"{arn}: {said.decode('utf-8', 'replace')[-500:]}", file=sys.stderr)
        lambda_handler(event, None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
