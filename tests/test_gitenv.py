"""A hostile environment cannot redirect gitsm: with ``GIT_DIR``, ``GIT_WORK_TREE``,
``GIT_INDEX_FILE``, ``GIT_OBJECT_DIRECTORY`` and ``GIT_COMMON_DIR`` all pointing at another
repository, writes, reads, ``verify``, ``sync`` (its quick path too), ``hook install`` and
``materialize`` act on the store and leave the other repository exactly as it was. The one variable
gitsm reads on purpose, ``GIT_INDEX_FILE`` for ``verify --staged`` in a hook, is honoured only when
it names an index inside the store's own git dir.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from gitsm.cli.app import app
from gitsm.gitenv import REDIRECTING_GIT_VARS, git_argv, git_env, run_git
from tests.cli.conftest import run_gitsm
from tests.gitremote import Daemon

VALUE = "hostile-env-value-51c2"


def clean_git(path: Path, *args: str) -> str:
    """git in ``path`` with none of the redirecting variables (the test's own view)."""
    env = {k: v for k, v in os.environ.items() if k not in REDIRECTING_GIT_VARS}
    done = subprocess.run(["git", *args], cwd=path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def fingerprint(repo: Path) -> dict[str, str]:
    """Everything of ``repo`` gitsm could touch: refs, HEAD, index and config bytes, hooks, the
    set of its objects, its work tree's status."""
    gitdir = repo / ".git"
    files = {}
    for name in ("HEAD", "index", "config", "packed-refs"):
        path = gitdir / name
        files[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "-"
    files["refs"] = clean_git(repo, "for-each-ref")
    files["objects"] = clean_git(repo, "count-objects", "-v")
    files["hooks"] = " ".join(sorted(p.name for p in (gitdir / "hooks").iterdir()))
    files["status"] = clean_git(repo, "status", "--porcelain", "--untracked-files=all")
    return files


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Another repository, with every redirecting variable pointing into it."""
    other = tmp_path / "other"
    subprocess.run(["git", "init", "-q", "-b", "main", str(other)], check=True)
    (other / "README").write_text("not a store\n")
    clean_git(other, "add", "README")
    clean_git(other, "commit", "-q", "-m", "other")
    gitdir = other / ".git"
    for var, value in {"GIT_DIR": gitdir, "GIT_WORK_TREE": other,
                       "GIT_INDEX_FILE": gitdir / "index",
                       "GIT_OBJECT_DIRECTORY": gitdir / "objects",
                       "GIT_COMMON_DIR": gitdir}.items():  # fmt: skip
        monkeypatch.setenv(var, str(value))
    yield other


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    assert CliRunner().invoke(app, ["init", str(path)]).exit_code == 0  # before the hostile env
    return path


def gitsm_(store: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--repo", str(store), *args])


def test_the_environment_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE",
                                    "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR"} <= REDIRECTING_GIT_VARS  # fmt: skip
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    monkeypatch.setenv("GIT_INDEX_FILE", "/elsewhere/index")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Kept")  # identity and config are the user's
    env = git_env()
    assert "GIT_DIR" not in env and "GIT_INDEX_FILE" not in env and env["GIT_AUTHOR_NAME"] == "Kept"
    assert git_env(index_file="/private/index")["GIT_INDEX_FILE"] == "/private/index"
    assert git_argv(["status"], git_dir="/g", work_tree="/w") == [
        "git", "--git-dir", "/g", "--work-tree", "/w", "status"
    ]  # fmt: skip


def test_writes_reads_and_verify_act_on_the_store(store: Path, hostile: Path) -> None:
    before = fingerprint(hostile)
    made = gitsm_(store, "create-secret", "--name", "app/db", "--secret-string", VALUE)
    assert made.exit_code == 0, made.stderr
    assert gitsm_(store, "put-secret-value", "--secret-id", "app/db",
                  "--secret-string", VALUE + "-2").exit_code == 0  # fmt: skip
    read = gitsm_(store, "get-secret-value", "--secret-id", "app/db", "--query", "SecretString")
    assert read.exit_code == 0 and read.stdout == f'"{VALUE}-2"\n'
    assert gitsm_(store, "verify").exit_code == 0
    assert gitsm_(store, "verify", "--staged").exit_code == 0  # the hostile index is not ours
    assert clean_git(store, "rev-list", "--count", "HEAD").strip() == "3"
    assert clean_git(store, "status", "--porcelain", "--untracked-files=all") == ""
    assert fingerprint(hostile) == before


def test_verify_staged_takes_a_hook_index_only_from_the_store(
    store: Path, hostile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook_index = store / ".git" / "next-index.lock"  # where git puts a commit's index for hooks
    shutil.copyfile(store / ".git" / "index", hook_index)
    (store / "secrets").mkdir(exist_ok=True)
    (store / "secrets" / "stray.txt").write_text("x\n")
    staging = {k: v for k, v in os.environ.items() if k not in REDIRECTING_GIT_VARS}
    subprocess.run(["git", "add", "secrets/stray.txt"], cwd=store, check=True,
                   env={**staging, "GIT_INDEX_FILE": str(hook_index)})  # fmt: skip
    assert gitsm_(store, "verify", "--staged").exit_code == 0  # GIT_INDEX_FILE is the other's
    monkeypatch.setenv("GIT_INDEX_FILE", str(hook_index))
    flagged = gitsm_(store, "verify", "--staged")
    assert flagged.exit_code == 1 and "secrets/stray.txt" in flagged.stdout + flagged.stderr


def test_hook_install_and_materialize_act_on_the_store(store: Path, hostile: Path) -> None:
    before = fingerprint(hostile)
    assert gitsm_(store, "create-secret", "--name", "app/db",
                  "--secret-string", VALUE).exit_code == 0  # fmt: skip
    installed = gitsm_(store, "hook", "install")
    assert installed.exit_code == 0, installed.stderr
    assert (store / ".git" / "hooks" / "pre-commit").exists()
    (store / ".gitignore").write_text("/out/\n")
    clean_git(store, "add", ".gitignore")
    clean_git(store, "commit", "-q", "-m", "ignore out/")
    done = gitsm_(store, "materialize", "--format", "files", "--file", "db=app/db",
                  "--out", str(store / "out"))  # fmt: skip
    assert done.exit_code == 0, done.stderr  # the store's .gitignore decided, not the other's
    assert (store / "out" / "db").read_text() == VALUE
    refused = gitsm_(store, "materialize", "--format", "files", "--file", "db=app/db",
                     "--out", str(store / "kept"))  # fmt: skip
    assert refused.exit_code != 0 and "not ignored by git" in refused.stderr
    assert fingerprint(hostile) == before


def test_sync_acts_on_the_store(store: Path, hostile: Path, git_daemon: Daemon) -> None:
    name = f"{store.parent.name}-hostile.git"
    clean_git(git_daemon.base, "init", "-q", "--bare", "-b", "main", name)
    url = git_daemon.url(name)
    before = fingerprint(hostile)
    assert gitsm_(store, "create-secret", "--name", "app/db",
                  "--secret-string", VALUE).exit_code == 0  # fmt: skip
    clean_git(store, "remote", "add", "origin", url)
    pushed = gitsm_(store, "sync")
    assert pushed.exit_code == 0, pushed.stderr
    tip = clean_git(store, "rev-parse", "main").strip()
    assert clean_git(store, "ls-remote", url, "refs/heads/main").split()[0] == tip
    quick = run_gitsm(["--repo", str(store), "sync"])  # the quick path, nothing to do
    assert quick.returncode == 0 and f'"After": "{tip}"'.encode() in quick.stdout
    assert fingerprint(hostile) == before


def test_run_git_ignores_the_hostile_repository(store: Path, hostile: Path) -> None:
    shown = run_git(["rev-parse", "--absolute-git-dir"], git_dir=store / ".git", text=True)
    assert shown.stdout.strip() == str(store / ".git")
    found = run_git(["rev-parse", "--show-toplevel"], cwd=store, text=True)
    assert found.stdout.strip() == str(store)
