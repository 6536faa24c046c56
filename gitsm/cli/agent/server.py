"""The agent process: ``python -m gitsm.cli.agent.server DIRECTORY`` (``gitsm agent start``).

It binds ``DIRECTORY/agent.sock`` (0600, in a 0700 directory), imports what commands need, and
keeps ``SPARES`` processes forked from that warm state waiting on the socket. The one that
accepts a connection tells this process (which forks the next spare at once) and then serves the
connection (:mod:`.child`); each command therefore runs in a fresh process that no other command
ran in. A spare ends when this process does (it watches a pipe only this process writes to).

``stop`` (or SIGTERM, or SIGINT in the foreground, or its socket file removed or replaced, when
no command could reach it any more) closes the socket, ends the spares, removes the
socket and the pid file and exits: commands already running finish in their own processes. When a
file of gitsm changes (an upgrade), the next command is declined (the launcher runs it in
process) and the agent starts itself again from the new files.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib
import os
import select
import shutil
import signal
import socket
import sys
import time
from typing import Any

from gitsm.cli.agent import child
from gitsm.cli.agent.launcher import AgentUnavailable, connect, interpreter, package_dir
from gitsm.cli.agent.paths import LOCK_NAME, PID_NAME, SOCKET_NAME, make_private_dir
from gitsm.cli.agent.rehearse import Rehearsal
from gitsm.cli.agent.watch import Watch

SPARES = 2
REFILL_DELAY = 1.0
"""Seconds at most between a spare taking a command and the agent forking its replacement
(while another spare waits): sooner when no command runs any more. A spare forked and rehearsing
beside a running command slows it by a third or more on two CPUs; forked as a command ends, it
overlaps the next command's interpreter start instead."""
READY = b"R"
"""What the command's process of a spare sends when it has rehearsed and waits for a command."""
COMMAND = ("-P", "-m", "gitsm.cli.agent.server")
"""How the agent is started (after the interpreter): ``-P`` keeps the directory it is started
from off ``sys.path``, so no module there can stand in for one of gitsm's or Python's."""
WARM = (
    "gitsm.cli.lean", "gitsm.cli.operations", "gitsm.cli.app", "gitsm.awsclient",
    "gitsm.store", "gitsm.store.reads", "gitsm.store.writes", "gitsm.store.listing",
    "gitsm.providers.local", "gitsm.envelope", "gitsm.gitrepo", "pygit2",
    "cryptography.hazmat.primitives.ciphers.aead", "yaml", "jmespath", "gitsm.cli.query",
    "gitsm.materialize", "gitsm.verify", "gitsm.cli.materialize_cmd", "gitsm.cli.verify_cmd",
    "gitsm.cli.materialize_run", "gitsm.quickbatch", "gitsm.quickmemo", "resource",
)  # fmt: skip
"""What a command may need, imported once here (a module that is missing is skipped)."""


def warm_up() -> list[str]:
    """Import :data:`WARM`; the names that could not be imported."""
    missing = []
    for name in WARM:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


