"""Answers, the access log, and what a failed request answers.

One JSON line per request: time, peer, principal, operation, secret id (a name or ARN as the
caller gave it), HTTP status, error code, latency in milliseconds and whether the cache answered.
Never a value, a parameter other than the secret id, or a body.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from gitsm.awserrors import ClientError, ParamValidationError
from gitsm.errors import GitsmError, OperationError

INTERNAL = "InternalServiceError"
Headers = list[tuple[str, str]]


@dataclass
class Response:
    """An answer: HTTP status, headers (besides Content-Length) and body."""

    status: int
    body: bytes
    headers: Headers = field(default_factory=list)


@dataclass
class LogEntry:
    """What the access log says of one request."""

    start: float
    peer: str
    principal: str = ""
    operation: str = ""
    secret_id: str | None = None
    cache: str | None = None


class AccessLog:
    """Writes the access log's lines to ``stream`` (None: nowhere)."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream

    def write(self, entry: LogEntry, out: Response) -> None:
        """The line of one answered request."""
        if self.stream is None:
            return
        line: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "peer": entry.peer,
            "principal": entry.principal or None,
            "operation": entry.operation or None,
            "secret_id": entry.secret_id,
            "status": out.status,
            "ms": round((time.perf_counter() - entry.start) * 1000, 3),
        }
        if out.status >= 400:
            line["error"] = dict(out.headers).get("x-amzn-ErrorType")
        if entry.cache:
            line["cache"] = entry.cache
        try:
            self.stream.write(json.dumps(line, separators=(",", ":")) + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a full disk or a closed log must not fail requests


def failure(exc: BaseException) -> tuple[str, str, int]:
    """(AWS error code, message, HTTP status) of an exception raised while serving a request.

    Operation errors keep their code and status (the client's botocore-shaped exceptions carry
    them); a parameter report is a ValidationException; environment errors (a lock held, a full
    disk, a damaged repository) are InternalServiceError, 500, with gitsm's message, which never
    holds a value; anything else is logged by type and place only, and answered without detail.
    """
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        return str(err.get("Code")), str(err.get("Message")), int(status)
    if isinstance(exc, ParamValidationError):
        return "ValidationException", exc.message, 400
    if isinstance(exc, OperationError):
        return exc.code, exc.message, exc.http_status
    if isinstance(exc, GitsmError):
        return INTERNAL, exc.message, 500
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    with contextlib.suppress(OSError, ValueError):  # a closed or full stderr fails nothing
        sys.stderr.write(f"gitsm serve: internal error {type(exc).__name__} at {where}\n")
    return INTERNAL, "An internal error occurred in the server; its log says where.", 500
