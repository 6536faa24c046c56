"""``gitsm rotation run-lambda TARGET``: run a Lambda-style rotation handler as a rotation function.

TARGET is a Python file (``rotate.py``, relative to the store's work tree, where gitsm runs the
function) or a module (``gitsm.rotation.password``), with an optional ``:handler`` (default
``lambda_handler``). The event is read from standard input and passed as ``handler(event, None)``;
an exception is printed to standard error (its traceback) and makes the exit status 1, which
fails the rotation step, as a Lambda function's error fails it on AWS.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

EVENT_MAX = 64 * 1024

Handler = Callable[[dict[str, Any], Any], Any]


def load_handler(target: str) -> Handler:
    """The handler TARGET names (``file.py[:name]`` or ``module[:name]``)."""
    where, _, name = target.partition(":")
    name = name or "lambda_handler"
    if where.endswith(".py"):
        path = Path(where)
        spec = importlib.util.spec_from_file_location(f"gitsm_rotation_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {where}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    handler = getattr(module, name, None)
    if not callable(handler):
        raise ImportError(f"{where} has no function {name}")
    return handler  # type: ignore[no-any-return]


def read_event(stream: Any = None) -> dict[str, Any]:
    """The Lambda event on standard input (a JSON object with Step, SecretId and
    ClientRequestToken)."""
    data = (stream or sys.stdin.buffer).read(EVENT_MAX + 1)
    if len(data) > EVENT_MAX:
        raise ValueError(f"the event on standard input is over {EVENT_MAX} bytes")
    event = json.loads(data)
    if not isinstance(event, dict) or not all(
        isinstance(event.get(k), str) for k in ("Step", "SecretId", "ClientRequestToken")
    ):
        raise ValueError("the event on standard input is not a rotation event "
                         "(Step, SecretId, ClientRequestToken)")  # fmt: skip
    return event


def main(target: str) -> int:
    """Run the handler on the event; 0 when it returned, 1 when it raised (traceback on
    standard error)."""
    try:
        handler = load_handler(target)
        handler(read_event(), None)
    except Exception:  # the step fails; its message is this traceback's end
        traceback.print_exc(file=sys.stderr)
        return 1
    return 0
