"""What both moto-suite plugins share for rotation: the stores' default rotation function, and the
bridge through which a gitsm rotation function invokes a Lambda function of moto's.

When a test passes ``RotationLambdaARN`` naming a Lambda function that exists in moto, the plugin
(in process: ``gitsm_moto_plugin.py``; against ``gitsm serve``: ``gitsm_moto_router.py``) registers
a rotation function of that name in the store first, whose command (:func:`bridge_command`, the
script ``gitsm_moto_lambda.py``) invokes that moto function with the step's event through the
bridge, an HTTP endpoint in the test process (:func:`start_bridge`; moto's backends live there,
behind ``mock_aws`` in process and behind moto's own threaded server in server mode), and then does
the step's work with gitsm's generic password function.

moto is imported only when it is needed (a request to the bridge, :func:`moto_function_exists`):
the server-mode plugin imports this module before it may import moto.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LAMBDA_COMMAND = HERE / "gitsm_moto_lambda.py"
BRIDGE_ENV = "GITSM_MOTO_BRIDGE"
"""The variable that gives ``gitsm_moto_lambda.py`` the bridge's URL (its path is a secret key)."""
DEFAULT_FUNCTION = "gitsm-password"
DEFAULT_COMMAND = ["gitsm", "rotation", "run-lambda", "gitsm.rotation.password"]
"""Every store's default rotation function: gitsm's generic password function, so a RotateSecret
without RotationLambdaARN rotates as AWS's managed rotation would (docs/ROTATION.md)."""


def _split_arn(arn: str) -> tuple[str, str] | None:
    """(account, region) of a Lambda function ARN, or None when ``arn`` is not one."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[:3] != ["arn", "aws", "lambda"]:
        return None
    return parts[4], parts[3]


def moto_function_exists(arn: str) -> bool:
    """Whether moto (its backends in this process) has the Lambda function ``arn`` names."""
    from moto.awslambda.utils import get_backend

    where = _split_arn(arn)
    if where is None:
        return False
    try:
        get_backend(*where).get_function(arn)
    except Exception:  # moto's "function not found", whatever its class
        return False
    return True


def bridge_command(arn: str) -> list[str]:
    """The command of the rotation function registered for moto's Lambda function ``arn``."""
    return [sys.executable, str(LAMBDA_COMMAND), arn]


class _Bridge(BaseHTTPRequestHandler):
    """POST {"FunctionArn", "Event"}: invoke that moto Lambda function with the event, as moto's
    Secrets Manager backend invokes a rotation function."""

    key = ""

    def do_POST(self) -> None:
        """Invoke the function; 200 with its answer, or 500 with the error."""
        if self.path != f"/{self.key}":
            self.send_error(404)
            return
        try:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            arn = request["FunctionArn"]
            from moto.awslambda.utils import get_backend

            where = _split_arn(arn)
            if where is None:
                raise ValueError(f"not a Lambda function ARN: {arn}")
            result = get_backend(*where).invoke(
                arn, qualifier=None, body=json.dumps(request["Event"]), headers={},
                response_headers={},
            )  # fmt: skip
            status, body = 200, result if isinstance(result, bytes) else str(result).encode()
        except Exception as exc:  # the step fails with this as its error
            status, body = 500, f"{type(exc).__name__}: {exc}".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def start_bridge() -> tuple[ThreadingHTTPServer, str]:
    """The bridge, serving on 127.0.0.1 in a daemon thread, and its URL (for
    :data:`BRIDGE_ENV`)."""
    _Bridge.key = secrets.token_hex(16)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bridge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host!s}:{port}/{_Bridge.key}"
