"""``gitsm agent start|stop|status``: start the agent process, ask it to stop, ask what it is."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

from gitsm.cli.agent.launcher import AgentUnavailable, connect, frame, read_record, recv_exact
from gitsm.cli.agent.paths import LOG_NAME, PID_NAME, agent_dir, make_private_dir

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def ask(kind: str, directory: str | None = None) -> dict[str, Any]:
    """Send a ``status`` or ``stop`` request; the agent's JSON answer."""
    sock = connect(directory)
    try:
        sock.sendall(frame({"kind": kind}))
        tag, size = read_record(sock)
        if tag != "J":
            raise AgentUnavailable("the agent did not answer")
        answer = json.loads(recv_exact(sock, size))
    finally:
        sock.close()
    if not isinstance(answer, dict):
        raise AgentUnavailable("the agent's answer is not an object")
    return answer


def status(directory: str | None = None) -> dict[str, Any] | None:
    """The running agent's status; None when none answers."""
    try:
        return ask("status", directory)
    except (AgentUnavailable, OSError, ValueError):
        return None


def start(directory: str | None = None, foreground: bool = False) -> dict[str, Any]:
    """Start the agent unless one runs; its status. RuntimeError with the agent's own words
    when it could not start."""
    if not hasattr(socket, "SO_PEERCRED"):
        raise RuntimeError("this system cannot tell who is at the other end of a unix socket "
                           "(no SO_PEERCRED), so the agent cannot keep its socket private")  # fmt: skip
    directory = directory or agent_dir()
    running = status(directory)
    if running is not None:
        return running
    make_private_dir(directory)
    from gitsm.cli.agent.server import COMMAND

    command = [sys.executable, *COMMAND, directory]
    if foreground:
        os.chdir("/")
        os.execv(sys.executable, command)
    log = os.path.join(directory, LOG_NAME)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd,
                                   start_new_session=True, close_fds=True, cwd="/")  # fmt: skip
    finally:
        os.close(fd)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = status(directory)
        if found is not None:
            return found
        if process.poll() is not None:
            break
        time.sleep(0.02)
    with open(log, encoding="utf-8", errors="replace") as text:
        tail = "".join(text.readlines()[-5:]).strip()
    raise RuntimeError(f"the agent did not start (its log, {log}: {tail or 'empty'})")


def stop(directory: str | None = None) -> int | None:
    """Ask the agent to stop and wait until its process is gone; its pid, None when none ran.
    TimeoutError when it is still there after STOP_TIMEOUT seconds."""
    directory = directory or agent_dir()
    try:
        pid = int(ask("stop", directory)["pid"])
    except (AgentUnavailable, OSError, ValueError, KeyError):
        return None
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not _alive(pid):
            return pid
        time.sleep(0.01)
    raise TimeoutError(f"the agent (pid {pid}) did not stop within {STOP_TIMEOUT:g} s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie left for its parent (the start command in a test) is gone all the same
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def pid_file(directory: str | None = None) -> str:
    """Where the agent writes its pid."""
    return os.path.join(directory or agent_dir(), PID_NAME)
