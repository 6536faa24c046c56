"""The CLI tests' agent run: ``GITSM_TEST_AGENT=1`` runs every CLI test with its commands handed
to a real warm agent instead of run in the test's process.

In that run each pytest process starts one agent (``gitsm agent start`` in a private directory),
every test gets ``GITSM_AGENT_DIR`` pointing at it and ``GITSM_AGENT=require`` (so a command that
could not be handed over fails with exit 255 instead of quietly running in process), and
``CliRunner.invoke`` on gitsm's app runs the installed ``gitsm`` console script as a process: the
launcher hands it to the agent with the test's arguments, environment, working directory and
standard input, and the result carries the process's stdout, stderr and exit status. The tests'
assertions are the same in both runs, so both ways give the same output and exit codes.

A test that patches gitsm's code in its own process cannot reach another process: it is marked
``in_process_only`` with the reason, and runs in process in both runs.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from gitsm.cli.app import app

AGENT_RUN_ENV = "GITSM_TEST_AGENT"
GITSM_BIN = Path(sys.executable).with_name("gitsm")
VIA_AGENT = os.environ.get(AGENT_RUN_ENV) == "1"
ORIGINAL_INVOKE = CliRunner.invoke


def start_agent(directory: Path) -> None:
    """``gitsm agent start`` in ``directory`` (a 0700 directory made here)."""
    directory.mkdir(mode=0o700)
    env = {**os.environ, "GITSM_AGENT_DIR": str(directory)}
    done = subprocess.run([str(GITSM_BIN), "agent", "start"], env=env, capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"gitsm agent start failed: {done.stderr}")


def stop_agent(directory: Path) -> None:
    """``gitsm agent stop`` of the agent in ``directory``."""
    env = {**os.environ, "GITSM_AGENT_DIR": str(directory)}
    subprocess.run([str(GITSM_BIN), "agent", "stop"], env=env, capture_output=True)


def invoke(
    self: CliRunner,
    cli: Any,
    args: str | Sequence[str] | None = None,
    input: bytes | str | None = None,
    env: Mapping[str, str | None] | None = None,
    catch_exceptions: bool = True,
    color: bool = False,
    **extra: Any,
) -> Result:
    """``CliRunner.invoke`` for gitsm's app in the agent run: the console script as a process."""
    if cli is not app:
        return ORIGINAL_INVOKE(self, cli, args, input, env, catch_exceptions, color, **extra)
    argv = shlex.split(args) if isinstance(args, str) else list(args or [])
    full = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            full.pop(key, None)
        else:
            full[key] = value
    data = input.encode() if isinstance(input, str) else (input or b"")
    done = subprocess.run([str(GITSM_BIN), *argv], input=data, capture_output=True, env=full)
    code = done.returncode
    return Result(
        runner=self, stdout_bytes=done.stdout, stderr_bytes=done.stderr,
        output_bytes=done.stdout + done.stderr, return_value=None, exit_code=code,
        exception=SystemExit(code) if code else None,
    )  # fmt: skip
