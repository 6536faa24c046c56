"""get-secret-value's quick path (gitsm.cli.quickget): the console script prints, fails and exits
exactly as the full command does, answers the plain reads itself without loading pygit2, PyYAML,
typer or the model, and leaves everything else to the full command before printing anything."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gitsm
from gitsm.cli import quickget

pytestmark = pytest.mark.in_process_only  # runs the console script itself, agent or not

SCRIPT = str(Path(sys.executable).parent / "gitsm")

ANSWERED = [
    ["get-secret-value", "--secret-id", "app/db"],
    ["secretsmanager", "get-secret-value", "--secret-id", "app/db", "--version-stage", "AWSPREVIOUS"],
    ["get-secret-value", "--secret-id", "app/db", "--output", "text"],
    ["get-secret-value", "--secret-id", "app/db", "--query", "SecretString", "--output", "text"],
    ["get-secret-value", "--query", "SecretString", "--secret-id", "app/db"],
    ["get-secret-value", "--secret-id", "app/db", "--query", "VersionStages", "--output", "text"],
    ["get-secret-value", "--secret-id", "app/db", "--query", "VersionStages"],
    ["get-secret-value", "--secret-id", "bin/key"],
    ["get-secret-value", "--secret-id", "bin/key", "--output", "text"],
    ["get-secret-value", "--secret-id", "bin/key", "--query", "SecretBinary", "--output", "text"],
    ["get-secret-value", "--secret-id", "uni"],
    ["get-secret-value", "--secret-id", "uni", "--output", "text"],
    ["--output", "text", "get-secret-value", "--secret-id", "app/db"],
    ["--query", "Name", "--output", "text", "secretsmanager", "get-secret-value", "--secret-id",
     "app/db"],
]  # fmt: skip
"""Command lines the quick path answers itself."""

LEFT = [
    ["get-secret-value", "--secret-id", "nope"],
    ["get-secret-value", "--secret-id", "app/db", "--version-stage", "AWSPENDING"],
    ["get-secret-value", "--secret-id", "app/db", "--version-id", "x" * 40],
    ["get-secret-value", "--secret-id", "app/db", "--query", "SecretBinary"],
    ["get-secret-value", "--secret-id", "app/db", "--query", "bad["],
    ["get-secret-value", "--secret-id", "app/db", "--output", "yaml"],
    ["get-secret-value", "--secret-id", "app/db", "--output", "table"],
    ["get-secret-value", "--secret-id", "app/db", "--debug"],
    ["get-secret-value", "--secret-id", "app/db", "--region", "eu-west-1"],
    ["get-secret-value", "--secret-id=app/db"],
    ["get-secret-value", "--secret-id", "file:///dev/null"],
    ["get-secret-value", "--secret-id", "app/db", "--secret-id", "bin/key"],
    ["get-secret-value"],
    ["--debug", "get-secret-value", "--secret-id", "app/db"],
    ["--output", "text", "get-secret-value", "--secret-id", "app/db", "--output", "json"],
    ["--secret-id", "app/db", "get-secret-value"],
    ["get-secret-value", "--secret-id", "app/db", "--version-stage", ""],
    ["get-secret-value", "--secret-id", "app/db", "--version-id", ""],
    ["describe-secret", "--secret-id", "app/db"],
]  # fmt: skip
"""Command lines left to the full command (errors, and forms the quick path does not take)."""


_TEMPLATE: list[tuple[Path, Path]] = []
"""(store, its GITSM_HOME), made once per test process; every test works on a copy."""


@pytest.fixture
def store(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    if not _TEMPLATE:
        root = tmp_path_factory.mktemp("quickget")
        with monkeypatch.context() as scoped:
            scoped.setenv("GITSM_HOME", str(root / "home"))
            gitsm.init(root / "store")
            c = gitsm.client(repo=root / "store")
            c.create_secret(Name="app/db", SecretString="first")
            c.put_secret_value(SecretId="app/db", SecretString='{"user": "u", "password": "p w"}')
            c.create_secret(Name="bin/key", SecretBinary=bytes(range(200)))
            c.create_secret(Name="uni", SecretString="caf\u00e9 \U0001f600\ttab\nline")
        _TEMPLATE.append((root / "store", root / "home"))
    template, keys = _TEMPLATE[0]
    path = tmp_path / "store"
    shutil.copytree(template, path, symlinks=True)
    shutil.copytree(keys / "keys", Path(os.environ["GITSM_HOME"]) / "keys", dirs_exist_ok=True)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.chdir(path)
    return path


def run(args: list[str], quick: bool) -> tuple[int, str, str]:
    env = dict(os.environ, GITSM_QUICK_READ="1" if quick else "0", PYTHONIOENCODING="utf-8")
    done = subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env, check=False)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("args", ANSWERED)
def test_answers_plain_reads_as_the_full_command(
    store: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The console script prints the same both ways, and the quick path answered it itself."""
    full = run(args, quick=False)
    assert full[0] == 0
    assert run(args, quick=True) == full
    assert quickget.quick(args) == 0
    assert capsys.readouterr().out == full[1]


@pytest.mark.parametrize("args", LEFT)
def test_leaves_the_rest_before_printing(
    store: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing printed and nothing done: the console script goes on to the full command."""
    assert quickget.quick(args) is None
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("args", [LEFT[0], LEFT[1], LEFT[2], LEFT[4], LEFT[-3]])
def test_errors_are_the_full_commands(store: Path, args: list[str]) -> None:
    """The console script fails alike both ways (not found, no such stage or version, an empty
    option value)."""
    quick, full = run(args, quick=True), run(args, quick=False)
    assert quick == full and full[0] != 0


def test_off_switch_and_repo_option(
    store: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    args = ["--repo", str(store), "get-secret-value", "--secret-id", "app/db"]
    monkeypatch.chdir(tmp_path)
    assert quickget.quick(args) == 0
    assert json.loads(capsys.readouterr().out)["Name"] == "app/db"
    monkeypatch.setenv(quickget.SWITCH, "0")
    assert quickget.quick(args) is None


def test_loads_neither_git_library_nor_model(store: Path) -> None:
    code = (
        "import sys\n"
        "from gitsm.cli.quickget import quick\n"
        "assert quick(['get-secret-value', '--secret-id', 'app/db']) == 0\n"
        "heavy = ['pygit2', 'yaml', 'typer', 'click', 'jmespath', 'gitsm.model', 'gitsm.store',"
        " 'cryptography.hazmat.primitives.ciphers.aead']\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["SecretString"].startswith("{")
    assert done.stderr.strip() == "[]"
