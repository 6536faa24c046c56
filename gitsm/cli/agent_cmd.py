"""``gitsm agent start|stop|status``: the warm agent (docs/AGENT.md)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from gitsm.cli.context import Globals
from gitsm.cli.errors import EnvironmentFailure
from gitsm.cli.keys_base import emit, verb_group
from gitsm.cli.verbs import with_globals

HELP = """The warm agent: keeps gitsm's imports loaded in a background process, so that commands
start in a few milliseconds instead of a couple of hundred.

While an agent runs, every gitsm command (but agent, serve and exec) is handed to it with its
arguments, working directory, environment, umask and standard input, output and error, and runs
in a fresh process forked from the agent's warm state: output, errors and exit codes are those
of the command run without it. The socket is private to the user ($GITSM_AGENT_DIR, else
$XDG_RUNTIME_DIR/gitsm, else /tmp/gitsm-UID: a 0700 directory, a 0600 socket, the peer's uid
checked). GITSM_AGENT=0 runs a command without the agent. See docs/AGENT.md.
"""
NOT_RUNNING = 3
"""``gitsm agent status`` exits 3 when no agent runs (as ``systemctl status`` does)."""


def _shown(found: dict[str, Any]) -> dict[str, Any]:
    return {"Running": True, "Pid": found.get("pid"), "Socket": found.get("socket"),
            "Version": found.get("version"), "Package": found.get("package"),
            "Executable": found.get("executable"), "Started": found.get("started")}  # fmt: skip


@with_globals("AgentStart")
def start(
    globals_: Globals,
    foreground: Annotated[
        bool,
        typer.Option("--foreground", help="Run the agent in this process (for a service "
                     "manager); it logs to standard error and stops on SIGTERM or Ctrl-C."),
    ] = False,
) -> None:  # fmt: skip
    """Start the agent (nothing happens when one runs already); prints its status."""
    from gitsm.cli.agent import control

    try:
        found = control.start(foreground=foreground)
    except (RuntimeError, PermissionError, OSError) as exc:
        raise EnvironmentFailure(f"gitsm agent: {exc}") from None
    emit(_shown(found), globals_, "Agent")


@with_globals("AgentStop")
def stop(globals_: Globals) -> None:
    """Stop the agent and wait until its process is gone (commands it started finish)."""
    from gitsm.cli.agent import control

    try:
        pid = control.stop()
    except TimeoutError as exc:
        raise EnvironmentFailure(f"gitsm agent: {exc}") from None
    emit({"Stopped": pid is not None, "Pid": pid}, globals_, "Agent")


@with_globals("AgentStatus")
def status(globals_: Globals) -> None:
    """Say whether an agent runs, and which; exit status 3 when none does."""
    from gitsm.cli.agent import control
    from gitsm.cli.agent.paths import agent_dir

    found = control.status()
    if found is None:
        emit({"Running": False, "Directory": agent_dir()}, globals_, "Agent")
        raise typer.Exit(NOT_RUNNING)
    emit(_shown(found), globals_, "Agent")


VERBS = [
    ("start", start, "Start the agent."),
    ("stop", stop, "Stop the agent."),
    ("status", status, "Say whether an agent runs (exit 3 when none does)."),
]


def register(
    app: typer.Typer,
    command_cls: type[Any],
    fast: Callable[[Sequence[Any]], None],
    epilog: str,
) -> None:
    """Add ``gitsm agent`` to ``app``."""
    group = verb_group(fast, HELP, command_cls, epilog, VERBS)
    app.add_typer(group, name="agent", short_help="Keep gitsm warm: start, stop, status.")
