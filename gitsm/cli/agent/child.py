"""One connection to the agent, handled in a process forked from its warm state.

A ``run`` request becomes the command's own process: the launcher's standard input, output and
error moved onto descriptors 0, 1 and 2, its working directory, umask, environment and
``sys.argv``, the standard streams made anew with the launcher's encodings and buffering, libgit2's
configuration search path set from the new environment, and then the same code the
console script runs in process (:func:`gitsm.cli.run_here`). Its exit status goes back to the
launcher; exit handlers run as at the end of any process.
"""

from __future__ import annotations

import _socket
import atexit
import contextlib
import io
import json
import marshal
import os
import select
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

from gitsm.cli.agent.launcher import (
    MAX_REQUEST,
    PROTOCOL,
    frame,
    package_dir,
    peer_uid,
    recv_exact,
)

FD_BYTES = 4
MAX_FD = 1 << 20
"""Above any descriptor a command's process holds (``os.closerange`` closes up to it)."""
Fingerprint = dict[str, tuple[int, int, int]]


def fingerprint() -> Fingerprint:
    """(inode, mtime, size) of every file of gitsm this process has loaded: an upgrade or an edit
    changes one of them."""
    root = package_dir() + os.sep
    out: Fingerprint = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.startswith(root):
            out[path] = _stat(path)
    return out


def _stat(path: str) -> tuple[int, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0, 0)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def changed(known: Fingerprint) -> bool:
    """True when a file of ``known`` is no longer what it was."""
    return any(_stat(path) != seen for path, seen in known.items())


def record(tag: str, value: int) -> bytes:
    """One answer record."""
    return tag.encode() + value.to_bytes(4, "big", signed=True)


def receive(conn: _socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """The request and the descriptors sent with it; None for a peer of another user or a
    malformed request (whose descriptors are closed)."""
    if peer_uid(conn) != os.getuid():
        return None
    space = _socket.CMSG_SPACE(3 * FD_BYTES)
    head, ancillary, _flags, _addr = conn.recvmsg(4, space)
    fds: list[int] = []
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            usable = len(data) - len(data) % FD_BYTES
            fds += [int.from_bytes(data[i : i + FD_BYTES], sys.byteorder, signed=True)
                    for i in range(0, usable, FD_BYTES)]  # fmt: skip
    if len(head) < 4:
        head += recv_exact(conn, 4 - len(head))
    size = int.from_bytes(head, "big") if len(head) == 4 else MAX_REQUEST + 1
    body = recv_exact(conn, size) if size <= MAX_REQUEST else b""
    try:
        message = marshal.loads(body) if len(body) == size else None
    except (EOFError, ValueError, TypeError):
        message = None
    if not isinstance(message, dict):
        for fd in fds:
            os.close(fd)
        return None
    return message, fds


def handle(conn: Any, to_command: Any, command: int, changed_since: Callable[[], bool],
           identity: list[str], tell_parent: Callable[[bytes], None],
           status: Callable[[], dict[str, Any]]) -> int:  # fmt: skip
    """Serve one connection with the command process ``command`` (waiting on ``to_command``);
    the status this process should exit with. A run request is declined when it comes from
    another Python or gitsm than ``identity`` (:func:`.launcher.interpreter` of the agent) or
    when ``changed_since()`` says that gitsm's files changed since the agent loaded them."""
    got = receive(conn)
    message, fds = got if got is not None else ({}, [])
    kind = message.get("kind")
    same = message.get("protocol") == PROTOCOL and message.get("interpreter") == identity
    stale = kind == "run" and changed_since()
    if kind != "run" or not same or len(fds) != 3 or stale or not _complete(message):
        for fd in fds:
            os.close(fd)
        to_command.close()  # the command process is not needed: it ends
        os.waitpid(command, 0)
        if got is None:
            return 0
        if kind == "run":
            conn.sendall(record("S", 0))
            if stale:
                tell_parent(b"R")  # start again from the files as they are now
            return 0
        if kind == "stop":
            tell_parent(b"Q")
        answer = json.dumps(status()).encode()
        conn.sendall(record("J", len(answer)) + answer)
        return 0
    fd_bytes = b"".join(fd.to_bytes(FD_BYTES, sys.byteorder, signed=True) for fd in fds)
    to_command.sendmsg([frame(message)], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd_bytes)])
    for fd in fds:
        os.close(fd)
    conn.sendall(record("P", command))
    code = supervise(conn, command, to_command)
    with contextlib.suppress(OSError):  # the launcher gone: nobody waits for the status
        conn.sendall(record("X", code))
    with contextlib.suppress(ChildProcessError):  # reaped already, unless it told its status
        os.waitpid(command, 0)
    return 0


def serve_command(from_supervisor: Any) -> int:
    """In the command's process: wait for the request the supervisor hands over, run it; the
    exit status (0 when the supervisor hands nothing over: the process was not needed)."""
    got = receive(from_supervisor)
    if got is None:
        from_supervisor.close()
        return 0
    message, fds = got
    code = run(message, fds)
    if code >= 0:  # a death by a signal is told by the process's end
        finished(from_supervisor, code)
    return code