class Agent:
    """The listening socket, the spares, and the loop that keeps them."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, SOCKET_NAME)
        self.started = time.time()
        self.agent_pid = os.getpid()
        self.spares: set[int] = set()
        self.busy: set[int] = set()
        """Spares that took a command and are still serving it."""
        self.events_r, self.events_w = os.pipe()
        self.life_r, self.life_w = os.pipe()
        self.lock = self._lock()
        self.bound = os.path.join(directory, f"{SOCKET_NAME}.{os.getpid()}")
        self.listener = self._bind()
        self.inode = os.stat(self.bound).st_ino
        self.missing = warm_up()
        self.rehearsal = Rehearsal(directory)
        self.rehearsal_failed = self.rehearsal.first()
        self.watch = Watch(child.fingerprint())
        self.identity = interpreter()
        """Which Python and which gitsm run here, as the launcher describes its own."""

    def _lock(self) -> int:
        """The agent's lock on its directory, held while it runs (a second ``agent start`` in the
        same directory is refused instead of taking over the socket)."""
        make_private_dir(self.directory)
        fd = os.open(os.path.join(self.directory, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RuntimeError(
                f"another agent is starting or running in {self.directory}"
            ) from None
        return fd

    def _bind(self) -> socket.socket:
        """The listening socket, bound under a name of its own: it takes the socket's name once
        the spares wait on it (:meth:`publish`), so no command waits for the agent to warm up."""
        try:
            connect(self.directory).close()
        except AgentUnavailable:
            pass
        else:
            raise RuntimeError(f"an agent already answers at {self.path}")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # a socket left by an agent that died
        for name in os.listdir(self.directory):  # and its rehearsal's store
            if name.startswith("rehearsal-"):
                shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)
            elif name.startswith(f"{SOCKET_NAME}."):
                os.unlink(os.path.join(self.directory, name))
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            listener.bind(self.bound)
        finally:
            os.umask(old)
        listener.listen(64)
        listener.setblocking(False)
        return listener

    def status(self) -> dict[str, Any]:
        """What ``gitsm agent status`` prints."""
        from gitsm import __version__

        return {
            "pid": self.agent_pid, "socket": self.path, "version": __version__, "package": package_dir(),
            "executable": sys.executable, "started": self.started,
            "not_preloaded": self.missing,
        }  # fmt: skip

    def spawn(self) -> None:
        """Fork one spare."""
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = self.spare()
            finally:
                os._exit(code)
        self.spares.add(pid)

    def spare(self) -> int:
        """A spare's life: fork the process its command will run in (which rehearses the reads
        in its own memory, then waits), wait for a connection (or the agent's end), hand the
        request to that process and watch it, exit."""
        os.close(self.events_r)
        os.close(self.life_w)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        command = os.fork()
        if command == 0:  # the command's process, ready before the command comes
            mine.close()
            self.listener.close()
            os.setsid()  # a session of its own: the agent's signals and hang-ups are not its
            if not self.rehearsal_failed:
                self.rehearsal.limber()
            with contextlib.suppress(OSError):  # the supervisor gone: serve_command sees it
                theirs.sendall(READY)
            child.die(child.serve_command(theirs))
        theirs.close()
        if not self._wait_ready(mine):  # no command waits for a rehearsal
            with contextlib.suppress(ProcessLookupError):
                os.kill(command, signal.SIGKILL)
            os.waitpid(command, 0)
            return 0
        while True:
            ready, _, _ = select.select([self.listener.fileno(), self.life_r, mine.fileno()],
                                        [], [])  # fmt: skip
            if self.life_r in ready or mine.fileno() in ready:  # the agent's end, or its own
                mine.close()
                with contextlib.suppress(ProcessLookupError):
                    os.kill(command, signal.SIGKILL)
                os.waitpid(command, 0)
                return 0
            try:
                conn, _ = self.listener.accept()
            except BlockingIOError:
                continue  # another spare took it
            break
        os.write(self.events_w, b"A" + os.getpid().to_bytes(4, "big"))
        self.listener.close()
        conn.setblocking(True)
        with conn, mine:
            code = child.handle(conn, mine, command, self.watch.changed, self.identity,
                                self._tell, self.status)  # fmt: skip
        self._tell(b"D")
        return code

    def _wait_ready(self, mine: socket.socket) -> bool:
        """Wait until the command's process has rehearsed (it sends :data:`READY`); False when it
        or the agent ended first."""
        ready, _, _ = select.select([self.life_r, mine.fileno()], [], [])
        try:
            return self.life_r not in ready and mine.recv(1) == READY
        except OSError:  # it died in its rehearsal
            return False

    def _tell(self, event: bytes) -> None:
        os.write(self.events_w, event + os.getpid().to_bytes(4, "big"))

    def reap(self) -> None:
        """Collect every child that ended."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.spares.discard(pid)
            self.busy.discard(pid)

    def loop(self) -> str:
        """Keep the spares until asked to stop ("stop") or to start again ("restart")."""
        gc.collect()
        gc.freeze()  # the warm objects stay shared with the spares (copy-on-write)
        while len(self.spares) < SPARES:
            self.spawn()
        os.rename(self.bound, self.path)  # ready: commands may come
        due = 0.0  # when to fork the spares that are missing
        while True:
            now = time.monotonic()
            if len(self.spares) < SPARES and (not self.spares or now >= due):
                while len(self.spares) < SPARES:
                    self.spawn()
            wait = 1.0 if len(self.spares) >= SPARES else max(0.0, min(1.0, due - now))
            try:
                ready, _, _ = select.select([self.events_r], [], [], wait)
            except InterruptedError:
                ready = []
            if not ready and wait == 1.0 and not self._reachable():
                return "stop"  # its socket was removed or replaced: nobody can reach it
            if self.events_r in ready:
                data = os.read(self.events_r, 4096)
                for i in range(0, len(data) - len(data) % 5, 5):
                    event, pid = data[i : i + 1], int.from_bytes(data[i + 1 : i + 5], "big")
                    if event == b"A":
                        self.spares.discard(pid)
                        self.busy.add(pid)
                        # the next spare is forked (and rehearses) when no command runs, not
                        # beside one on the same CPUs (at the latest REFILL_DELAY later); at
                        # once when no spare is left
                        due = time.monotonic() + REFILL_DELAY
                    elif event == b"D":
                        self.busy.discard(pid)
                        if not self.busy:
                            due = 0.0
                    elif event == b"Q":
                        return "stop"
                    elif event == b"R":
                        return "restart"
            self.reap()

    def _reachable(self) -> bool:
        try:
            return os.stat(self.path).st_ino == self.inode
        except OSError:
            return False

    def close(self) -> None:
        """Stop listening, end the spares, remove the socket, the pid file and the rehearsal's
        store."""
        self.listener.close()
        os.close(self.life_w)  # waiting spares see the pipe's end and exit; a spare that took a
        # connection is a command's now, and finishes it
        for path in (self.path, self.bound):
            with contextlib.suppress(FileNotFoundError):
                if os.stat(path).st_ino == self.inode:
                    os.unlink(path)
        pid_path = os.path.join(self.directory, PID_NAME)
        with contextlib.suppress(OSError):
            with open(pid_path, encoding="ascii") as written:
                ours = written.read().strip() == str(os.getpid())
            if ours:
                os.unlink(pid_path)
        deadline = time.monotonic() + 5
        while self.spares and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.01)
        self.rehearsal.remove()
        self.watch.close()


def main(directory: str) -> int:
    """Run the agent in ``directory`` until stopped; start again from new files after an
    upgrade."""
    agent = Agent(directory)
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        os.write(agent.events_w, b"Q" + os.getpid().to_bytes(4, "big"))

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    pid_path = os.path.join(directory, PID_NAME)
    fd = os.open(pid_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="ascii") as out:
        out.write(f"{os.getpid()}\n")
    if agent.rehearsal_failed:
        print(f"gitsm agent: the rehearsal's {', '.join(agent.rehearsal_failed)} failed (its "
              "commands start as they would without it)", file=sys.stderr)  # fmt: skip
    print(f"gitsm agent: ready at {agent.path} (pid {os.getpid()})", file=sys.stderr, flush=True)
    try:
        why = agent.loop()
    finally:
        agent.close()
    if why == "restart" and not stopping:
        print("gitsm agent: gitsm changed; starting again", file=sys.stderr, flush=True)
        os.execv(sys.executable, [sys.executable, *COMMAND, directory])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1]))
    except (OSError, RuntimeError) as exc:
        print(f"gitsm agent: {exc}", file=sys.stderr)
        sys.exit(1)
