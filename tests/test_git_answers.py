"""git's answers for a commit (identities, signing config) carry over to the next process only
while their key says they still hold (gitsm.gitrepo.answers).

Every git run is seen through a ``git`` on PATH that logs its arguments and runs the real git; the
commits are read back with the git CLI. A "next process" is the CLI run again, or, in process,
the per-process caches cleared."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gitsm
from gitsm.gitrepo import answers, identity, signing
from tests.conftest import git

GITSM_BIN = Path(sys.executable).with_name("gitsm")


@pytest.fixture
def git_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A logging ``git`` first on PATH; the log it writes (one line per run)."""
    real = shutil.which("git")
    assert real is not None
    bin_dir, log = tmp_path / "logging-bin", tmp_path / "git-runs.log"
    bin_dir.mkdir()
    wrapper = bin_dir / "git"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    home = tmp_path / "home"  # config files of the test's own, so that settle touches no other
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    monkeypatch.setenv("GIT_CONFIG_SYSTEM", str(tmp_path / "system.gitconfig"))
    log.write_text("")
    return log


def asked(log: Path) -> list[str]:
    """The identity and signing questions git was asked since the log was last emptied."""
    runs = log.read_text().splitlines()
    log.write_text("")
    return [r for r in runs if " var GIT_" in f" {r}" or "config -z --get-regexp" in r]


def settle(gitdir: Path) -> None:
    """Date every config file git reads for ``gitdir`` back a minute (as if edited long ago)."""
    env = dict(os.environ)
    old = time.time() - 60
    for name in identity._config_files(str(gitdir), env):
        assert name.startswith(str(gitdir.parent.parent)), name  # the test's own files only
        if os.path.exists(name):
            os.utime(name, (old, old))


def new_process() -> None:
    """What a new process starts with: no answers kept in memory."""
    identity.clear_cache()
    signing.clear_cache()


def author(path: Path) -> str:
    return git(path, "log", "-1", "--format=%an <%ae>|%cn|%G?").strip()


def test_the_next_process_uses_the_kept_answers(repo_path: Path, git_log: Path) -> None:
    settle(repo_path / ".git")
    new_process()
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="app/db", SecretString="first-value")
    assert len(asked(git_log)) == 3  # the two identities and the signing config
    assert (repo_path / ".git" / "gitsm" / answers.FILE_NAME).exists()
    for n in range(2):
        new_process()
        gitsm.client(repo=repo_path).update_secret(SecretId="app/db", SecretString=f"v{n}")
        assert asked(git_log) == []
        assert author(repo_path) == "Test <test@example.com>|Test|N"
    kept = (repo_path / ".git" / "gitsm" / answers.FILE_NAME).read_text()
    assert "GIT_AUTHOR_NAME" not in kept and str(repo_path) not in kept  # digests, not the key


def test_the_cli_twice_asks_git_once(repo_path: Path, git_log: Path) -> None:
    settle(repo_path / ".git")
    env = {**os.environ, "GITSM_QUICK_READ": "0"}
    for n in range(3):
        done = subprocess.run([str(GITSM_BIN), "--repo", str(repo_path), "create-secret",
                               "--name", f"app/s{n}", "--secret-string", "a-value"],
                              capture_output=True, env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert len(asked(git_log)) == (3 if n == 0 else 0)


def test_a_changed_config_is_asked_again_and_kept_only_once_settled(
    repo_path: Path, git_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.delenv(var)
    git(repo_path, "config", "user.name", "First Name")
    settle(repo_path / ".git")
    new_process()
    gitsm.client(repo=repo_path).create_secret(Name="app/db", SecretString="first-value")
    assert len(asked(git_log)) == 3 and author(repo_path).startswith("First Name")
    git(repo_path, "config", "user.name", "Second Name")  # changed just now
    asked(git_log)
    for n in range(2):  # asked again, and again: a config changed this recently is not kept
        new_process()
        gitsm.client(repo=repo_path).update_secret(SecretId="app/db", SecretString=f"v{n}")
        assert len(asked(git_log)) == 3 and author(repo_path).startswith("Second Name")
    settle(repo_path / ".git")
    for n in range(2):
        new_process()
        gitsm.client(repo=repo_path).update_secret(SecretId="app/db", SecretString=f"w{n}")
        assert len(asked(git_log)) == (3 if n == 0 else 0)
        assert author(repo_path).startswith("Second Name")


def test_signing_turned_on_later_is_seen_by_the_next_process(repo_path: Path, git_log: Path,
                                                              tmp_path: Path) -> None:  # fmt: skip
    settle(repo_path / ".git")
    new_process()
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="app/db", SecretString="first-value")
    key = tmp_path / "signing-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    git(repo_path, "config", "gpg.format", "ssh")
    git(repo_path, "config", "user.signingkey", str(key))
    git(repo_path, "config", "commit.gpgsign", "true")
    settle(repo_path / ".git")
    new_process()
    gitsm.client(repo=repo_path).update_secret(SecretId="app/db", SecretString="signed-value")
    raw = git(repo_path, "cat-file", "commit", "HEAD")
    assert "gpgsig -----BEGIN SSH SIGNATURE-----" in raw


@pytest.mark.parametrize("how", ["include", "includeIf", "date", "env-include"])
def test_what_the_key_cannot_tell_is_never_kept(
    repo_path: Path, git_log: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, how: str
) -> None:
    other = tmp_path / "included.gitconfig"
    other.write_text("[user]\n\temail = included@example.com\n")
    if how == "include":
        git(repo_path, "config", "include.path", str(other))
    elif how == "includeIf":
        git(repo_path, "config", f"includeIf.gitdir:{repo_path}/.path", str(other))
    elif how == "date":
        monkeypatch.setenv("GIT_AUTHOR_DATE", "2020-01-02T03:04:05Z")
    else:
        monkeypatch.setenv("GIT_CONFIG_PARAMETERS", f"'include.path'='{other}'")
    settle(repo_path / ".git")
    for n in range(2):
        new_process()
        gitsm.client(repo=repo_path).create_secret(Name=f"app/s{n}", SecretString="a-value")
        assert len(asked(git_log)) == 3
    assert not (repo_path / ".git" / "gitsm" / answers.FILE_NAME).exists()


def test_a_damaged_answers_file_is_ignored(repo_path: Path, git_log: Path) -> None:
    settle(repo_path / ".git")
    (repo_path / ".git" / "gitsm").mkdir(exist_ok=True)
    kept = repo_path / ".git" / "gitsm" / answers.FILE_NAME
    for junk in ("{not json", '{"format": "gitsm-git-answers-1", "answers": []}', "[1, 2]"):
        kept.write_text(junk)
        new_process()
        gitsm.client(repo=repo_path).create_secret(Name=f"app/{len(junk)}", SecretString="v")
        assert len(asked(git_log)) == 3
    key = identity.cache_key(repo_path / ".git")
    data = kept.read_text().replace('"Test"', "42")  # a kept identity of the wrong type
    kept.write_text(data)
    assert answers.recall(repo_path / ".git", key, "ident") is not None
    new_process()
    gitsm.client(repo=repo_path).create_secret(Name="app/typed", SecretString="v")
    assert any(" var GIT_" in r for r in asked(git_log))
    assert author(repo_path) == "Test <test@example.com>|Test|N"
