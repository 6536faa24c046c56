"""Hooks and examples in real repositories: the pre-commit shim (installed by gitsm.hookinstall),
the server-side pre-receive example, the pre-commit framework's hooks, and the examples/ scripts.

The hook calls the installed ``gitsm`` CLI, and so do these tests: ``gitsm verify`` and ``gitsm hook
install`` are the real commands, never a stand-in.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gitsm.errors import StoreError
from gitsm.hookinstall import PRE_COMMIT, install, uninstall
from gitsm.store import SecretStore
from tests.conftest import git

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).with_name("gitsm")
DB = "correct-horse-battery-staple"


@pytest.fixture
def hook_env() -> dict[str, str]:
    """The environment git runs the hook in: the hook finds the real CLI (no GITSM override)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_DIR")}
    env["GITSM_FSYNC"] = "0"
    env.pop("GITSM", None)
    return env


@pytest.fixture
def store_repo(repo_path: Path) -> Path:
    """A checkout store with a secret, written by gitsm operations."""
    SecretStore.open(repo_path).create_secret("prod/db/password", secret_string=DB)
    return repo_path


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` and capture its output (no check)."""
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def commit(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``git commit -m msg ARGS`` with the hook active; the hook's output (git sends all of it to
    stderr) is in ``stderr``."""
    done = run(["git", "commit", "-m", "change", *args], repo, env)
    return subprocess.CompletedProcess(done.args, done.returncode, "", done.stdout + done.stderr)


# -- the shim and its installer ----------------------------------------------------------------


def test_the_shipped_shim_is_what_gets_installed() -> None:
    shipped = ROOT / "hooks" / "pre-commit"
    assert shipped.read_text() == PRE_COMMIT
    for script in (shipped, ROOT / "hooks" / "pre-receive"):
        assert script.stat().st_mode & stat.S_IXUSR
        for shell in ("sh", "dash"):
            if shutil.which(shell):
                assert run([shell, "-n", str(script)], ROOT).returncode == 0


def test_install_is_idempotent_and_updates_its_own_hook(store_repo: Path) -> None:
    first = install(store_repo)
    hook = store_repo / ".git" / "hooks" / "pre-commit"
    assert (first.hook, first.action, first.chained) == (hook, "installed", None)
    assert hook.stat().st_mode & 0o777 == 0o755
    assert f"installed_python={shlex.quote(sys.executable)}" in hook.read_text()
    assert install(store_repo).action == "unchanged"
    assert install(store_repo, python="/opt/other/python").action == "updated"
    assert "installed_python=/opt/other/python" in hook.read_text()
    assert "installed" in str(first) and str(hook) in str(first)


def test_install_respects_core_hooks_path(store_repo: Path) -> None:
    git(store_repo, "config", "core.hooksPath", "ci/hooks")
    result = install(store_repo)
    assert result.hook == store_repo / "ci" / "hooks" / "pre-commit"
    assert result.hook.is_file()
    assert not (store_repo / ".git" / "hooks" / "pre-commit").exists()


def test_install_chains_an_existing_hook_and_runs_it_first(
    store_repo: Path, hook_env: dict[str, str]
) -> None:
    hooks = store_repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "pre-commit").write_text('#!/bin/sh\necho "local hook ran" >> "$PWD/local.log"\n')
    (hooks / "pre-commit").chmod(0o755)
    result = install(store_repo)
    assert result.chained == hooks / "pre-commit.local"
    assert "local hook ran" in (hooks / "pre-commit.local").read_text()
    assert install(store_repo).chained == hooks / "pre-commit.local"  # still chained, not doubled
    (store_repo / "README.md").write_text("hello\n")
    git(store_repo, "add", "README.md")
    done = commit(store_repo, hook_env)
    assert done.returncode == 0, done.stderr
    assert (store_repo / "local.log").read_text() == "local hook ran\n"
    (hooks / "pre-commit.local").write_text('#!/bin/sh\necho "local says no" >&2\nexit 3\n')
    (store_repo / "README.md").write_text("hello again\n")
    git(store_repo, "add", "README.md")
    refused = commit(store_repo, hook_env)
    assert refused.returncode != 0 and "local says no" in refused.stderr


def test_install_never_overwrites_a_foreign_hook(store_repo: Path) -> None:
    hooks = store_repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    (hooks / "pre-commit.local").write_text("#!/bin/sh\nexit 1\n")
    with pytest.raises(StoreError, match="cannot keep both"):
        install(store_repo)
    assert (hooks / "pre-commit").read_text() == "#!/bin/sh\nexit 0\n"
    assert (hooks / "pre-commit.local").read_text() == "#!/bin/sh\nexit 1\n"


def test_uninstall_puts_the_earlier_hook_back(store_repo: Path, tmp_path: Path) -> None:
    hooks = store_repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    install(store_repo)
    assert uninstall(store_repo) == hooks / "pre-commit"
    assert (hooks / "pre-commit").read_text() == "#!/bin/sh\nexit 0\n"
    assert not (hooks / "pre-commit.local").exists()
    assert uninstall(store_repo) is None  # not gitsm's: left alone
    with pytest.raises(StoreError, match="No git repository"):
        install(tmp_path / "nowhere")


# -- commits with the hook installed -----------------------------------------------------------


def test_a_leak_is_refused_naming_file_and_line_never_the_value(
    store_repo: Path, hook_env: dict[str, str]
) -> None:
    install(store_repo)
    (store_repo / "config").mkdir()
    (store_repo / "config" / "app.env").write_text(f"DB_HOST=db\nDB_PASSWORD={DB}\n")
    git(store_repo, "add", "config/app.env")
    refused = commit(store_repo, hook_env)
    assert refused.returncode != 0
    assert (
        "config/app.env:2: contains the AWSCURRENT value of secret prod/db/password"
        in refused.stderr
    )
    assert DB not in refused.stdout + refused.stderr
    # also through git's temporary indexes: `git commit -a` and `git commit <path>`
    (store_repo / "config" / "app.env").write_text(f"DB_PASSWORD={DB}\nX=1\n")
    assert "config/app.env:1" in commit(store_repo, hook_env, "-a").stderr
    assert "config/app.env:1" in commit(store_repo, hook_env, "config/app.env").stderr
    assert git(store_repo, "log", "--format=%s", "-1").strip() == "CreateSecret prod/db/password"


def test_the_hook_reads_a_split_index(store_repo: Path, hook_env: dict[str, str]) -> None:
    """With git's split index (core.splitIndex), which libgit2 cannot read, the hook still sees
    what is staged, in the index and in git's temporary indexes, and a clean commit passes."""
    git(store_repo, "config", "core.splitIndex", "true")
    git(store_repo, "update-index", "--split-index")
    install(store_repo)
    (store_repo / "config").mkdir()
    (store_repo / "config" / "app.env").write_text(f"DB_PASSWORD={DB}\n")
    git(store_repo, "add", "config/app.env")
    assert b"link" in (store_repo / ".git" / "index").read_bytes()
    refused = commit(store_repo, hook_env)
    assert refused.returncode != 0 and "config/app.env:1" in refused.stderr, refused.stderr
    (store_repo / "config" / "app.env").write_text(f"X=1\nDB_PASSWORD={DB}\n")
    assert "config/app.env:2" in commit(store_repo, hook_env, "-a").stderr
    assert "config/app.env:2" in commit(store_repo, hook_env, "config/app.env").stderr
    (store_repo / "config" / "app.env").write_text("DB_HOST=db\n")
    git(store_repo, "add", "config/app.env")
    done = commit(store_repo, hook_env)
    assert done.returncode == 0, done.stderr
    assert list((store_repo / ".git").glob("sharedindex.*"))
    SecretStore.open(store_repo).update_secret("prod/db/password", secret_string="rotated-123456")
    assert git(store_repo, "status", "--porcelain") == ""


def test_plaintext_in_the_secrets_tree_and_a_broken_manifest_are_refused(
    store_repo: Path, hook_env: dict[str, str]
) -> None:
    install(store_repo)
    (store_repo / "secrets" / "prod" / "db" / "password.txt").write_text("hunter2-not-managed\n")
    git(store_repo, "add", "-A")
    refused = commit(store_repo, hook_env)
    assert refused.returncode != 0
    assert "secrets/prod/db/password.txt: is not a gitsm file" in refused.stderr
    git(store_repo, "rm", "-q", "--cached", "secrets/prod/db/password.txt")
    manifest = store_repo / "secrets" / "prod" / "db" / "password" / "~secret.yaml"
    manifest.write_text(manifest.read_text().replace("AWSCURRENT", "CUSTOM"))
    git(store_repo, "add", str(manifest))
    refused = commit(store_repo, hook_env)
    assert refused.returncode != 0
    assert "secrets/prod/db/password/~secret.yaml: " in refused.stderr
    assert "no version carries AWSCURRENT" in refused.stderr


def test_gitsm_operations_and_clean_commits_pass(
    store_repo: Path, hook_env: dict[str, str]
) -> None:
    install(store_repo)
    store = SecretStore.open(store_repo)
    store.update_secret("prod/db/password", secret_string="rotated-value-1234")
    store.create_secret("prod/api", secret_string='{"token": "tok-0123456789"}')
    assert git(store_repo, "status", "--porcelain") == ""
    (store_repo / "config").mkdir()
    (store_repo / "config" / "app.env").write_text("DB_HOST=db\n# DB_PASSWORD from gitsm exec\n")
    git(store_repo, "add", "-A")
    done = commit(store_repo, hook_env)
    assert done.returncode == 0, done.stderr


def test_the_hook_fails_closed_without_gitsm(store_repo: Path) -> None:
    install(store_repo, python=None)
    env = {k: v for k, v in os.environ.items() if k != "GITSM"}
    env["PATH"] = "/usr/bin:/bin"
    (store_repo / "README.md").write_text("x\n")
    git(store_repo, "add", "README.md")
    refused = commit(store_repo, env)
    assert refused.returncode != 0 and "gitsm is not installed" in refused.stderr


def test_the_cli_installs_the_hook(store_repo: Path) -> None:
    done = run([str(CLI), "hook", "install"], store_repo)
    assert done.returncode == 0, done.stderr
    assert (store_repo / ".git" / "hooks" / "pre-commit").read_text().startswith(PRE_COMMIT[:40])


# -- server side -------------------------------------------------------------------------------


def test_pre_receive_verifies_every_pushed_commit(
    store_repo: Path, tmp_path: Path, hook_env: dict[str, str]
) -> None:
    remote = tmp_path / "remote.git"
    run(["git", "init", "-q", "--bare", str(remote)], tmp_path)
    shutil.copy(ROOT / "hooks" / "pre-receive", remote / "hooks" / "pre-receive")
    env = {**hook_env, "PATH": f"{CLI.parent}{os.pathsep}{hook_env['PATH']}"}
    git(store_repo, "remote", "add", "origin", str(remote))
    pushed = run(["git", "push", "-q", "origin", "main"], store_repo, env)
    assert pushed.returncode == 0, pushed.stderr
    (store_repo / "secrets" / "oops.txt").write_text("plaintext\n")
    git(store_repo, "add", "-A")
    git(store_repo, "commit", "-q", "--no-verify", "-m", "oops")
    (store_repo / "README.md").write_text("later, clean\n")
    git(store_repo, "add", "-A")
    git(store_repo, "commit", "-q", "--no-verify", "-m", "clean on top")
    refused = run(["git", "push", "origin", "main"], store_repo, env)
    assert refused.returncode != 0
    assert "secrets/oops.txt: is not a gitsm file" in refused.stderr
    assert "push refused" in refused.stderr
    assert (
        run(["git", "rev-parse", "main"], remote).stdout
        == run(["git", "rev-parse", "main~2"], store_repo).stdout
    )


# -- examples ----------------------------------------------------------------------------------


def test_the_quickstart_runs_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_DIR")}
    env["GITSM_FSYNC"] = "0"
    env.pop("GITSM", None)
    env["PATH"] = f"{CLI.parent}{os.pathsep}{env['PATH']}"
    done = run(
        ["sh", str(ROOT / "examples" / "quickstart.sh"), str(tmp_path / "qs")], tmp_path, env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "config/app.env:3: contains the AWSCURRENT value of secret prod/db/password" in done.stdout
    )
    assert DB not in done.stdout + done.stderr


def _gitsm_lines(text: str) -> list[list[str]]:
    return [
        shlex.split(line.strip())[:]
        for line in text.splitlines()
        if line.strip().startswith("gitsm ")
    ]


def test_the_ci_workflows_use_documented_commands_and_ci_held_keys(store_repo: Path) -> None:
    gh = yaml.safe_load((ROOT / "examples" / "github-actions.yml").read_text())
    gl = yaml.safe_load((ROOT / "examples" / "gitlab-ci.yml").read_text())
    gh_runs = [s.get("run", "") for job in gh["jobs"].values() for s in job["steps"]]
    gl_runs = [
        line for job in gl.values() if isinstance(job, dict) for line in job.get("script", [])
    ]
    assert gh["jobs"]["deploy"]["env"]["GITSM_AGE_KEY"] == "${{ secrets.GITSM_AGE_KEY }}"
    assert "GITSM_AGE_IDENTITY_FILE" in (ROOT / "examples" / "gitlab-ci.yml").read_text()
    commands = [argv for text in gh_runs + gl_runs for argv in _gitsm_lines(text)]
    assert {argv[1] for argv in commands} == {"verify", "materialize", "exec"}
    for argv in commands:
        if argv[1] == "materialize":
            assert argv[2:4] == ["--spec", "gitsm.materialize.yaml"]
        if argv[1] == "exec":
            assert "--" in argv and all(
                "=" in argv[i + 1] for i, a in enumerate(argv) if a == "--env"
            )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    for sub in sorted({argv[1] for argv in commands}):  # each one is a command of the CLI
        helped = run([str(CLI), sub, "--help"], store_repo, env)
        assert helped.returncode == 0, helped.stderr
    env["GITSM_REPO"] = str(store_repo)
    for line in {tuple(argv) for argv in commands if argv[1] == "verify"}:
        done = run([str(CLI), *line[1:]], store_repo, env)  # on a store gitsm wrote
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_kubernetes_example_is_consistent() -> None:
    k8s = ROOT / "examples" / "kubernetes"
    (deployment,) = list(yaml.safe_load_all((k8s / "deployment.yaml").read_text()))
    refs = {
        (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for c in deployment["spec"]["template"]["spec"]["containers"]
        for e in c["env"]
        if "valueFrom" in e
    }
    assert refs == {("app-db", "username"), ("app-db", "password")}
    script = (k8s / "deploy.sh").read_text()
    assert (
        "kubectl create secret generic app-db" in script and "username=%s\\npassword=%s" in script
    )
    assert run(["sh", "-n", str(k8s / "deploy.sh")], k8s).returncode == 0
    assert "kubectl" in (k8s / "README.md").read_text()


# -- the pre-commit framework ------------------------------------------------------------------

PRE_COMMIT_BIN = Path(sys.executable).with_name("pre-commit")
needs_pre_commit = pytest.mark.skipif(
    not PRE_COMMIT_BIN.exists(), reason="pre-commit is not installed"
)


@needs_pre_commit
def test_the_hook_manifest_and_the_example_config_are_valid() -> None:
    assert (
        run([str(PRE_COMMIT_BIN), "validate-manifest", ".pre-commit-hooks.yaml"], ROOT).returncode
        == 0
    )
    example = ROOT / "examples" / "pre-commit-config.yaml"
    assert run([str(PRE_COMMIT_BIN), "validate-config", str(example)], ROOT).returncode == 0
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"gitsm-verify", "gitsm-leak-guard", "gitsm-staged"}
    assert all(h["language"] == "python" and h["pass_filenames"] is False for h in hooks)
    used = {h["id"] for r in yaml.safe_load(example.read_text())["repos"] for h in r["hooks"]}
    assert used <= {h["id"] for h in hooks}


@pytest.fixture
def hook_repo() -> Iterator[tuple[Path, str]]:
    """A git repository of this checkout's gitsm, at a stable path and a content-addressed commit,
    so that pre-commit reuses the environment it built for the same sources.

    It lives in this checkout's virtual environment (as does pre-commit's cache), so that test
    runs of other checkouts of gitsm on this machine never rebuild it under this one; a lock keeps
    a concurrent run of the same checkout from doing so.
    """
    in_venv = sys.prefix != sys.base_prefix
    home = Path(sys.prefix) if in_venv else Path.home() / ".cache"
    cache = home / "gitsm-tests"
    cache.mkdir(parents=True, exist_ok=True)
    repo = cache / "hook-repo"
    with open(cache / "hook-repo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield _build_hook_repo(repo)


def _build_hook_repo(repo: Path) -> tuple[Path, str]:
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "gitsm", repo / "gitsm", ignore=shutil.ignore_patterns("__pycache__"))
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
    }
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "gitsm"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    return repo, run(["git", "rev-parse", "HEAD"], repo).stdout.strip()


@needs_pre_commit
def test_the_pre_commit_framework_runs_the_hooks_from_a_local_repo(
    store_repo: Path, hook_repo: tuple[Path, str]
) -> None:
    hook_repo_path, rev = hook_repo
    config = (ROOT / "examples" / "pre-commit-config.yaml").read_text()
    config = config.replace("https://github.com/OWNER/gitsm", str(hook_repo_path)).replace(
        "v0.1.0", rev
    )
    (store_repo / ".pre-commit-config.yaml").write_text(config)
    git(store_repo, "add", ".pre-commit-config.yaml")
    git(store_repo, "commit", "-q", "-m", "pre-commit config")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_DIR")}
    env["PRE_COMMIT_HOME"] = str(hook_repo_path.parent / "pre-commit-home")
    env["GITSM_FSYNC"] = "0"
    built = run([str(PRE_COMMIT_BIN), "install-hooks"], store_repo, env)
    if built.returncode != 0:
        pytest.skip(f"pre-commit could not build the hook environment: {built.stdout[-300:]}")
    assert run([str(PRE_COMMIT_BIN), "install"], store_repo, env).returncode == 0
    (store_repo / "app.env").write_text(f"DB_PASSWORD={DB}\n")
    git(store_repo, "add", "app.env")
    refused = commit(store_repo, env)
    assert refused.returncode != 0
    out = refused.stdout + refused.stderr
    assert "gitsm leak guard" in out and "app.env:1: contains the AWSCURRENT value" in out
    assert DB not in out
    (store_repo / "app.env").write_text("DB_PASSWORD_FROM=prod/db/password\n")
    git(store_repo, "add", "app.env")
    done = commit(store_repo, env)
    assert done.returncode == 0, done.stdout + done.stderr


def test_pre_receive_requires_signed_commits_when_given_allowed_signers(
    store_repo: Path, tmp_path: Path, hook_env: dict[str, str]
) -> None:
    from gitsm.store import SecretStore
    from tests.signing_keys import make_ssh_keys, sign_with

    keys = make_ssh_keys(tmp_path / "keys")
    remote = tmp_path / "signed.git"
    run(["git", "init", "-q", "--bare", str(remote)], tmp_path)
    git(store_repo, "remote", "add", "signed", str(remote))
    assert run(["git", "push", "-q", "signed", "main"], store_repo, hook_env).returncode == 0
    shutil.copy(ROOT / "hooks" / "pre-receive", remote / "hooks" / "pre-receive")
    env = {**hook_env, "PATH": f"{CLI.parent}{os.pathsep}{hook_env['PATH']}",
           "GITSM_ALLOWED_SIGNERS": str(keys.allowed)}  # fmt: skip
    sign_with(store_repo, keys.alice)
    SecretStore.open(store_repo).tag_resource("prod/db/password", [{"Key": "k", "Value": "v"}])
    accepted = run(["git", "push", "-q", "signed", "main"], store_repo, env)
    assert accepted.returncode == 0, accepted.stderr
    git(store_repo, "config", "commit.gpgsign", "false")
    (store_repo / "README.md").write_text("an unsigned change\n")
    git(store_repo, "add", "README.md")
    git(store_repo, "commit", "-q", "--no-verify", "-m", "unsigned")
    refused = run(["git", "push", "signed", "main"], store_repo, env)
    assert refused.returncode != 0 and "is not signed" in refused.stderr, refused.stderr
