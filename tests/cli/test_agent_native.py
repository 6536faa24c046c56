"""The native launcher (``gitsm/cli/agent/launcher.c``, installed as ``gitsm`` by scripts/setup)
describes a command to the agent exactly as the Python launcher does, and leaves to it what it
does not handle.

A stand-in agent (a unix socket in a private directory, served by a thread of this test) records
every request it receives and declines it: the native launcher, declined, runs the Python
launcher, which asks again and is declined too (``GITSM_AGENT=require``: it exits 255, running
nothing). The two requests must be equal, and their descriptors the same files. The commands'
real hand-over goes through the native launcher in every test that runs the ``gitsm`` command
with an agent (tests/cli/test_agent.py, and the CLI suite's agent run in CI).
"""

from __future__ import annotations

import array
import marshal
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitsm.cli.agent.native import is_native
from tests.cli.conftest import GITSM_BIN

pytestmark = pytest.mark.in_process_only(reason="it runs launchers against a stand-in agent")

REQUIRED = os.environ.get("GITSM_TEST_NATIVE") == "require"
"""Set by .ci/run, which installs what these tests need: they fail instead of skipping."""

if not is_native(GITSM_BIN):
    reason = f"{GITSM_BIN} is not the native launcher (no C compiler when scripts/setup ran)"
    if REQUIRED:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)

Request = tuple[dict[str, Any], list[tuple[int, int]]]


class StandIn:
    """A socket where an agent would listen, declining every request and keeping it."""

    def __init__(self, directory: Path, exit_status: int | None = None) -> None:
        directory.mkdir(mode=0o700)
        self.directory = directory
        self.exit_status = exit_status
        """None: decline every request; else run none, answering this exit status."""
        self.peers: list[str] = []
        """The executable of each process that connected."""
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(directory / "agent.sock"))
        self.listener.listen(8)
        self.requests: list[Request] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self._one(conn)

    def _one(self, conn: socket.socket) -> None:
        cred = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        self.peers.append(os.readlink(f"/proc/{int.from_bytes(cred[:4], sys.byteorder)}/exe"))
        fds = array.array("i")
        data, ancillary, _, _ = conn.recvmsg(1 << 16, socket.CMSG_SPACE(3 * fds.itemsize))
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
        if not data:  # a launcher that connected but could not send its streams
            return
        size = int.from_bytes(data[:4], "big")
        while len(data) < 4 + size:
            more = conn.recv(4 + size - len(data))
            if not more:
                return
            data += more
        files = []
        for fd in fds:
            st = os.fstat(fd)
            files.append((st.st_dev, st.st_ino))
            os.close(fd)
        self.requests.append((marshal.loads(data[4 : 4 + size]), files))
        if self.exit_status is None:
            conn.sendall(b"S" + (0).to_bytes(4, "big"))
            return
        running = os.getpid().to_bytes(4, "big")  # no signal is passed on to it here
        conn.sendall(b"P" + running + b"X" + self.exit_status.to_bytes(4, "big", signed=True))

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[StandIn]:
    agent = StandIn(tmp_path / "agent")
    yield agent
    agent.close()


def launch(
    agent: StandIn, *args: str | bytes, **options: Any
) -> subprocess.CompletedProcess[bytes]:
    """The installed ``gitsm`` with the stand-in agent, ``GITSM_AGENT=require``."""
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_CTYPE")}
    env.update({"GITSM_AGENT_DIR": str(agent.directory), "GITSM_AGENT": "require",
                "LANG": "C.UTF-8", **options.pop("env", {})})  # fmt: skip
    for name in options.pop("unset", ()):
        env.pop(name, None)
    options.setdefault("stdin", subprocess.DEVNULL)
    options.setdefault("capture_output", "stdout" not in options)
    return subprocess.run([str(GITSM_BIN), *args], env=env, **options)  # type: ignore[call-overload, no-any-return]


def both_alike(agent: StandIn, done: subprocess.CompletedProcess[bytes]) -> dict[str, Any]:
    """The native launcher's request and the Python launcher's after it are the same; that
    request."""
    assert done.returncode == 255, done.stderr  # declined twice: nothing ran
    assert len(agent.requests) == 2, agent.requests
    assert agent.peers[0] == os.path.realpath(GITSM_BIN) != agent.peers[1]  # native, then Python
    (native, native_files), (python, python_files) = agent.requests
    assert native == python
    assert native_files == python_files and len(native_files) == 3
    return native


READ = ("--repo", "/nowhere", "get-secret-value", "--secret-id", "app/db")


@pytest.mark.parametrize("status", [42, -signal.SIGTERM])
def test_it_hands_the_command_over_itself(tmp_path: Path, status: int) -> None:
    """With the agent answering, the native launcher is the process that asked, and it ends as
    the command did (a death by a signal repeated)."""
    agent = StandIn(tmp_path / "agent", exit_status=status)
    try:
        done = launch(agent, *READ)
    finally:
        agent.close()
    assert done.returncode == status, done.stderr
    assert agent.peers == [os.path.realpath(GITSM_BIN)] and len(agent.requests) == 1


def test_pipes_and_the_environment(stand_in: StandIn, tmp_path: Path) -> None:
    odd = tmp_path / os.fsdecode(b"dir-\xff-\xc3\xa9")
    odd.mkdir()
    env = {"GITSM_ODD": os.fsdecode(b"v\xe2\x82-\xed\xa0\x80-\xf0\x9f\x94\x91"), "EMPTY": ""}
    done = launch(stand_in, *READ, os.fsdecode(b"arg-\xff"), cwd=odd, env=env,
                  unset=["PYTHONUNBUFFERED"])  # fmt: skip
    request = both_alike(stand_in, done)
    assert request["cwd"] == str(odd) and request["env"]["GITSM_ODD"] == env["GITSM_ODD"]
    assert request["argv"][0] == str(GITSM_BIN) and request["args"][-1] == os.fsdecode(b"arg-\xff")
    assert [s[1] for s in request["streams"]] == ["surrogateescape"] * 2 + ["backslashreplace"]
    assert [s[2] for s in request["streams"]] == [False, False, True]  # stderr line-buffered


