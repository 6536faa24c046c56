"""``gitsm materialize`` without typer (gitsm.cli.materialize_run): a plain command line prints,
writes, fails and exits exactly as the typer command does; anything else is left to typer; and the
console script's process loads neither typer nor the operations' model for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gitsm.cli import materialize_run
from gitsm.cli.app import app
from tests.test_materialize import PLAIN, make_store

pytestmark = pytest.mark.in_process_only("compares the lean path with typer in this process")

SAME = [
    ["materialize", "--env", "PLAIN=ci/plain", "--env", "USER=ci/json#user", "--format", "json"],
    ["materialize", "--file", "a/plain=ci/plain", "--file", "conf/*=ci/json", "--out", "OUT",
     "--mode", "0640"],
    ["materialize", "--spec", "SPEC", "--out", "OUT"],
    ["materialize", "--spec", "SPEC", "--format", "dotenv"],
    ["materialize", "--spec", "SPEC", "--format", "k8s", "--k8s-name", "app",
     "--k8s-namespace", "ci"],
    ["materialize", "--env", "GONE=ci/gone", "--env", "NOPE=ci/nope", "--format", "json"],
    ["materialize", "--env", "X=ci/json#missing", "--format", "export"],
    ["materialize", "--env", "PLAIN=ci/plain", "--format", "yaml-ish"],
    ["materialize", "--env", "PLAIN=ci/plain", "--mode", "999"],
    ["materialize", "--env", "bad name=ci/plain", "--format", "json"],
    ["materialize", "--spec", "MISSING.yaml"],
    ["materialize"],
    ["--output", "bogus", "materialize", "--env", "PLAIN=ci/plain", "--format", "json"],
    ["--debug", "materialize", "--env", "PLAIN=ci/plain", "--format", "json"],
    ["materialize", "--env", "PLAIN=ci/plain", "--format", "json", "--region", "eu-west-1"],
]  # fmt: skip
"""Command lines the lean path runs (OUT, SPEC: a directory and a spec made here)."""

TYPERS = [
    ["materialize", "--help"],
    ["materialize", "--env=PLAIN=ci/plain"],
    ["materialize", "--env", "PLAIN=ci/plain", "USER=ci/json#user"],
    ["materialize", "--out", "a", "--out", "b", "--env", "PLAIN=ci/plain"],
    ["materialize", "--env"],
    ["materialize", "--env", "-x"],
    ["materialize", "--unknown", "x"],
    ["materialize", "stray"],
    ["materialize", "--", "--env", "PLAIN=ci/plain"],
    ["exec", "--env", "PLAIN=ci/plain", "true"],
    ["exec", "--env", "PLAIN=ci/plain", "--mode", "0600", "--", "true"],
    ["exec", "--help"],
    ["get-secret-value", "--secret-id", "materialize"],
    ["--debug", "--debug", "materialize", "--env", "PLAIN=ci/plain"],
]
"""Command lines the lean path leaves to typer."""

EXEC_SAME = [
    ["exec", "--env", "PLAIN=ci/plain", "--", "sh", "-c", 'test "$PLAIN" = s3cr3t-plain-Value'],
    ["exec", "--env", "PLAIN=ci/plain", "--", "sh", "-c", "exit 3"],
    ["exec", "--spec", "SPEC", "--", "sh", "-c", 'test "$USER" = admin && test -n "$PLAIN"'],
    ["exec", "--env", "PLAIN=ci/plain", "--"],
    ["exec", "--env", "NOPE=ci/nope", "--", "true"],
    ["exec", "--env", "PLAIN=ci/plain", "--repo", "REPO", "--", "true"],
    ["exec", "--", "true"],
    ["--output", "bogus", "exec", "--env", "PLAIN=ci/plain", "--", "true"],
]  # fmt: skip
"""exec command lines the lean path runs (the command's own output is not the CLI's)."""


@pytest.fixture
def store(tmp_path: Path) -> Path:
    make_store(tmp_path / "store")
    (tmp_path / "spec.yaml").write_text(
        "version: 1\nsecrets:\n  - secret_id: ci/plain\n    file: plain\n    env: PLAIN\n"
        "  - secret_id: ci/json\n    json_key: user\n    file: user\n    env: USER\n"
    )
    return tmp_path / "store"


def filled(args: list[str], tmp_path: Path) -> list[str]:
    names = {"OUT": str(tmp_path / "out"), "SPEC": str(tmp_path / "spec.yaml"),
             "REPO": str(tmp_path / "store")}  # fmt: skip
    return [names.get(a, a) for a in args]


@pytest.mark.parametrize("args", SAME, ids=" ".join)
def test_the_lean_path_answers_like_typer(
    store: Path, tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--repo", str(store), *filled(args, tmp_path)]
    typer_run = CliRunner().invoke(app, argv)
    typer_files = sorted(p.relative_to(tmp_path) for p in (tmp_path / "out").rglob("*"))
    if (tmp_path / "out").exists():
        for path in sorted((tmp_path / "out").rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
    code = materialize_run.quick(argv)
    out, err = capsys.readouterr()
    assert code is not None, "the lean path declined a plain command line"
    assert (code, out, err) == (typer_run.exit_code, typer_run.stdout, typer_run.stderr)
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "out").rglob("*")) == typer_files


@pytest.mark.parametrize("args", EXEC_SAME, ids=" ".join)
def test_exec_s_lean_path_ends_like_typer(
    store: Path, tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The same exit status and the same messages of gitsm's own (a command ended by a signal:
    tests/cli/test_materialize_cmd.py, through the real entry point)."""
    argv = ["--repo", str(store), *filled(args, tmp_path)]
    typer_run = CliRunner().invoke(app, argv)
    try:
        code = materialize_run.quick(argv)
    except SystemExit as exc:
        code = exc.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    assert code is not None, "the lean path declined a plain command line"
    assert (code, out, err) == (typer_run.exit_code, typer_run.stdout, typer_run.stderr)


