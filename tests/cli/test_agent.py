"""The warm agent: ``gitsm agent start|stop|status`` and the launcher's handing over, with real
agent processes on private unix sockets and the installed console script as the launcher."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import GITSM_BIN

pytestmark = pytest.mark.in_process_only(reason="it starts and stops agents of its own")


def env_for(directory: Path, mode: str = "require", **extra: str) -> dict[str, str]:
    """The test's environment with the agent at ``directory`` and GITSM_AGENT=``mode``."""
    return {**os.environ, "GITSM_AGENT_DIR": str(directory), "GITSM_AGENT": mode, **extra}


def gitsm(
    directory: Path, *args: str, mode: str = "require", input: bytes | None = b"", **kw: object
) -> subprocess.CompletedProcess[bytes]:
    """The installed ``gitsm`` with the agent at ``directory``."""
    return subprocess.run([str(GITSM_BIN), *args], input=input, capture_output=True,
                          env=env_for(directory, mode), **kw)  # type: ignore[call-overload]  # fmt: skip


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A running agent in a private directory, shared by this module's tests that only use it
    (each command runs in a process of its own all the same); stopped afterwards."""
    directory = tmp_path_factory.mktemp("shared-agent") / "agent"
    started = gitsm(directory, "agent", "start")
    assert started.returncode == 0, started.stderr
    yield directory
    gitsm(directory, "agent", "stop")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store with one secret, made without any agent."""
    path = tmp_path / "store"
    for args in (["init", str(path)], ["--repo", str(path), "create-secret", "--name", "app/db",
                                       "--secret-string", "s3cret"]):  # fmt: skip
        done = gitsm(tmp_path / "none", *args, mode="0")
        assert done.returncode == 0, done.stderr
    return path


def gone(pid: int) -> bool:
    """True when no process ``pid`` runs (a zombie that no parent reaped is gone too)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as proc:
            return proc.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def status(directory: Path) -> tuple[int, dict[str, object]]:
    done = gitsm(directory, "agent", "status")
    return done.returncode, json.loads(done.stdout)


def test_start_status_stop(tmp_path: Path) -> None:
    directory = tmp_path / "agent"
    code, shown = status(directory)
    assert (code, shown["Running"]) == (3, False)
    try:
        first = json.loads(gitsm(directory, "agent", "start").stdout)
        again = json.loads(gitsm(directory, "agent", "start").stdout)  # one agent, not two
        assert first["Running"] is True and again["Pid"] == first["Pid"]
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE((directory / "agent.sock").lstat().st_mode) == 0o600
        assert status(directory) == (0, first)
        pid = first["Pid"]
        assert isinstance(pid, int)
        stopped = json.loads(gitsm(directory, "agent", "stop").stdout)
        assert stopped == {"Stopped": True, "Pid": pid}
        assert gone(pid)  # when stop returns
        assert not (directory / "agent.sock").exists()
        assert [p.name for p in directory.iterdir() if p.name.startswith("rehearsal-")] == []
        assert status(directory)[0] == 3
    finally:
        gitsm(directory, "agent", "stop")


def test_an_agent_whose_socket_is_removed_stops(tmp_path: Path) -> None:
    directory = tmp_path / "agent"
    pid = json.loads(gitsm(directory, "agent", "start").stdout)["Pid"]
    try:
        (directory / "agent.sock").unlink()  # nobody can reach it now: it must not linger
        deadline = time.monotonic() + 20
        while not gone(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert gone(pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_commands_go_through_the_agent_with_the_same_results(agent: Path, store: Path) -> None:
    runs = [
        ["--repo", str(store), "get-secret-value", "--secret-id", "app/db"],
        ["--repo", str(store), "get-secret-value", "--secret-id", "nope"],
        ["--repo", str(store), "get-secret-value", "--secret-idd", "app/db"],
        ["--repo", str(store), "list-secrets", "--query", "SecretList[].Name", "--output", "text"],
        ["--repo", str(store), "describe-secret", "--secret-id", "app/db", "--query", "Tags[0]."],
    ]
    for args in runs:
        through = gitsm(agent, *args)  # GITSM_AGENT=require: handed over or exit 255
        here = gitsm(agent, *args, mode="0")
        assert (through.returncode, through.stdout, through.stderr) == (
            here.returncode, here.stdout, here.stderr,
        ), args  # fmt: skip
    assert [gitsm(agent, *a).returncode for a in runs] == [0, 254, 252, 0, 252]


def test_standard_input_working_directory_and_environment(agent: Path, store: Path) -> None:
    put = gitsm(agent, "put-secret-value", "--secret-id", "app/db", "--secret-string",
                "file:///dev/stdin", input=b"from a pipe", cwd=store,
                )  # fmt: skip
    assert put.returncode == 0, put.stderr  # the store found from the working directory
    env = env_for(agent, GITSM_REPO=str(store))
    read = subprocess.run([str(GITSM_BIN), "get-secret-value", "--secret-id", "app/db", "--query",
                           "SecretString", "--output", "text"], capture_output=True, env=env,
                          cwd="/")  # fmt: skip
    assert (read.returncode, read.stdout) == (0, b"from a pipe\n")


def test_the_command_has_the_launchers_environment_not_the_agents(
    tmp_path: Path, store: Path
) -> None:
    """A variable the agent was started with but the launcher lacks is gone for the command, and
    one both have takes the launcher's value."""
    directory = tmp_path / "agent"
    started = subprocess.run([str(GITSM_BIN), "agent", "start"], capture_output=True,
                             env=env_for(directory, GITSM_REPO=str(tmp_path / "elsewhere")))  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        read = ["get-secret-value", "--secret-id", "app/db", "--query", "SecretString"]
        runs = [gitsm(directory, *read, cwd="/", mode=mode) for mode in ("require", "0")]
        assert runs[0].returncode == runs[1].returncode != 0  # no GITSM_REPO: no store at /
        assert runs[0].stdout == runs[1].stdout and runs[0].stderr == runs[1].stderr
        found = subprocess.run([str(GITSM_BIN), *read], capture_output=True, cwd="/",
                               env=env_for(directory, GITSM_REPO=str(store)))  # fmt: skip
        assert (found.returncode, found.stdout) == (0, b'"s3cret"\n'), found.stderr
    finally:
        gitsm(directory, "agent", "stop")


