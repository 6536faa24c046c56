"""The launcher: hand a command line over to a running agent, or say that it cannot.

Imports only modules built into the interpreter (``_socket``, ``_signal``, ``marshal``) besides
``os`` and ``sys``, which every Python start loads: the console script reads this before every
command, and the point of the agent is that nothing heavy loads here.

The exchange on the agent's unix socket (``paths.SOCKET_NAME``):

- the launcher sends one request: 4 bytes of length (big-endian) and a ``marshal`` dict, with its
  standard input, output and error attached as SCM_RIGHTS file descriptors (``run`` only);
- the agent answers records of a tag byte and a 4-byte signed integer (big-endian): ``P`` the pid
  of the process running the command (the launcher forwards INT, TERM, HUP and QUIT to it), then
  ``X`` its exit status (negative: killed by that signal), or ``S`` (``0``) when the agent will not
  run it (another gitsm, or gitsm changed since the agent started: the launcher runs it itself);
  ``J`` (a byte count) is followed by that many bytes of JSON (``status``).

Both ends check the other's uid (SO_PEERCRED); the launcher first checks that the directory is
the user's own and private (0700), so that a socket nobody else could have made is the only one
it talks to.
"""

# no `from __future__ import annotations`: the launcher would import __future__ (0.1-0.3 ms)
import _socket
import marshal
import os
import sys

from gitsm.cli.agent.paths import MODE_ENV, SOCKET_NAME, agent_dir, private_dir_problem

PROTOCOL = 1
MAX_REQUEST = 8 << 20
CRED_SIZE = 12  # struct ucred: pid, uid, gid (three C ints)
IN_PROCESS = ("agent", "serve", "exec")
"""Commands never handed over: the agent's own, the server (a long-running process of its own),
and exec (the user's program must be the terminal's process, in its session and process group)."""


class AgentUnavailable(Exception):
    """No agent answers, or the one that does may not be used; the reason is the message."""


def package_dir() -> str:
    """The directory of the gitsm package this interpreter imports."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def interpreter() -> list[str]:
    """Which Python and which gitsm: the interpreter's real path, its prefix (the venv) and the
    package's directory. The agent runs a command only when its own are the same."""
    return [os.path.realpath(sys.executable), sys.prefix, package_dir()]


def peer_uid(sock: _socket.socket) -> int:
    """The uid of the process at the other end of a unix socket."""
    raw = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, CRED_SIZE)
    return int.from_bytes(raw[4:8], sys.byteorder, signed=True)


def frame(message: dict[str, object]) -> bytes:
    """A request as sent: its length, then the marshalled dict."""
    body = marshal.dumps(message)
    return len(body).to_bytes(4, "big") + body