@pytest.mark.parametrize("args", TYPERS, ids=" ".join)
def test_anything_else_is_left_to_typer(
    store: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert materialize_run.quick(["--repo", str(store), *args]) is None
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    "args",
    [
        ["materialize", "--env", "PLAIN=ci/plain", "--format", "dotenv"],
        ["materialize", "--spec", "spec.yaml", "--format", "dotenv"],
        ["exec", "--env", "PLAIN=ci/plain", "--", "sh", "-c", "echo \"PLAIN='$PLAIN'\""],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_the_console_script_loads_no_typer(store: Path, tmp_path: Path, args: list[str]) -> None:
    """Nor PyYAML (a spec in the plain block form is read without it: materialize/specfast), nor
    pygit2 and the store (the secrets are read by the quick read: gitsm.quickbatch)."""
    probe = (
        "import sys\nfrom gitsm.cli import main\ncode = 0\ntry:\n    main(sys.argv[1:])\n"
        "except SystemExit as exc:\n    code = exc.code\n"
        "sys.stderr.write('\\nLOADED ' + ' '.join(sorted(sys.modules)) + '\\n')\n"
        "sys.exit(code)\n"
    )
    args = ["--repo", str(store), *args]
    env = {k: v for k, v in os.environ.items() if k != "GITSM_AGENT"} | {"GITSM_AGENT": "0"}
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path)  # fmt: skip
    said, _, modules = done.stderr.rpartition("\nLOADED ")
    assert done.returncode == 0 and f"PLAIN='{PLAIN}'\n" in done.stdout, said
    loaded = set(modules.split())
    assert (
        loaded
        and {"typer", "click", "gitsm.cli.app", "gitsm.cli.awsmodel", "yaml"} & loaded == set()
    )
    assert {"gitsm.cli.materialize_run", "gitsm.materialize"} <= loaded
    # the quick read answered (gitsm.quickbatch): neither pygit2 nor the store was loaded
    assert "gitsm.quickbatch" in loaded and {"pygit2", "gitsm.store"} & loaded == set()
