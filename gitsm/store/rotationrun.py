"""Running a rotation function: one process per rotation step, as Lambda runs one invocation.

The command of the store's ``rotation_functions`` entry runs without a shell, in the store's work
tree (the repository itself when it is bare), with the Lambda event as JSON on its standard input::

    {"Step": "createSecret", "SecretId": "<ARN>", "ClientRequestToken": "<token>",
     "RotationToken": "<uuid>"}

and the store reachable through ``GITSM_REPO`` (``AWS_REGION`` and ``AWS_DEFAULT_REGION`` are the
secret's region, as Lambda sets them). A command whose program is ``gitsm`` runs this gitsm (``python
-m gitsm`` with this interpreter), so shipped and ``run-lambda`` functions need nothing on PATH.
Standard output is discarded. Exit status 0 is success; anything else fails the step, and the
failure's message is made of the exit status and the end of standard error, with every value of
the secret masked (never a value: the function may have printed one). A step that outlives the
function's timeout is killed, with its process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gitsm.errors import InvalidRequestException
from gitsm.rotationconfig import RotationFunction

STDERR_LINES = 20
STDERR_CHARS = 2000
MIN_MASKED = 4
"""Shorter strings are not masked (they would hide every word of the message)."""


class RotationFailed(InvalidRequestException):
    """A rotation did not finish: a step of the rotation function failed, or it did not do what
    the step must do. AWSPENDING stays where the rotation left it; the rotation can be retried
    with its ClientRequestToken or cancelled."""


@dataclass(frozen=True)
class StepOutcome:
    """How one step's process ended: its exit status (None when it did not end on its own or
    could not start), the end of its standard error, and why it did not run to its end."""

    status: int | None
    stderr: bytes
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """True when the step exited with status 0."""
        return self.status == 0 and self.problem is None

    def describe(self) -> str:
        """What happened, in words (no stderr)."""
        if self.problem is not None:
            return self.problem
        return f"exited with status {self.status}"


def argv(function: RotationFunction) -> list[str]:
    """The command to start: ``gitsm ...`` becomes this interpreter's ``python -m gitsm ...``."""
    command = list(function.command)
    if command[0] == "gitsm":
        return [sys.executable, "-m", "gitsm", *command[1:]]
    return command


def run_step(
    function: RotationFunction,
    event: dict[str, str],
    repo_path: Path,
    region: str,
    cwd: Path | None = None,
) -> StepOutcome:
    """Run one step of ``function`` with ``event`` on its standard input, ``GITSM_REPO`` naming
    ``repo_path``, in ``cwd`` (default: ``repo_path``)."""
    env = dict(os.environ)
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(name, None)
    env.update(GITSM_REPO=str(repo_path), AWS_REGION=region, AWS_DEFAULT_REGION=region)
    try:
        process = subprocess.Popen(
            argv(function), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, cwd=cwd or repo_path, env=env,
            start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        return StepOutcome(None, b"", f"could not start ({type(exc).__name__}: {exc.strerror})")
    data = json.dumps(event).encode("utf-8")
    try:
        _, stderr = process.communicate(data, timeout=function.timeout_seconds)
    except subprocess.TimeoutExpired:
        _kill(process)
        _, stderr = process.communicate()
        return StepOutcome(
            None, stderr, f"did not finish within its timeout of {function.timeout_seconds} s"
        )
    return StepOutcome(process.returncode, stderr)


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        process.kill()


def secret_texts(values: Iterable[bytes]) -> set[str]:
    """The strings to mask for these values: each value (as text), and each string inside a JSON
    value (a password field of a JSON secret), at least MIN_MASKED characters long."""
    out: set[str] = set()

    def add(item: object) -> None:
        if isinstance(item, str):
            for text in (item, item.strip()):
                if len(text) >= MIN_MASKED:
                    out.add(text)
        elif isinstance(item, dict):
            for inner in item.values():
                add(inner)
        elif isinstance(item, list):
            for inner in item:
                add(inner)

    for value in values:
        text = value.decode("utf-8", "replace")
        add(text)
        add(value.decode("latin-1"))
        with contextlib.suppress(ValueError, RecursionError):
            add(json.loads(text))
    return out


def stderr_tail(stderr: bytes, masked: set[str] | None) -> str:
    """The end of standard error for a message: values masked (nothing at all when they could
    not be read), at most STDERR_LINES lines and STDERR_CHARS characters, control characters
    escaped."""
    if masked is None:
        return "(not shown: the secret's values, which it must not reveal, could not be read)"
    text = stderr.decode("utf-8", "replace")
    for value in sorted(masked, key=len, reverse=True):
        text = text.replace(value, "****")
    lines = [line.rstrip() for line in text.strip().splitlines()][-STDERR_LINES:]
    text = " | ".join(line for line in lines if line)[-STDERR_CHARS:]
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return text or "(empty)"
