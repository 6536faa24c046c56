"""Where the agent listens, and the checks that keep its socket private to its user.

Standard library only, and only what the interpreter has loaded anyway (``os``, ``sys``): the
launcher reads it before every command.

The directory is ``$GITSM_AGENT_DIR`` when set, else ``$XDG_RUNTIME_DIR/gitsm`` when that is set,
else ``/tmp/gitsm-<uid>``. It must be a directory (not a link) owned by the user with no access for
group or others (0700); the socket in it, ``agent.sock``, is made 0600.
"""

# no `from __future__ import annotations`: the launcher would import __future__ (0.1-0.3 ms)
import os

SOCKET_NAME = "agent.sock"
PID_NAME = "agent.pid"
LOG_NAME = "agent.log"
LOCK_NAME = "agent.lock"
DIR_ENV = "GITSM_AGENT_DIR"
MODE_ENV = "GITSM_AGENT"
"""``0`` (or ``off``): never hand a command over; ``require``: fail when it cannot be handed over
(for tests that must go through the agent); anything else: hand over when an agent runs."""
S_IFMT, S_IFDIR = 0o170000, 0o040000


def agent_dir() -> str:
    """The agent's directory for this user (it may not exist)."""
    chosen = os.environ.get(DIR_ENV)
    if chosen:
        return os.path.abspath(chosen)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "gitsm")
    return f"/tmp/gitsm-{os.getuid()}"


def private_dir_problem(path: str) -> str | None:
    """Why ``path`` is not a private directory of this user (None when it is one)."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"{path}: {exc.strerror}"
    if st.st_mode & S_IFMT != S_IFDIR:
        return f"{path} is not a directory"
    if st.st_uid != os.getuid():
        return f"{path} belongs to uid {st.st_uid}, not to this user ({os.getuid()})"
    if st.st_mode & 0o077:
        return f"{path} is open to group or others (mode {st.st_mode & 0o777:o}; it must be 700)"
    return None


def make_private_dir(path: str) -> None:
    """Create ``path`` (0700) when missing; raise PermissionError when it is not private."""
    try:  # noqa: SIM105 (contextlib is not loaded on the launcher's path)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    problem = private_dir_problem(path)
    if problem is not None:
        raise PermissionError(f"the agent's directory is not private: {problem}")