def finished(to_supervisor: Any, code: int) -> None:
    """Tell the supervisor the command's exit status before this process ends, every other
    descriptor closed first: the launcher's streams (a reader of the command's output sees its
    end with the status) and whatever else the command held (a lock, a file). What is left to
    the process's end is the kernel freeing its memory, which for a process forked from the agent
    costs about 1.5 ms that the launcher no longer waits for."""
    keep = to_supervisor.fileno()
    os.closerange(0, keep)
    os.closerange(keep + 1, MAX_FD)
    with contextlib.suppress(OSError):
        to_supervisor.sendall(record("E", code))


REQUIRED = ("args", "argv", "cwd", "env", "umask", "streams", "ignored")


def _complete(message: dict[str, Any]) -> bool:
    """True when a run request carries everything :func:`become` takes on."""
    return all(key in message for key in REQUIRED) and len(message["streams"]) == 3


def die(code: int) -> None:
    """End this process with ``code``: a negative one is the death by that signal."""
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code & 0xFF)


def supervise(conn: _socket.socket, command: int, told: _socket.socket | None = None) -> int:
    """Wait for the command's process to tell its exit status on ``told`` (:func:`finished`) or
    to end, and give that status (negative: the signal it died of). When the launcher goes away
    first (killed: the connection ends), the command's process group is killed, as the command
    would have died with the launcher had it run in process."""
    try:
        watch: int | None = os.pidfd_open(command)
    except (AttributeError, OSError):  # a kernel before 5.3: look every 20 ms instead
        watch = None
    try:
        while True:
            watched = [conn.fileno(), *([watch] if watch else []),
                       *([told.fileno()] if told else [])]  # fmt: skip
            ready, _, _ = select.select(watched, [], [], None if watch else 0.02)
            if told is not None and told.fileno() in ready:
                said = recv_exact(told, 5)
                if len(said) == 5 and said[:1] == b"E":
                    return int.from_bytes(said[1:], "big", signed=True)
                told = None  # it ended without telling: its end tells
            done, status = os.waitpid(command, os.WNOHANG)
            if done:
                return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            if conn.fileno() in ready and not conn.recv(4096):  # end of file: the launcher died
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(command, signal.SIGKILL)
                os.waitpid(command, 0)
                return -signal.SIGKILL
    finally:
        if watch is not None:
            os.close(watch)


def become(message: dict[str, Any], fds: list[int]) -> None:
    """Take on the launcher's process state: descriptors, directory, umask, environment, argv,
    standard streams, signal handlers, libgit2's search path."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.chdir(message["cwd"])
    os.umask(message["umask"])
    environ = message["env"]  # the agent's own, less what the launcher's lacks or has otherwise
    for key in [key for key in os.environ if key not in environ]:
        del os.environ[key]
    for key, value in environ.items():
        if os.environ.get(key) != value:
            os.environ[key] = value
    sys.argv = list(message["argv"])
    streams: list[io.TextIOWrapper | None] = []
    for fd, (encoding, errors, line_buffering, write_through) in enumerate(message["streams"]):
        if encoding is None:
            streams.append(None)
            continue
        raw = open(fd, "rb" if fd == 0 else "wb", closefd=False)  # noqa: SIM115 (the stream lives on)
        streams.append(io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline="\n",
                                        line_buffering=line_buffering,
                                        write_through=write_through))  # fmt: skip
    sys.stdin, sys.stdout, sys.stderr = streams
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for name in ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGCHLD"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    for name in message["ignored"]:  # what the launcher's caller ignores (nohup: SIGHUP)
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    follow_git_config()


def follow_git_config() -> None:
    """libgit2 found the global and XDG configuration from the agent's environment when pygit2
    was imported; point it where this environment's HOME and XDG_CONFIG_HOME say, as its own
    guess would have (``$HOME``; ``$XDG_CONFIG_HOME/git``, else ``$HOME/.config/git``)."""
    pygit2 = sys.modules.get("pygit2")
    if pygit2 is None:
        return
    home = os.environ.get("HOME") or os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME")
    levels = pygit2.enums.ConfigLevel
    pygit2.settings.search_path[levels.GLOBAL] = home
    pygit2.settings.search_path[levels.XDG] = (
        os.path.join(xdg, "git") if xdg else os.path.join(home, ".config", "git")
    )


def exit_status(code: object) -> int:
    """The status a Python process exits with for ``SystemExit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def run(message: dict[str, Any], fds: list[int]) -> int:
    """Run the request's command as this process; its exit status (negative: die of a signal)."""
    from gitsm.cli import flush_streams, run_here

    try:
        become(message, fds)
    except OSError as exc:
        os.write(2, f"gitsm agent: cannot take on the command's process state: {exc}\n".encode())
        return 1
    try:
        run_here(list(message["args"]), list(message["args"]))
        code = 0
    except SystemExit as exc:
        code = exit_status(exc.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        code = -signal.SIGINT
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    return flush_streams(code)