def test_a_request_larger_than_the_sockets_buffer(stand_in: StandIn) -> None:
    # 600 KB in the environment (each variable under the kernel's 128 KB limit for one string),
    # more than a unix socket buffers: a blocking send waits for the reader and goes whole (the
    # launchers send what is left when a signal cuts it short)
    big = {f"GITSM_BIG{i}": str(i) * 100_000 for i in range(6)}
    request = both_alike(stand_in, launch(stand_in, *READ, env=big))
    assert all(request["env"][name] == value for name, value in big.items())


def test_unbuffered_an_ignored_signal_and_the_umask(stand_in: StandIn) -> None:
    def child() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        os.umask(0o027)

    done = launch(stand_in, *READ, env={"PYTHONUNBUFFERED": "1"}, preexec_fn=child)
    request = both_alike(stand_in, done)
    assert request["ignored"] == ["SIGHUP"] and request["umask"] == 0o027
    assert [s[3] for s in request["streams"]] == [True, True, True]  # write-through


def test_a_terminal(stand_in: StandIn, tmp_path: Path) -> None:
    main, side = os.openpty()
    try:
        with (tmp_path / "err").open("wb") as err:
            done = launch(stand_in, *READ, stdin=side, stdout=side, stderr=err,
                          unset=["PYTHONUNBUFFERED"])  # fmt: skip
    finally:
        os.close(side)
        os.close(main)
    done.stderr = (tmp_path / "err").read_bytes()
    request = both_alike(stand_in, done)
    assert [s[2] for s in request["streams"]] == [True, True, True]


def test_a_locale_that_is_not_a_coercion_target(stand_in: StandIn, tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    locales.mkdir()
    made = subprocess.run(["localedef", "-i", "en_US", "-f", "UTF-8",
                           str(locales / "en_US.UTF-8")], capture_output=True)  # fmt: skip
    if made.returncode != 0:
        reason = f"localedef could not make en_US.UTF-8: {made.stderr.decode()[:200]}"
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    done = launch(stand_in, *READ, env={"LOCPATH": str(locales), "LANG": "en_US.UTF-8"})
    request = both_alike(stand_in, done)
    assert [s[1] for s in request["streams"]] == ["strict", "strict", "backslashreplace"]


@pytest.mark.parametrize(
    ("env", "coerced"),
    [
        ({"LANG": "C"}, "C.UTF-8"),  # Python coerces the C locale, setting LC_CTYPE
        ({"LANG": "xx_YY.UTF-8"}, "C.UTF-8"),  # no such locale: C, coerced
        ({"LC_ALL": "C"}, None),  # LC_ALL set: no coercion, UTF-8 mode all the same
        ({"LANG": "POSIX", "LC_CTYPE": "POSIX"}, "C.UTF-8"),
    ],
)
def test_the_c_locale_as_python_makes_it(
    stand_in: StandIn, env: dict[str, str], coerced: str | None
) -> None:
    request = both_alike(stand_in, launch(stand_in, *READ, env=env))
    assert request["env"].get("LC_CTYPE") == (coerced or env.get("LC_CTYPE"))
    assert [s[1] for s in request["streams"]] == ["surrogateescape"] * 2 + ["backslashreplace"]


@pytest.mark.parametrize(
    ("env", "unset"),
    [
        ({"PYTHONIOENCODING": "latin-1"}, []),
        ({"PYTHONUTF8": "1"}, []),
        ({"PYTHONCOERCECLOCALE": "warn", "LANG": "C"}, ["LC_ALL", "LC_CTYPE"]),
    ],
)
def test_what_it_leaves_to_the_python_launcher(
    stand_in: StandIn, env: dict[str, str], unset: list[str]
) -> None:
    done = launch(stand_in, *READ, env=env, unset=unset)
    assert done.returncode == 255, done.stderr
    assert len(stand_in.requests) == 1  # only the Python launcher asked


def test_a_closed_standard_input_is_left_to_python(stand_in: StandIn) -> None:
    done = launch(stand_in, *READ, stdin=None, preexec_fn=lambda: os.close(0))
    assert done.returncode == 255 and b"a standard stream of this process is closed" in done.stderr
    assert stand_in.requests == []  # neither launcher asked (the socket would have been fd 0)


def test_without_an_agent_the_command_runs_in_process(tmp_path: Path) -> None:
    env = {**os.environ, "GITSM_AGENT_DIR": str(tmp_path / "none"), "GITSM_AGENT": ""}
    done = subprocess.run([str(GITSM_BIN), "get-random-password", "--password-length", "12",
                           "--exclude-punctuation"], capture_output=True, env=env)  # fmt: skip
    assert done.returncode == 0 and len(done.stdout.strip()) > 12, done.stderr


def test_install_replaces_the_command_and_needs_a_compiler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``native install`` renames a built launcher over ``BIN/gitsm``; without a compiler it
    leaves the console script as it is."""
    from gitsm.cli.agent import native

    script = tmp_path / "gitsm"
    script.write_text("#!/usr/bin/env python3\n")
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    assert "no C compiler" in native.install(tmp_path)
    assert script.read_text() == "#!/usr/bin/env python3\n"
    monkeypatch.delenv("CC")
    assert "native launcher" in native.install(tmp_path)
    assert is_native(script) and os.access(script, os.X_OK)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gitsm"]  # no partial file left
