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

import io
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import zipfile
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


RAN_CODE = "X-Gitsm-Ran-Code"
"""The bridge's answer header saying that the function's own code ran (server mode), so the
rotation function does not do the step a second time with gitsm's generic function."""
RUNNER = (
    "import importlib, json, sys\n"
    "module, name = sys.argv[1].rsplit('.', 1)\n"
    "out = getattr(importlib.import_module(module), name)(json.load(sys.stdin), None)\n"
    "print(json.dumps(out, default=str))\n"
)
"""What runs a Lambda function's handler on the event on standard input, in the directory of its
unpacked code (as the Lambda Python runtime calls ``module.function(event, context)``)."""


class Runtime:
    """Where a Lambda function's code runs in the server-mode run, since moto runs it only in
    docker: in a process of this interpreter, in a directory holding its unpacked zip, with the
    function's environment variables and ``AWS_ENDPOINT_URL`` naming the test's endpoint, so its
    SDK calls reach the services the test talks to (Secrets Manager: gitsm serve).

    When the code fails, the bridge answers as moto answers an invocation that failed (moto's
    Secrets Manager goes on regardless), without :data:`RAN_CODE`: the rotation function then does
    the step with gitsm's generic function, as it does in process, where no code runs at all."""

    endpoint: str | None = None

    @classmethod
    def run(cls, function: Any, event: dict[str, Any], region: str) -> tuple[int, bytes]:
        """(200, the handler's answer) or (500, why it failed)."""
        with tempfile.TemporaryDirectory(prefix="gitsm-moto-lambda-") as code:
            zipfile.ZipFile(io.BytesIO(function.code_bytes)).extractall(code)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_REGION": region,
                   "AWS_DEFAULT_REGION": region, "AWS_ENDPOINT_URL": str(cls.endpoint),
                   "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                   "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
                   **{k: str(v) for k, v in (function.environment_vars or {}).items()}}  # fmt: skip
            done = subprocess.run([sys.executable, "-c", RUNNER, function.handler], cwd=code,
                                  input=json.dumps(event).encode(), capture_output=True, env=env,
                                  timeout=120)  # fmt: skip
        if done.returncode != 0:
            return 500, b"the function's code failed: " + done.stderr[-2000:]
        return 200, done.stdout.strip().splitlines()[-1] if done.stdout.strip() else b"null"


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
        ran = False
        try:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            arn = request["FunctionArn"]
            from moto.awslambda.utils import get_backend

            where = _split_arn(arn)
            if where is None:
                raise ValueError(f"not a Lambda function ARN: {arn}")
            backend = get_backend(*where)
            if Runtime.endpoint is not None:
                status, body = Runtime.run(backend.get_function(arn), request["Event"], where[1])
                ran = status == 200
                status = 200  # a failed run is answered as moto answers a failed invoke
            else:
                result = backend.invoke(
                    arn, qualifier=None, body=json.dumps(request["Event"]), headers={},
                    response_headers={},
                )  # fmt: skip
                status, body = 200, result if isinstance(result, bytes) else str(result).encode()
        except Exception as exc:  # the step fails with this as its error
            status, body = 500, f"{type(exc).__name__}: {exc}".encode()
        self.send_response(status)
        if status == 200 and ran:
            self.send_header(RAN_CODE, "1")
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
