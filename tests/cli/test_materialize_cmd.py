"""``gitsm materialize`` and ``gitsm exec`` from the command line: outputs, exit codes, and exec's
promises (values only in the child's environment; exit status and signals passed through).

Most run in-process; the exec tests that need a real parent process (its /proc entries, signals)
run the installed entry point.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from gitsm.cli.app import app
from tests.cli.conftest import GITSM_BIN
from tests.test_materialize import DOC, MULTI, PLAIN, TRICKY, make_store

VALUES = {"PLAIN": PLAIN, "TRICKY": TRICKY, "MULTI": MULTI, "USER": DOC["user"]}
ENV_FLAGS = ["--env", "PLAIN=ci/plain", "--env", "TRICKY=ci/tricky", "--env", "MULTI=ci/multi",
             "--env", "USER=ci/json#user"]  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Path:
    make_store(tmp_path / "store")
    return tmp_path / "store"


def cli(store: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--repo", str(store), *args])


def test_help_pages() -> None:
    runner = CliRunner()
    top = runner.invoke(app, ["--help"]).stdout
    assert "materialize" in top and "exec" in top
    page = runner.invoke(app, ["materialize", "--help"]).stdout
    for option in ("--spec", "--env", "--file", "--format", "--out", "--mode", "--k8s-name"):
        assert option in page
    assert "--env" in runner.invoke(app, ["exec", "--help"]).stdout


def test_json_to_stdout_and_files_with_summary(store: Path, tmp_path: Path) -> None:
    result = cli(store, "materialize", *ENV_FLAGS, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == VALUES
    out = tmp_path / "out"
    result = cli(store, "materialize", "--file", "a/plain=ci/plain", "--file", "conf/*=ci/json",
                 "--format", "files", "--out", str(out), "--mode", "0640")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert (out / "a/plain").read_text() == PLAIN and (out / "conf/user").read_text() == "admin"
    assert (out / "a/plain").stat().st_mode & 0o777 == 0o640
    assert f"{1 + len(DOC)} values from commit" in result.stderr and result.stdout == ""


def test_default_spec_file_and_github(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gitsm.materialize.yaml").write_text(
        "format: github\n"
        "secrets:\n  - {secret_id: ci/plain, env: PLAIN}\n  - {secret_id: ci/multi, env: MULTI}\n"
    )
    monkeypatch.setenv("GITHUB_ENV", str(tmp_path / "github_env"))
    result = cli(store, "materialize")  # the spec file and its format are the defaults
    assert result.exit_code == 0, result.stderr
    assert f"::add-mask::{PLAIN}\n" in result.stdout and "::add-mask::last line\n" in result.stdout
    assert (tmp_path / "github_env").read_text().startswith(f"PLAIN={PLAIN}\nMULTI<<ghadelimiter_")


def test_errors_and_exit_codes(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    failed = cli(store, "materialize", "--file", "a=ci/plain", "--file", "b=ci/missing",
                 "--file", "c=ci/json#nokey", "--format", "files", "--out", str(out))  # fmt: skip
    assert failed.exit_code == 254 and not out.exists()
    assert failed.stderr.startswith(
        "\nAn error occurred (MaterializeFailure) when calling the Materialize operation: "
        "2 problems; nothing was written:\n  - ci/missing (--file b): ResourceNotFoundException"
    )
    assert PLAIN not in failed.stderr
    bad_flag = cli(store, "materialize", "--env", "1X=ci/plain", "--format", "json")
    assert bad_flag.exit_code == 252 and "not an environment variable name" in bad_flag.stderr
    no_entries = cli(store, "materialize", "--format", "json")
    assert no_entries.exit_code == 252 and "nothing to materialize" in no_entries.stderr
    bad_format = cli(store, "materialize", "--env", "A=ci/plain", "--format", "xml")
    assert bad_format.exit_code == 252 and "unknown format 'xml'" in bad_format.stderr
    no_github = cli(store, "materialize", "--env", "A=ci/plain", "--format", "github")
    assert no_github.exit_code == 252 and "GITHUB_ENV" in no_github.stderr
    no_command = cli(store, "exec", "--env", "A=ci/plain")
    assert no_command.exit_code == 252 and "needs a command" in no_command.stderr


def test_exec_in_process(store: Path, tmp_path: Path) -> None:
    """Exit status passed on; the caller's environment untouched; nothing runs on a failure."""
    marker = tmp_path / "ran"
    script = f'printf %s "$PLAIN" > {marker}; exit 7'
    result = cli(store, "exec", "--env", "PLAIN=ci/plain", "--", "sh", "-c", script)
    assert result.exit_code == 7 and marker.read_text() == PLAIN
    assert "PLAIN" not in os.environ
    marker.unlink()
    failed = cli(store, "exec", "--env", "PLAIN=ci/plain", "--env", "X=ci/gone", "--", "sh", "-c",
                 script)  # fmt: skip
    assert failed.exit_code == 254 and "ci/gone (--env X): InvalidRequestException" in failed.stderr
    assert not marker.exists()
    missing = cli(store, "exec", "--env", "PLAIN=ci/plain", "--", "no-such-command-xyz")
    assert missing.exit_code == 127 and "no-such-command-xyz: command not found" in missing.stderr


