"""Commits carry the author and committer that ``git commit`` would record: GIT_AUTHOR_*,
GIT_COMMITTER_*, git's environment config, ``git -c``, repository config, dates; and a write never
fails for want of an identity. Every check reads the commit back through the git CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pygit2
import pytest
from pygit2.enums import ConfigLevel
from typer.testing import CliRunner

import gitsm
from gitsm.cli.app import app
from gitsm.gitrepo import identity
from gitsm.gitrepo.identity import parse_ident
from tests.conftest import git

GITSM_BIN = Path(sys.executable).with_name("gitsm")
IDENTITY_VARS = [
    f"GIT_{side}_{field}" for side in ("AUTHOR", "COMMITTER") for field in ("NAME", "EMAIL", "DATE")
]
LOG_FORMAT = "%an%x00%ae%x00%cn%x00%ce%x00%at%x00%ct%x00%ai%x00%ci"


def last_commit(path: Path) -> dict[str, str]:
    """Author, committer and dates of the branch tip, as the git CLI reads them."""
    fields = git(path, "log", "-1", f"--format={LOG_FORMAT}").rstrip("\n").split("\0")
    keys = ["an", "ae", "cn", "ce", "at", "ct", "author_iso", "committer_iso"]
    return dict(zip(keys, fields, strict=True))


def no_identity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No identity anywhere: no variables, an empty HOME, no system or global config."""
    home = tmp_path / "empty-home"
    home.mkdir(exist_ok=True)
    for var in [*IDENTITY_VARS, "EMAIL", "XDG_CONFIG_HOME", "GIT_CONFIG_GLOBAL",
                "GIT_CONFIG_SYSTEM", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT"]:  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def env_config(monkeypatch: pytest.MonkeyPatch, **pairs: str) -> None:
    """Give git config through GIT_CONFIG_COUNT / GIT_CONFIG_KEY_n / GIT_CONFIG_VALUE_n."""
    monkeypatch.setenv("GIT_CONFIG_COUNT", str(len(pairs)))
    for n, (key, value) in enumerate(pairs.items()):
        monkeypatch.setenv(f"GIT_CONFIG_KEY_{n}", key.replace("_", "."))
        monkeypatch.setenv(f"GIT_CONFIG_VALUE_{n}", value)


def test_author_and_committer_from_the_environment_differ(
    any_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ada Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ada@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "CI Bot")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ci-bot@example.org")
    client = gitsm.client(repo=any_path)
    client.create_secret(Name="app/db", SecretString="first-value")
    described = client.describe_secret(SecretId="app/db")
    got = last_commit(any_path)
    assert (got["an"], got["ae"]) == ("Ada Author", "ada@example.com")
    assert (got["cn"], got["ce"]) == ("CI Bot", "ci-bot@example.org")
    # both sides carry the write's own time: the manifest's timestamp, in UTC
    stamp = str(int(described["LastChangedDate"].timestamp()))
    assert got["at"] == got["ct"] == stamp
    assert got["author_iso"].endswith(" +0000") and got["committer_iso"].endswith(" +0000")


def test_git_author_date_is_honoured_and_the_committer_keeps_the_write_time(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2001-02-03T04:05:06+0130")
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="dated", SecretString="some-value")
    described = client.describe_secret(SecretId="dated")
    got = last_commit(repo_path)
    assert got["author_iso"] == "2001-02-03 04:05:06 +0130"
    assert got["at"] == str(int(datetime(2001, 2, 3, 2, 35, 6, tzinfo=UTC).timestamp()))
    assert got["ct"] == str(int(described["LastChangedDate"].timestamp()))
    monkeypatch.setenv("GIT_COMMITTER_DATE", "@1234567890 -0700")
    client.update_secret(SecretId="dated", Description="second")
    got = last_commit(repo_path)
    assert got["ct"] == "1234567890" and got["committer_iso"].endswith(" -0700")
    assert got["author_iso"] == "2001-02-03 04:05:06 +0130"


def test_identity_from_git_config_in_the_environment(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_identity(monkeypatch, tmp_path)
    env_config(monkeypatch, user_name="Env Config", user_email="env-config@example.com")
    gitsm.client(repo=repo_path).create_secret(Name="a", SecretString="value-one")
    got = last_commit(repo_path)
    assert (got["an"], got["ae"], got["cn"], got["ce"]) == (
        "Env Config", "env-config@example.com", "Env Config", "env-config@example.com",
    )  # fmt: skip
    # author.* and committer.* win over user.*, each for its own side
    env_config(monkeypatch, user_name="U", user_email="u@example.com",
               author_name="Writer", committer_email="robot@example.com")  # fmt: skip
    gitsm.client(repo=repo_path).create_secret(Name="b", SecretString="value-two")
    got = last_commit(repo_path)
    assert (got["an"], got["ae"]) == ("Writer", "u@example.com")
    assert (got["cn"], got["ce"]) == ("U", "robot@example.com")


def test_identity_from_git_dash_c(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_identity(monkeypatch, tmp_path)
    # what git itself hands a program it runs for `git -c ... <alias>`
    shown = subprocess.run(
        ["git", "-c", "user.name=Dash C", "-c", "user.email=dash-c@example.com",
         "-c", "alias.show-params=!printenv GIT_CONFIG_PARAMETERS", "show-params"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert "user.name" in shown
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", shown)
    gitsm.client(repo=repo_path).create_secret(Name="c", SecretString="value-three")
    got = last_commit(repo_path)
    assert (got["an"], got["ae"], got["cn"], got["ce"]) == (
        "Dash C", "dash-c@example.com", "Dash C", "dash-c@example.com",
    )  # fmt: skip


def test_repository_config_and_its_later_change(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_identity(monkeypatch, tmp_path)
    git(repo_path, "config", "user.name", "Repo Local")
    git(repo_path, "config", "user.email", "local@example.com")
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="d", SecretString="value-four")
    assert last_commit(repo_path)["an"] == "Repo Local"
    # the same process notices a config change made between two writes
    git(repo_path, "config", "user.name", "Renamed Local")
    client.update_secret(SecretId="d", Description="after the rename")
    got = last_commit(repo_path)
    assert (got["an"], got["cn"], got["ce"]) == ("Renamed Local", "Renamed Local",
                                                 "local@example.com")  # fmt: skip


def test_linked_worktree_reads_the_main_repository_config(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_identity(monkeypatch, tmp_path)
    git(repo_path, "config", "user.name", "Shared Config")
    git(repo_path, "config", "user.email", "shared@example.com")
    linked = tmp_path / "linked"
    git(repo_path, "worktree", "add", "-q", "-b", "feature", str(linked))
    gitsm.client(repo=linked).create_secret(Name="e", SecretString="value-five")
    got = last_commit(linked)
    assert git(linked, "log", "-1", "--format=%s").strip() == "CreateSecret e"
    assert (got["an"], got["ae"], got["cn"]) == ("Shared Config", "shared@example.com",
                                                 "Shared Config")  # fmt: skip


def test_no_identity_anywhere_falls_back_without_failing(
    any_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_identity(monkeypatch, tmp_path)
    # git refuses an identity it would guess from the user and host names when told to
    env_config(monkeypatch, user_useConfigOnly="true")
    client = gitsm.client(repo=any_path)
    client.create_secret(Name="f", SecretString="value-six")
    got = last_commit(any_path)
    assert (got["an"], got["ae"], got["cn"], got["ce"]) == (
        "gitsm", "gitsm@localhost", "gitsm", "gitsm@localhost",
    )  # fmt: skip


def test_nothing_configured_does_what_git_commit_would(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without any identity git either guesses one from the host (when the host has a domain
    name) or refuses; gitsm records the guess in the first case and its fallback in the second."""
    no_identity(monkeypatch, tmp_path)
    for var in [k for k in os.environ if k.startswith("GIT_CONFIG_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    asked = subprocess.run(["git", "var", "GIT_AUTHOR_IDENT"], cwd=repo_path,
                           capture_output=True, text=True)  # fmt: skip
    gitsm.client(repo=repo_path).create_secret(Name="g", SecretString="value-seven")
    got = last_commit(repo_path)
    if asked.returncode == 0:
        name, email, _, _ = parse_ident(asked.stdout) or ("", "", 0, 0)
        assert (got["an"], got["ae"]) == (name, email)
    else:
        assert (got["an"], got["ae"], got["cn"], got["ce"]) == (
            "gitsm", "gitsm@localhost", "gitsm", "gitsm@localhost",
        )  # fmt: skip


@pytest.fixture
def libgit2_sees_no_user_config(tmp_path: Path) -> Iterator[None]:
    """Point libgit2's global, XDG and system config search at an empty directory (libgit2 fixes
    them when it loads, from the HOME of that moment), and put them back afterwards."""
    levels = (ConfigLevel.GLOBAL, ConfigLevel.XDG, ConfigLevel.SYSTEM)
    saved = [pygit2.settings.search_path[level] for level in levels]
    empty = tmp_path / "libgit2-empty"
    empty.mkdir()
    for level in levels:
        pygit2.settings.search_path[level] = str(empty)
    try:
        yield
    finally:
        for level, value in zip(levels, saved, strict=True):
            pygit2.settings.search_path[level] = value


@pytest.mark.usefixtures("libgit2_sees_no_user_config")
def test_without_git_the_repository_config_or_the_fallback_is_used(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_identity(monkeypatch, tmp_path)
    path = os.environ["PATH"]
    nowhere = tmp_path / "no-git"
    nowhere.mkdir()
    client = gitsm.client(repo=repo_path)
    monkeypatch.setenv("PATH", str(nowhere))
    client.create_secret(Name="h", SecretString="value-eight")
    monkeypatch.setenv("PATH", path)
    got = last_commit(repo_path)
    assert (got["an"], got["ae"], got["cn"], got["ce"]) == (
        "gitsm", "gitsm@localhost", "gitsm", "gitsm@localhost",
    )  # fmt: skip
    git(repo_path, "config", "user.name", "Libgit2 Reads This")
    git(repo_path, "config", "user.email", "libgit2@example.com")
    monkeypatch.setenv("PATH", str(nowhere))
    client.update_secret(SecretId="h", Description="no git on PATH")
    monkeypatch.setenv("PATH", path)
    got = last_commit(repo_path)
    assert (got["an"], got["ae"], got["cn"]) == ("Libgit2 Reads This", "libgit2@example.com",
                                                 "Libgit2 Reads This")  # fmt: skip


def test_git_runs_once_per_identity_setting(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    start = identity._start  # each call starts git var for both sides

    def counting(gitdir: Path) -> dict[str, Any]:
        calls.append(gitdir)
        return start(gitdir)

    monkeypatch.setattr(identity, "_start", counting)
    identity.clear_cache()
    client = gitsm.client(repo=repo_path)
    for n in range(3):
        client.create_secret(Name=f"i{n}", SecretString="value-nine")
    assert len(calls) == 1
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Someone Else")
    client.create_secret(Name="i3", SecretString="value-nine")
    assert len(calls) == 2 and last_commit(repo_path)["cn"] == "Someone Else"


def test_gitsm_log_shows_author_and_committer(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ada Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ada@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "CI Bot")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ci-bot@example.org")
    written = subprocess.run(
        [str(GITSM_BIN), "--repo", str(repo_path), "create-secret", "--name", "logged",
         "--secret-string", "value-ten"], capture_output=True, text=True,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    result = CliRunner().invoke(app, ["--repo", str(repo_path), "log"])
    assert result.exit_code == 0, result.stderr
    newest, *older = json.loads(result.stdout)["Operations"]
    assert newest["Operation"] == "CreateSecret"
    assert newest["Author"] == "Ada Author <ada@example.com>"
    assert newest["Committer"] == "CI Bot <ci-bot@example.org>"
    assert older[-1]["Author"] == older[-1]["Committer"] == "Test <test@example.com>"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Ada Q. Author <ada@example.com> 1700000000 +0000", ("Ada Q. Author", "ada@example.com",
                                                              1700000000, 0)),
        ("Bot <> 5 -0130\n", ("Bot", "", 5, -90)),
        ("Ünï Cödé <u@example.com> 12 +0545", ("Ünï Cödé", "u@example.com", 12, 345)),
        ("<x@example.com> 1 +0000", None),
        ("No Email 1 +0000", None),
        ("", None),
    ],
)  # fmt: skip
def test_parse_ident(line: str, expected: tuple[str, str, int, int] | None) -> None:
    assert parse_ident(line) == expected