def test_output_to_a_file_and_the_umask(agent: Path, store: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    with target.open("wb") as out:
        done = subprocess.run(
            [str(GITSM_BIN), "--repo", str(store), "get-secret-value", "--secret-id", "app/db"],
            stdout=out,
            stderr=subprocess.PIPE,
            env=env_for(agent),
        )
    assert done.returncode == 0 and json.loads(target.read_text())["SecretString"] == "s3cret"
    made = subprocess.run(
        ["sh", "-c", f"umask 077 && exec {GITSM_BIN} init {tmp_path / 'private'}"],
        capture_output=True, env=env_for(agent),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o700  # the launcher's umask


def test_a_signal_to_the_launcher_reaches_the_command(agent: Path, store: Path) -> None:
    waiting = subprocess.Popen(
        [str(GITSM_BIN), "--repo", str(store), "put-secret-value", "--secret-id", "app/db",
         "--secret-string", "file:///dev/stdin"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(agent),
    )  # fmt: skip
    time.sleep(1.0)  # the command now waits for its standard input, in the agent's process
    waiting.send_signal(signal.SIGTERM)
    waiting.wait(timeout=20)  # its standard input still open: only the signal ends it
    _, err = waiting.communicate(timeout=20)
    assert waiting.returncode == -signal.SIGTERM, err
    versions = gitsm(agent, "--repo", str(store), "list-secret-version-ids", "--secret-id",
                     "app/db")  # fmt: skip
    assert len(json.loads(versions.stdout)["Versions"]) == 1  # nothing was written


def test_require_without_an_agent_fails_and_zero_runs_in_process(tmp_path: Path,
                                                                 store: Path) -> None:  # fmt: skip
    args = ["--repo", str(store), "get-secret-value", "--secret-id", "app/db"]
    missing = gitsm(tmp_path / "no-agent", *args)
    assert missing.returncode == 255
    assert b"GITSM_AGENT=require, but the command cannot go to the agent" in missing.stderr
    assert gitsm(tmp_path / "no-agent", *args, mode="").returncode == 0  # in process


def test_a_directory_open_to_others_is_not_used(tmp_path: Path, store: Path) -> None:
    directory = tmp_path / "open"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    started = gitsm(directory, "agent", "start")
    assert started.returncode == 253 and b"not private" in started.stderr
    done = gitsm(directory, "--repo", str(store), "get-secret-value", "--secret-id", "app/db")
    assert done.returncode == 255 and b"open to group or others" in done.stderr


def test_the_launcher_loads_almost_nothing(agent: Path, store: Path) -> None:
    probe = (
        "import os, sys\n"  # the launcher ends with os._exit: the probe reports from there
        "def report(code, _exit=os._exit):\n"
        "    os.write(2, ('\\nLOADED ' + ' '.join(sorted(sys.modules))).encode())\n"
        "    _exit(code)\n"
        "os._exit = report\n"
        "sys.argv = ['gitsm', '--repo', sys.argv[1], 'get-secret-value', '--secret-id', 'app/db']\n"
        "from gitsm.cli import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(store)], capture_output=True,
                          env=env_for(agent))  # fmt: skip
    assert done.returncode == 0 and b"s3cret" in done.stdout, done.stderr
    loaded = set(done.stderr.decode().rpartition("LOADED ")[2].split())
    heavy = {"pygit2", "cryptography", "typer", "click", "yaml", "jmespath", "json", "signal",
             "subprocess", "gitsm.store", "gitsm.awsclient", "gitsm.cli.lean", "__future__"}  # fmt: skip
    assert loaded & heavy == set()
    assert "gitsm.cli.agent.launcher" in loaded  # the probe saw the launcher's process


def test_an_upgraded_gitsm_restarts_the_agent(tmp_path: Path) -> None:
    """The agent of a copy of the package: a changed file makes it decline the next command
    (which runs in process all the same) and start again from the new files."""
    package = Path(__file__).resolve().parents[2] / "gitsm"
    copy = tmp_path / "site"
    shutil.copytree(package, copy / "gitsm", ignore=shutil.ignore_patterns("__pycache__"))
    directory = tmp_path / "agent"
    env = env_for(directory, mode="", PYTHONPATH=str(copy))
    launch = [sys.executable, "-c", "import sys; from gitsm.cli import main; sys.argv[0] = "
              "'gitsm'; main()"]  # fmt: skip

    def run(*args: str, mode: str = "") -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*launch, *args], capture_output=True, cwd=tmp_path,
                              env={**env, "GITSM_AGENT": mode})  # fmt: skip

    try:
        first = json.loads(run("agent", "start").stdout)
        assert first["Package"] == str(copy / "gitsm")
        assert run("get-random-password", mode="require").returncode == 0
        module = copy / "gitsm" / "passwords.py"
        module.write_text(module.read_text() + "\n# upgraded\n")
        declined = run("get-random-password", mode="require")
        assert declined.returncode == 255 and b"older copy" in declined.stderr
        assert run("get-random-password").returncode == 0  # in process, as without an agent
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = run("agent", "status")
            if found.returncode == 0 and json.loads(found.stdout)["Started"] != first["Started"]:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the agent did not start again from the new files")
        assert run("get-random-password", mode="require").returncode == 0
    finally:
        run("agent", "stop")


def _waiting_put(agent: Path, store: Path, **popen: Any) -> subprocess.Popen[bytes]:
    """``put-secret-value --secret-string file:///dev/stdin`` through the agent, its standard
    input a pipe left open: the command waits in the agent's process for its value."""
    waiting = subprocess.Popen(
        [str(GITSM_BIN), "--repo", str(store), "put-secret-value", "--secret-id", "app/db",
         "--secret-string", "file:///dev/stdin"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(agent),
        **popen,
    )  # fmt: skip
    time.sleep(1.0)
    return waiting


def _versions(agent: Path, store: Path) -> int:
    listed = gitsm(agent, "--repo", str(store), "list-secret-version-ids", "--secret-id", "app/db")
    return len(json.loads(listed.stdout)["Versions"])


def test_a_command_dies_with_its_launcher(agent: Path, store: Path) -> None:
    waiting = _waiting_put(agent, store)
    waiting.kill()  # SIGKILL: the launcher cannot pass it on
    waiting.wait(timeout=20)
    assert waiting.stdin is not None
    with contextlib.suppress(BrokenPipeError):  # nobody reads it any more
        waiting.stdin.write(b"written after the launcher died")
        waiting.stdin.close()
    time.sleep(1.0)
    assert _versions(agent, store) == 1  # the command died too: it wrote nothing


def test_a_signal_the_caller_ignores_is_ignored_by_the_command(agent: Path, store: Path) -> None:
    def ignore_hangup() -> None:  # as nohup does
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    waiting = _waiting_put(agent, store, preexec_fn=ignore_hangup)
    waiting.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert waiting.poll() is None  # still waiting for its value
    _, err = waiting.communicate(b"after the hang-up", timeout=20)
    assert waiting.returncode == 0, err
    assert _versions(agent, store) == 2


def test_the_directory_it_starts_from_is_not_on_its_path(tmp_path: Path) -> None:
    decoy = tmp_path / "elsewhere"
    (decoy / "gitsm").mkdir(parents=True)
    (decoy / "gitsm" / "__init__.py").write_text("raise SystemExit('the decoy was imported')\n")
    directory = tmp_path / "agent"
    try:
        started = subprocess.run([str(GITSM_BIN), "agent", "start"], capture_output=True,
                                 cwd=decoy, env=env_for(directory))  # fmt: skip
        assert started.returncode == 0, started.stderr
        shown = json.loads(started.stdout)
        assert shown["Package"] == str(Path(__file__).resolve().parents[2] / "gitsm")
    finally:
        gitsm(directory, "agent", "stop")


@pytest.mark.parametrize("in_work_tree", [False, True])
def test_the_rehearsal_materializes_and_leaves_no_plaintext(
    tmp_path: Path, in_work_tree: bool
) -> None:
    """The rehearsal's materialize (which warms a CI job's path in every spare) writes its one
    value into a new directory and removes it; inside a git work tree it is refused, which is not
    counted as a failure of the rehearsal (the reads are still rehearsed)."""
    from gitsm.cli.agent.rehearse import MATERIALIZE, OUT, Rehearsal

    if in_work_tree:
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    rehearsal = Rehearsal(str(tmp_path))
    try:
        assert rehearsal.first() == []
        assert rehearsal.run(MATERIALIZE) == ([" ".join(MATERIALIZE[0])] if in_work_tree else [])
        assert not (Path(rehearsal.root) / OUT).exists()
        assert [p for p in Path(rehearsal.root).rglob("*") if p.name == "value"] == []
    finally:
        rehearsal.remove()