CHECKER = """
import json, os, sys
names = sys.argv[1:]
values = [os.environ[n].encode() for n in names]
def clean(path):
    data = open(path, "rb").read()
    return not any(v in data for v in values)
print(json.dumps({
    "env": {n: os.environ[n] for n in names},
    "parent_environ_clean": clean(f"/proc/{os.getppid()}/environ"),
    "parent_cmdline_clean": clean(f"/proc/{os.getppid()}/cmdline"),
    "own_cmdline_clean": clean("/proc/self/cmdline"),
    "parent_is_gitsm": b"exec" in open(f"/proc/{os.getppid()}/cmdline", "rb").read(),
}))
"""


def test_exec_values_only_in_the_childs_environment(store: Path) -> None:
    done = subprocess.run(
        [str(GITSM_BIN), "--repo", str(store), "exec", *ENV_FLAGS, "--",
         sys.executable, "-c", CHECKER, *VALUES],
        capture_output=True, env=dict(os.environ),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report.pop("env") == VALUES
    assert all(report.values()), report


def test_exec_death_by_signal_passes_through(store: Path) -> None:
    done = subprocess.run(
        [str(GITSM_BIN), "--repo", str(store), "exec", "--env", "A=ci/plain", "--",
         "sh", "-c", "kill -TERM $$"],
        capture_output=True, env=dict(os.environ),
    )  # fmt: skip
    assert done.returncode == -signal.SIGTERM, done.stderr.decode()


TRAP = """
import signal, sys, time
log = sys.argv[1]
def record(number, frame):
    with open(log, "a") as f:
        f.write(signal.Signals(number).name + "\\n")
    if number == signal.SIGTERM:
        sys.exit(42)
for s in (signal.SIGHUP, signal.SIGINT, signal.SIGUSR1, signal.SIGTERM):
    signal.signal(s, record)
print("ready", flush=True)
while True:
    time.sleep(0.02)
"""


def test_exec_forwards_signals(store: Path, tmp_path: Path) -> None:
    log = tmp_path / "signals.log"
    proc = subprocess.Popen(
        [str(GITSM_BIN), "--repo", str(store), "exec", "--env", "A=ci/plain", "--",
         sys.executable, "-c", TRAP, str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ),
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        sent = [signal.SIGHUP, signal.SIGINT, signal.SIGUSR1]
        for count, number in enumerate(sent, 1):
            proc.send_signal(number)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and (
                not log.exists() or len(log.read_text().splitlines()) < count
            ):
                time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 42
    finally:
        proc.kill()
        proc.wait()
    assert log.read_text().splitlines() == ["SIGHUP", "SIGINT", "SIGUSR1", "SIGTERM"]