def recv_exact(sock: _socket.socket, count: int) -> bytes:
    """Exactly ``count`` bytes from ``sock``; fewer only when the other end closed."""
    chunks, got = [], 0
    while got < count:
        chunk = sock.recv(count - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def connect(directory: str | None = None) -> _socket.socket:
    """A connection to this user's agent; AgentUnavailable when there is none to trust."""
    if not hasattr(_socket, "SO_PEERCRED") or not hasattr(_socket, "AF_UNIX"):
        raise AgentUnavailable("this system cannot tell a unix socket's peer (no SO_PEERCRED)")
    directory = directory or agent_dir()
    problem = private_dir_problem(directory)
    if problem is not None:
        raise AgentUnavailable(problem)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(os.path.join(directory, SOCKET_NAME))
        if peer_uid(sock) != os.getuid():
            raise AgentUnavailable("the agent's socket belongs to another user")
    except OSError as exc:
        sock.close()
        raise AgentUnavailable(f"no agent answers at {directory}: {exc.strerror}") from None
    except AgentUnavailable:
        sock.close()
        raise
    return sock


def read_record(sock: _socket.socket) -> tuple[str, int]:
    """One answer record (tag, integer); ("", 0) when the agent closed the connection."""
    raw = recv_exact(sock, 5)
    if len(raw) < 5:
        return "", 0
    return chr(raw[0]), int.from_bytes(raw[1:], "big", signed=True)


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _streams() -> list[tuple[str | None, str | None, bool, bool]]:
    out: list[tuple[str | None, str | None, bool, bool]] = []
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        if stream is None:
            out.append((None, None, False, False))
        else:
            out.append((stream.encoding, stream.errors, bool(getattr(stream, "line_buffering", 0)),
                        bool(getattr(stream, "write_through", 0))))  # fmt: skip
    return out


FORWARDED_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")


def _ignored() -> list[str]:
    """The signals this process ignores (nohup ignores SIGHUP; a shell's background job SIGINT
    and SIGQUIT): the command ignores them too, and they are not passed on."""
    import _signal  # type: ignore[import-not-found]  # signal's enums cost a start ~1 ms

    return [
        n for n in FORWARDED_SIGNALS if _signal.getsignal(getattr(_signal, n)) == _signal.SIG_IGN
    ]


def request(args: list[str]) -> dict[str, object]:
    """The ``run`` request for ``args``: everything the command sees of this process."""
    return {
        "protocol": PROTOCOL, "kind": "run", "interpreter": interpreter(), "argv": list(sys.argv), "args": args, "cwd": os.getcwd(),
        "env": dict(os.environ), "umask": _umask(), "streams": _streams(), "ignored": _ignored(),
    }  # fmt: skip


FORWARDED: list[int] = []
"""The signals the launcher passed on to the command's process, in order."""


def _forward(pid: int, ignored: list[str]) -> None:
    import _signal

    def forward(signum: int, _frame: object) -> None:
        FORWARDED.append(signum)
        try:  # noqa: SIM105 (contextlib is not loaded on this path)
            os.kill(pid, signum)
        except OSError:
            pass

    for name in FORWARDED_SIGNALS:
        if name not in ignored:
            _signal.signal(getattr(_signal, name), forward)


def die_like(code: int) -> int:
    """The launcher's own exit for the command's status: a signal's death is repeated."""
    if code >= 0:
        return code
    import _signal

    _signal.signal(-code, _signal.SIG_DFL)
    os.kill(os.getpid(), -code)
    return 128 - code


def handover(args: list[str]) -> int | None:
    """Run ``args`` in this user's agent and return its exit status, or None to run it here.

    None when no agent runs (or ``GITSM_AGENT=0``), for the commands that always run in process,
    or when the agent declines (another gitsm, or one changed since it started). With
    ``GITSM_AGENT=require`` a command that cannot be handed over is an error (exit 255) instead.
    """
    mode = os.environ.get(MODE_ENV, "")
    if mode in ("0", "off") or any(a in IN_PROCESS for a in args):
        return None
    if sys.stdin is None or sys.stdout is None or sys.stderr is None:
        # closed when this process started: the socket would take its descriptor's number
        return _unavailable(mode, "a standard stream of this process is closed")
    try:
        sock = connect()
    except AgentUnavailable as exc:
        return _unavailable(mode, str(exc))
    try:
        try:
            message = request(args)
            data = frame(message)
        except (OSError, ValueError) as exc:  # no working directory, an unmarshallable value
            return _unavailable(mode, f"cannot describe this command to the agent: {exc}")
        fds = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in (0, 1, 2))
        try:
            sent = sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
        except OSError as exc:  # a closed standard stream: EBADF
            return _unavailable(mode, f"cannot pass this process's streams: {exc.strerror}")
        try:  # what a signal left unsent (an agent that answered already needs nothing more)
            if sent < len(data):
                sock.sendall(data[sent:])
        except OSError as exc:
            return _unavailable(mode, f"cannot send the request to the agent: {exc.strerror}")
        tag, value = read_record(sock)
        if tag == "S":
            return _unavailable(mode, "the agent runs another gitsm, or an older copy of this one")
        if tag != "P":
            return _unavailable(mode, "the agent closed the connection without running anything")
        pid = value
        _forward(pid, message["ignored"])  # type: ignore[arg-type]
        tag, value = read_record(sock)
        if tag != "X" and FORWARDED:  # killed by the signal passed on: die of it too
            return die_like(-FORWARDED[-1])
        if tag != "X":
            sys.stderr.write(
                f"gitsm: the agent's process for this command (pid {pid}) ended without an exit "
                "status; run it again, or with GITSM_AGENT=0 to run it without the agent\n"
            )
            return 1
        return die_like(value)
    finally:
        sock.close()


def _unavailable(mode: str, why: str) -> int | None:
    if mode != "require":
        return None
    sys.stderr.write(f"gitsm: GITSM_AGENT=require, but the command cannot go to the agent: {why}\n")
    return 255
