"""``gitsm verify`` and ``gitsm hook install|uninstall`` through the CLI, in real repositories.

tests/test_hooks.py runs the same commands from git hooks, the pre-commit framework and the
examples; here are their options, outputs and exit codes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gitsm.hookinstall import MARKER
from tests.cli.conftest import Invoke, run_gitsm
from tests.conftest import git

DB = "correct-horse-battery-staple"


@pytest.fixture
def repo(cli: Invoke, store: Path) -> Path:
    """A checkout store with a string and a JSON secret, written through the CLI."""
    for name, value in (("prod/db", DB), ("prod/api", '{"token": "tok-0123456789abc"}')):
        created = cli("create-secret", "--name", name, "--secret-string", value)
        assert created.exit_code == 0, created.stderr
    return store


def verify(cli: Invoke, *args: str) -> Any:
    return cli("verify", *args)


def stage(repo: Path, path: str, text: str) -> None:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    git(repo, "add", path)


def test_a_store_written_by_gitsm_verifies_quietly(cli: Invoke, repo: Path) -> None:
    for args in ([], ["--rev", "HEAD"], ["--rev", "HEAD~1"], ["--decrypt"], ["--staged"]):
        result = verify(cli, *args)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        assert result.stdout == "" and result.stderr == ""
    assert verify(cli, "--output", "json").stdout == '{\n    "Problems": []\n}\n'


def test_plaintext_in_the_secrets_tree_is_one_line_per_problem(cli: Invoke, repo: Path) -> None:
    stage(repo, "secrets/prod/notes.txt", "not managed\n")
    result = verify(cli, "--staged")
    assert result.exit_code == 1
    assert result.stdout.startswith("secrets/prod/notes.txt: is not a gitsm file (")
    assert result.stdout.count("\n") == 1 and "1 problem(s)" in result.stderr
    assert verify(cli, "--staged", "--leak-guard-only").exit_code == 0
    assert verify(cli).exit_code == 0  # the branch tip is still fine
    git(repo, "commit", "-qm", "oops", "--no-verify")
    assert verify(cli).exit_code == 1
    assert verify(cli, "--rev", "HEAD~1").exit_code == 0


def test_the_tip_check_remembers_a_clean_tree_and_full_checks_it_all(
    cli: Invoke, repo: Path
) -> None:
    assert verify(cli).exit_code == 0
    record = repo / ".git" / "gitsm" / "verified"
    assert git(repo, "rev-parse", "HEAD^{tree}").strip() in record.read_text()
    manifest = repo / "secrets" / "prod" / "db" / "~secret.yaml"
    manifest.write_text(manifest.read_text().replace("AWSCURRENT", "CUSTOM"))
    git(repo, "commit", "-qam", "oops", "--no-verify")
    for args in ([], ["--full"]):  # what changed, then all of it: the same report
        result = verify(cli, *args)
        assert result.exit_code == 1, args
        assert result.stdout.startswith("secrets/prod/db/~secret.yaml: breaks a label invariant")
    assert verify(cli, "--full", "--rev", "HEAD~1").exit_code == 0


def test_a_broken_manifest_is_reported(cli: Invoke, repo: Path) -> None:
    manifest = repo / "secrets" / "prod" / "db" / "~secret.yaml"
    manifest.write_text(manifest.read_text().replace("AWSCURRENT", "CUSTOM"))
    git(repo, "add", "-A")
    result = verify(cli, "--staged", "--no-leak-guard")
    assert result.exit_code == 1
    assert "secrets/prod/db/~secret.yaml: breaks a label invariant" in result.stdout
    data = json.loads(verify(cli, "--staged", "--output", "json").stdout)
    assert data["Problems"][0]["Path"] == "secrets/prod/db/~secret.yaml"
    assert set(data["Problems"][0]) == {"Path", "Problem", "Fix"}


def test_the_leak_guard_names_file_and_line_never_the_value(cli: Invoke, repo: Path) -> None:
    stage(repo, "config/app.env", f"DB_HOST=db\nDB_PASSWORD={DB}\nTOKEN=tok-0123456789abc\n")
    result = verify(cli, "--staged")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        "config/app.env:2: contains the AWSCURRENT value of secret prod/db ("
    )
    assert lines[1].startswith("config/app.env:3: contains JSON key 'token' of the AWSCURRENT")
    assert DB not in result.stdout + result.stderr
    assert verify(cli, "--staged", "--leak-guard-only").exit_code == 1
    assert verify(cli, "--staged", "--no-leak-guard").exit_code == 0
    assert verify(cli).exit_code == 0  # without --staged only the store tree is checked


def test_without_keys_the_leak_guard_says_it_looked_for_nothing(
    cli: Invoke, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage(repo, "config/app.env", f"DB_PASSWORD={DB}\n")
    monkeypatch.setenv("GITSM_HOME", str(tmp_path / "no-keys"))
    result = verify(cli, "--staged")
    assert result.exit_code == 0
    assert "no key at hand for any labeled version; nothing was looked for" in result.stderr
    decrypted = verify(cli, "--decrypt")
    assert decrypted.exit_code == 1 and "does not decrypt" in decrypted.stdout
    assert DB not in decrypted.stdout + decrypted.stderr


def test_bad_arguments_and_no_repository(cli: Invoke, repo: Path, tmp_path: Path) -> None:
    for args, words in (
        (["--rev", "HEAD", "--staged"], "not allowed with argument --rev"),
        (["--leak-guard-only"], "add --staged"),
        (["--staged", "--leak-guard-only", "--no-leak-guard"], "not allowed with"),
        (["--staged", "--full"], "argument --full: not allowed with argument --staged"),
    ):
        result = verify(cli, *args)
        assert result.exit_code == 252 and words in result.stderr, (args, result.stderr)
    unknown = verify(cli, "--rev", "no-such-rev")
    assert unknown.exit_code == 253 and "no-such-rev" in unknown.stderr
    missing = run_gitsm(["verify", "--repo", str(tmp_path / "nowhere")])
    assert missing.returncode == 253


def test_hook_install_chains_and_uninstall_restores(cli: Invoke, repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    earlier = hooks / "pre-commit"
    earlier.write_text("#!/bin/sh\necho earlier hook ran\n")
    earlier.chmod(0o755)
    subprocess.run(["git", "-C", str(repo), "config", "--unset-all", "merge.gitsm.driver"])
    installed = json.loads(cli("hook", "install").stdout)
    assert installed == {
        "Hook": str(earlier),
        "Action": "installed",
        "ChainedHook": str(hooks / "pre-commit.local"),
        "MergeDriver": "configured",  # the merge driver is registered with the hook
    }
    driver = subprocess.run(["git", "-C", str(repo), "config", "merge.gitsm.driver"],
                            capture_output=True, text=True).stdout  # fmt: skip
    assert "-m gitsm.mergedriver %O %A %B %P" in driver
    assert MARKER in earlier.read_text()
    again = cli("hook", "install", "--query", "Action", "--output", "text")
    assert again.exit_code == 0 and again.stdout == "unchanged\n"
    removed = json.loads(cli("hook", "uninstall").stdout)
    assert removed == {"Hook": str(earlier), "Removed": True}
    assert earlier.read_text() == "#!/bin/sh\necho earlier hook ran\n"
    assert json.loads(cli("hook", "uninstall").stdout)["Removed"] is False


def test_hook_install_respects_core_hooks_path(cli: Invoke, repo: Path) -> None:
    git(repo, "config", "core.hooksPath", "githooks")
    result = cli("hook", "install")
    assert result.exit_code == 0, result.stderr
    assert (repo / "githooks" / "pre-commit").read_text().startswith("#!/bin/sh\n" + MARKER)


def test_the_hook_installed_by_the_cli_refuses_a_leak_and_passes_clean_commits(
    repo: Path,
) -> None:
    """The whole chain through real processes: ``gitsm hook install``, then ``git commit``."""
    done = run_gitsm(["hook", "install"], cwd=repo)
    assert done.returncode == 0, done.stderr
    env = {k: v for k, v in os.environ.items() if k != "GITSM"}
    stage(repo, "config/app.env", f"DB_PASSWORD={DB}\n")
    refused = subprocess.run(["git", "commit", "-m", "leak"], cwd=repo, env=env,
                             capture_output=True, text=True)  # fmt: skip
    assert refused.returncode != 0
    assert "config/app.env:1: contains the AWSCURRENT value of secret prod/db" in refused.stderr
    assert DB not in refused.stdout + refused.stderr
    stage(repo, "config/app.env", "DB_PASSWORD_FROM=prod/db\n")
    ok = subprocess.run(["git", "commit", "-qm", "clean"], cwd=repo, env=env,
                        capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0, ok.stderr


def test_python_dash_m_gitsm_runs_the_cli(repo: Path) -> None:
    sub = repo / "secrets"  # run from inside the repository: the store is found around it
    done = subprocess.run([sys.executable, "-m", "gitsm", "verify"], cwd=sub,
                          capture_output=True, text=True, env=dict(os.environ))  # fmt: skip
    assert done.returncode == 0, done.stderr
    helped = subprocess.run([sys.executable, "-m", "gitsm", "--help"], capture_output=True,
                            text=True)  # fmt: skip
    assert helped.returncode == 0 and "Usage: gitsm " in helped.stdout
    for word in ("verify", "keys", "hook"):
        assert f"  {word} " in helped.stdout
