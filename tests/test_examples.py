"""The CI examples run locally, as their CI would run them (examples/README.md).

A store is set up the way examples/github-actions.yml and examples/gitlab-ci.yml expect: secrets
encrypted for an age recipient only (the local key ring is empty, so the CI's identity is the only
way to read them), ``gitsm.materialize.yaml`` at its root, ``kubernetes/`` beside it. Then the
workflow files are parsed and their ``run:`` steps / ``script:`` lines executed in that checkout by
a small local runner: the identity comes in ``GITSM_AGE_KEY`` (a GitHub secret) or in the file that
``GITSM_AGE_IDENTITY_FILE`` names (a GitLab "File" variable), ``$GITHUB_ENV`` is a file the runner
reads after each step, ``$RUNNER_TEMP`` a directory it empties at the end of the job.

Stubbed, and only these: ``uses:`` steps (checkout and setup-python; the checkout is already there),
``pip`` (the venv's gitsm is on PATH; the stub records that the job installs from its checkout),
``kubectl`` (a fake that emulates ``create secret generic --dry-run=client -o yaml`` and records
what is applied), and ``scripts/migrate.sh``, the job's own work, which records digests of what it
was given (never a value).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyrage import x25519

from tests.conftest import git

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CLI = Path(sys.executable).with_name("gitsm")

DB_USER = "svc-orders-db"
DB_PASSWORD = "pa ss%w0rd'\"$HOME=x`id`"  # nothing on the way may interpret it
PAYMENTS = {
    "token": "tok_live_4f9a8c7e2b1d",
    "account": "acme-payments",
    "signing_key": (
        "-----BEGIN TEST KEY-----\nMC4CAQAwBQYDK2VwBCIEIGdpdHNtLWV4YW1wbGU\n-----END TEST KEY-----"
    ),
}
TLS_KEY = b"0\x82\x01\x00\x00\xff" + bytes(
    range(256)
)  # a SecretBinary, NUL and high bytes included
EXPECTED_ENV = {
    "DB_USER": DB_USER,
    "DB_PASSWORD": DB_PASSWORD,
    "PAYMENTS_TOKEN": PAYMENTS["token"],
    "PAYMENTS_ACCOUNT": PAYMENTS["account"],
    "PAYMENTS_SIGNING_KEY": PAYMENTS["signing_key"],
}
EXPECTED_FILES = {"db/password": DB_PASSWORD.encode(), "tls/client.key": TLS_KEY}
PLAINTEXTS = [v.encode() for v in EXPECTED_ENV.values()] + [
    PAYMENTS["signing_key"].splitlines()[1].encode(),
    TLS_KEY,
]

# Left out of the jobs' environment: the CI's own variables and keys come from the local runner.
SCRUBBED = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX",
    "GITSM_AGE",
    "GITSM_LOCAL_KEYS",
    "GITSM_REPO",
    "CI",
    "GITHUB",
    "RUNNER",
)

FAKE_KUBECTL = '''#!{python}
"""A fake kubectl: records its argv (and what it applies) in $FAKE_KUBECTL_LOG, never a value."""
import base64, json, os, sys
import yaml

args = sys.argv[1:]
record = {{"argv": args}}
ns = args[args.index("--namespace") + 1] if "--namespace" in args else None
if args[:3] == ["create", "secret", "generic"]:
    assert "--dry-run=client" in args and args[args.index("-o") + 1] == "yaml", args
    (source,) = [a.split("=", 1)[1] for a in args if a.startswith("--from-env-file=")]
    text = sys.stdin.read() if source == "/dev/stdin" else open(source).read()
    data = {{}}
    for line in text.splitlines():  # kubectl's env-file rules: KEY=VALUE, the value verbatim
        line = line.lstrip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            data[key] = base64.b64encode(value.encode()).decode()
    record["keys"] = sorted(data)
    meta = {{"name": args[3], **({{"namespace": ns}} if ns else {{}})}}
    sys.stdout.write(yaml.safe_dump({{"apiVersion": "v1", "kind": "Secret", "metadata": meta,
                                     "data": data}}))
elif args[:1] == ["apply"]:
    source = args[args.index("-f") + 1]
    record["applied"] = sys.stdin.read() if source == "-" else open(source).read()
elif args[:1] != ["patch"]:
    sys.exit(f"fake kubectl: unexpected command {{args}}")
with open(os.environ["FAKE_KUBECTL_LOG"], "a") as log:
    log.write(json.dumps(record) + "\\n")
'''

FAKE_PIP = """#!/bin/sh
# A fake pip: the venv's gitsm is already on PATH; record where the job installs from.
printf '%s %s\\n' "$PWD" "$*" >>"$FAKE_PIP_LOG"
"""

MIGRATE = '''#!{python}
"""scripts/migrate.sh of the test store (the job's own work): records digests, never a value."""
import hashlib, json, os, sys

def digest(data):
    return hashlib.sha256(data).hexdigest()

record = {{"argv": sys.argv[1:],
          "env": {{k: digest(v.encode()) for k, v in os.environ.items()}}}}
path = os.environ.get("TLS_CLIENT_KEY_FILE")
if path:
    with open(path, "rb") as f:
        record["tls_key"] = {{"path": path, "sha256": digest(f.read()),
                             "mode": os.stat(path).st_mode & 0o777,
                             "dir_mode": os.stat(os.path.dirname(path)).st_mode & 0o777}}
with open(os.environ["EXAMPLES_RECORD"], "a") as log:
    log.write(json.dumps(record) + "\\n")
'''


def digest(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


@dataclass
class CI:
    """A checkout of a store laid out as the examples expect, and the machine a job runs on."""

    tmp: Path
    store: Path
    identity: str
    env: dict[str, str]
    kubectl_log: Path
    pip_log: Path
    record: Path

    def kubectl_calls(self) -> list[dict[str, Any]]:
        text = self.kubectl_log.read_text() if self.kubectl_log.exists() else ""
        return [json.loads(line) for line in text.splitlines()]

    def migrations(self) -> list[dict[str, Any]]:
        text = self.record.read_text() if self.record.exists() else ""
        return [json.loads(line) for line in text.splitlines()]


def _gitsm(env: dict[str, str], cwd: Path, *args: str, stdin: bytes | None = None) -> None:
    done = subprocess.run(
        [str(CLI), *args], cwd=cwd, env=env, input=stdin, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()


@pytest.fixture
def ci(tmp_path: Path) -> CI:
    identity = x25519.Identity.generate()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("kubectl", FAKE_KUBECTL.format(python=sys.executable)), ("pip", FAKE_PIP)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    for name in ("home", "tmp"):
        (tmp_path / name).mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
    env.update(
        PATH=os.pathsep.join([str(bin_dir), str(CLI.parent), os.environ["PATH"]]),
        HOME=str(tmp_path / "home"),
        TMPDIR=str(tmp_path / "tmp"),
        GITSM_FSYNC="0",
        FAKE_KUBECTL_LOG=str(tmp_path / "kubectl.log"),
        FAKE_PIP_LOG=str(tmp_path / "pip.log"),
        EXAMPLES_RECORD=str(tmp_path / "migrate.log"),
    )
    # The store, as its maintainers would set it up: secrets readable with the age identity only.
    store = tmp_path / "checkout"
    _gitsm(env, tmp_path, "init", str(store))
    _gitsm(env, store, "keys", "create-alias", "alias/ci", "--recipient", str(identity.to_public()))
    for name, option, value in (
        ("prod/db/credentials", "--secret-string", {"username": DB_USER, "password": DB_PASSWORD}),
        ("prod/payments/api", "--secret-string", PAYMENTS),
        ("prod/tls/client-key", "--secret-binary", TLS_KEY),
    ):
        data = value if isinstance(value, bytes) else json.dumps(value).encode()
        source = "fileb:///dev/stdin" if isinstance(value, bytes) else "file:///dev/stdin"
        args = ("--name", name, "--kms-key-id", "alias/ci", option, source)
        _gitsm(env, store, "create-secret", *args, stdin=data)
    assert not any(Path(env["GITSM_HOME"]).rglob("*")), "the local key ring must stay empty"
    # ... and the files the examples tell them to copy in.
    shutil.copy(EXAMPLES / "gitsm.materialize.yaml", store / "gitsm.materialize.yaml")
    shutil.copytree(EXAMPLES / "kubernetes", store / "kubernetes")
    (store / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(EXAMPLES / "github-actions.yml", store / ".github" / "workflows" / "secrets.yml")
    shutil.copy(EXAMPLES / "gitlab-ci.yml", store / ".gitlab-ci.yml")
    (store / "scripts").mkdir()
    (store / "scripts" / "migrate.sh").write_text(MIGRATE.format(python=sys.executable))
    (store / "scripts" / "migrate.sh").chmod(0o755)
    git(store, "add", "-A")
    git(store, "commit", "-q", "-m", "CI set-up")
    return CI(
        tmp_path,
        store,
        str(identity),
        env,
        tmp_path / "kubectl.log",
        tmp_path / "pip.log",
        tmp_path / "migrate.log",
    )


# -- a local runner for each CI -----------------------------------------------------------------

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class Step:
    name: str
    run: str
    stdout: str
    stderr: str
    github_env: dict[str, str] = field(default_factory=dict)


def _expand(value: object, context: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        assert match.group(1) in context, f"the local runner cannot evaluate {match.group(0)}"
        return context[match.group(1)]

    return EXPRESSION.sub(one, str(value))


def parse_github_env(text: str) -> dict[str, str]:
    """$GITHUB_ENV as the runner reads it: NAME=value lines and NAME<<DELIMITER heredocs."""
    out: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if eq != -1 and (heredoc == -1 or eq < heredoc):
            name, value = line.split("=", 1)
        else:
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            for part in lines:
                if part == delimiter:
                    break
                body.append(part)
            else:
                raise AssertionError(f"$GITHUB_ENV: {name}: no closing delimiter")
            value = "\n".join(body)
        assert name not in out, f"$GITHUB_ENV sets {name} twice"
        out[name] = value
    return out


def run_github_job(
    ci: CI, workflow: dict[str, Any], job_id: str, secrets: dict[str, str]
) -> list[Step]:
    """Run a job's steps like a runner: bash -eo pipefail; env from the workflow, the job, the
    earlier steps' $GITHUB_ENV and the step; ``uses:`` steps skipped (the store is checked out)."""
    job = workflow["jobs"][job_id]
    temp = ci.tmp / f"runner-temp-{job_id}"
    commands = temp / "_runner_file_commands"
    commands.mkdir(parents=True)
    context = {**{f"secrets.{k}": v for k, v in secrets.items()}, "runner.temp": str(temp)}
    base = {
        **ci.env,
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(ci.store),
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REF_NAME": "main",
        "RUNNER_TEMP": str(temp),
    }
    for scope in (workflow.get("env"), job.get("env")):
        base.update({k: _expand(v, context) for k, v in (scope or {}).items()})
    exported: dict[str, str] = {}
    steps: list[Step] = []
    for i, step in enumerate(job["steps"]):
        if "uses" in step:
            assert step["uses"].split("@")[0] in {"actions/checkout", "actions/setup-python"}
            continue
        assert "if" not in step and "shell" not in step, "the local runner does not evaluate these"
        env_file = commands / f"set_env_{i}"
        env_file.touch()
        script = temp / f"step-{i}.sh"
        script.write_text(step["run"])
        env = {
            **base,
            **exported,
            **{k: _expand(v, context) for k, v in step.get("env", {}).items()},
            "GITHUB_ENV": str(env_file),
        }
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=ci.store / step.get("working-directory", "."),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        name = step.get("name", step["run"])
        assert done.returncode == 0, f"{job_id}: {name}: exit {done.returncode}\n{done.stderr}"
        added = parse_github_env(env_file.read_text())
        exported.update(added)
        steps.append(Step(name, step["run"], done.stdout, done.stderr, added))
    return steps


def gitlab_jobs(pipeline: dict[str, Any]) -> list[str]:
    """The pipeline's jobs in stage order (hidden jobs and global keywords left out)."""
    jobs = [
        k
        for k, v in pipeline.items()
        if isinstance(v, dict) and "script" in v and not k.startswith(".")
    ]
    stages = pipeline.get("stages", ["build", "test", "deploy"])
    return sorted(jobs, key=lambda j: stages.index(pipeline[j].get("stage", "test")))


def run_gitlab_job(
    ci: CI, pipeline: dict[str, Any], job_id: str, variables: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run a job like a runner's shell: before_script and script in one bash -eo pipefail shell."""
    job = pipeline[job_id]
    default = pipeline.get("default", {})
    lines = [*job.get("before_script", default.get("before_script", [])), *job["script"]]
    assert "after_script" not in job and "after_script" not in default
    script = ci.tmp / f"gitlab-{job_id}.sh"
    script.write_text("\n".join(lines) + "\n")
    env = {
        **ci.env,
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(ci.store),
        "CI_COMMIT_BRANCH": "main",
        "CI_DEFAULT_BRANCH": "main",
        "CI_JOB_NAME": job_id,
    }
    for scope in (pipeline.get("variables"), job.get("variables")):
        env.update({k: str(v) for k, v in (scope or {}).items()})
    env.update(variables)
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=ci.store,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- checks -------------------------------------------------------------------------------------


def assert_no_plaintext(root: Path) -> None:
    """No file under ``root`` holds any secret value (the store holds ciphertext only)."""
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            leaked = [i for i, value in enumerate(PLAINTEXTS) if value in data]
            assert not leaked, f"{path} holds the plaintext of value(s) {leaked}"


def assert_kubernetes_deploy(ci: CI, namespace: str, deployment: Path) -> None:
    """deploy.sh's kubectl calls: the Secret with the values (base64), the Deployment, the patch."""
    calls = ci.kubectl_calls()
    assert [c["argv"][0] for c in calls] == ["create", "apply", "apply", "patch"]
    create, secret, deploy, patch = calls
    assert create["argv"][:4] == ["create", "secret", "generic", "app-db"]
    assert create["keys"] == ["password", "username"]
    assert secret["argv"] == ["apply", "--namespace", namespace, "-f", "-"]
    manifest = yaml.safe_load(secret["applied"])
    assert manifest["kind"] == "Secret"
    assert manifest["metadata"] == {"name": "app-db", "namespace": namespace}
    assert manifest["data"] == {
        "username": base64.b64encode(DB_USER.encode()).decode(),
        "password": base64.b64encode(DB_PASSWORD.encode()).decode(),
    }
    assert deploy["argv"] == ["apply", "--namespace", namespace, "-f", str(deployment)]
    assert yaml.safe_load(deploy["applied"])["kind"] == "Deployment"
    assert patch["argv"][:5] == ["patch", "deployment", "app", "--namespace", namespace]
    annotations = json.loads(patch["argv"][patch["argv"].index("-p") + 1])["spec"]["template"][
        "metadata"
    ]["annotations"]
    assert annotations == {
        "gitsm/store-commit": git(ci.store, "rev-parse", "--short", "HEAD").strip()
    }
    for call in calls:  # values go through the environment and a pipe, never through argv
        assert not any(v.decode() in arg for v in PLAINTEXTS[:5] for arg in call["argv"])


def mask_lines(value: str) -> set[str]:
    """The ::add-mask:: lines a value needs: the whole value, and each non-blank line of it."""

    def escape(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    parts = {value} | (
        {line for line in value.splitlines() if line.strip()} if "\n" in value else set()
    )
    return {f"::add-mask::{escape(p)}" for p in parts}


# -- the GitHub Actions workflow ----------------------------------------------------------------


def test_the_github_actions_workflow_runs_locally(ci: CI) -> None:
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    assert workflow["jobs"]["deploy"]["env"] == {"GITSM_AGE_KEY": "${{ secrets.GITSM_AGE_KEY }}"}
    assert "GITSM_AGE_KEY" not in str(workflow["jobs"]["verify"])  # verify needs no key

    run_github_job(ci, workflow, "verify", secrets={})
    steps = {
        s.run.strip(): s
        for s in run_github_job(ci, workflow, "deploy", {"GITSM_AGE_KEY": ci.identity})
    }
    assert ci.pip_log.read_text() == f"{ci.store} install .\n" * 2  # each job, from its checkout

    # --format github: a mask for every value first, then the variables in $GITHUB_ENV.
    (github,) = [s for run, s in steps.items() if "--format github" in run]
    masks = github.stdout.splitlines()
    assert all(line.startswith("::add-mask::") for line in masks), "values outside mask lines"
    assert set(masks) == set().union(*(mask_lines(v) for v in EXPECTED_ENV.values()))
    assert github.github_env == EXPECTED_ENV
    assert not any(v in github.stderr for v in EXPECTED_ENV.values() if len(v) > 3)

    # files: the values as 0600 files in 0700 directories under $RUNNER_TEMP/secrets.
    out = ci.tmp / "runner-temp-deploy" / "secrets"
    files = {p.relative_to(out).as_posix(): p for p in out.rglob("*") if p.is_file()}
    assert {name: p.read_bytes() for name, p in files.items()} == EXPECTED_FILES
    assert {stat.S_IMODE(p.stat().st_mode) for p in files.values()} == {0o600}
    assert {stat.S_IMODE(d.stat().st_mode) for d in (out, out / "db", out / "tls")} == {0o700}

    # exec: the child got the secret in its environment (and the earlier steps' variables),
    # never in its argv.
    (migrate,) = ci.migrations()
    assert migrate["argv"] == []
    assert migrate["env"]["DATABASE_PASSWORD"] == digest(DB_PASSWORD)
    assert {k: migrate["env"][k] for k in EXPECTED_ENV} == {
        k: digest(v) for k, v in EXPECTED_ENV.items()
    }
    assert migrate["tls_key"]["sha256"] == digest(TLS_KEY)
    assert migrate["tls_key"]["mode"] == 0o600 and migrate["tls_key"]["dir_mode"] == 0o700

    # kubernetes/deploy.sh (gitsm exec, then kubectl through a pipe).
    assert_kubernetes_deploy(ci, "prod", Path("kubernetes/deployment.yaml"))

    # The runner empties $RUNNER_TEMP (the files, $GITHUB_ENV) at the end of the job; nothing
    # else anywhere holds a value, and the work tree is as checked out.
    for temp in ci.tmp.glob("runner-temp-*"):
        shutil.rmtree(temp)
    assert_no_plaintext(ci.tmp)
    assert git(ci.store, "status", "--porcelain") == ""


# -- the GitLab CI pipeline ---------------------------------------------------------------------


def test_the_gitlab_pipeline_runs_locally(ci: CI) -> None:
    pipeline = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    assert gitlab_jobs(pipeline) == ["verify-store", "deploy"]
    # The identity as a GitLab "File" variable: the runner writes the value to a file outside the
    # work tree and puts the file's path in the variable.
    file_vars = ci.tmp / "checkout.tmp"
    file_vars.mkdir()
    identity_file = file_vars / "GITSM_AGE_IDENTITY_FILE"
    identity_file.write_text(ci.identity + "\n")
    identity_file.chmod(0o600)

    # Without the key the deploy job stops at `gitsm verify --decrypt`: nothing runs, nothing
    # is written.
    refused = run_gitlab_job(ci, pipeline, "deploy", {})
    assert refused.returncode != 0
    report = refused.stdout + refused.stderr
    assert "GITSM_AGE_IDENTITY_FILE" in report and "does not decrypt" in report
    assert ci.migrations() == [] and not any((ci.tmp / "tmp").iterdir())

    for job in gitlab_jobs(pipeline):
        done = run_gitlab_job(ci, pipeline, job, {"GITSM_AGE_IDENTITY_FILE": str(identity_file)})
        assert done.returncode == 0, f"{job}: exit {done.returncode}\n{done.stderr}"
    assert ci.pip_log.read_text().count(f"{ci.store} install .\n") == 3  # before_script, each job

    # exec: the secret in the child's environment only; the files it was pointed at were 0600 in
    # a 0700 directory outside the work tree, and are gone with the job's shell.
    (migrate,) = ci.migrations()
    assert migrate["argv"] == []
    assert migrate["env"]["DATABASE_PASSWORD"] == digest(DB_PASSWORD)
    assert not set(EXPECTED_ENV) & set(migrate["env"])  # only what the job asked for
    key = migrate["tls_key"]
    assert key["sha256"] == digest(TLS_KEY)
    assert key["mode"] == 0o600 and key["dir_mode"] == 0o700
    secrets_dir = Path(key["path"]).parents[1]
    assert secrets_dir.parent == ci.tmp / "tmp" and ci.store not in Path(key["path"]).parents
    assert not secrets_dir.exists()
    assert_no_plaintext(ci.tmp)
    assert git(ci.store, "status", "--porcelain") == ""


# -- the Kubernetes example ---------------------------------------------------------------------


def test_kubernetes_deploy_sh_applies_the_values_and_leaves_no_plaintext(ci: CI) -> None:
    env = {**ci.env, "GITSM_AGE_KEY": ci.identity, "NAMESPACE": "staging"}
    script = EXAMPLES / "kubernetes" / "deploy.sh"
    done = subprocess.run(
        ["sh", str(script)], cwd=ci.store, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert_kubernetes_deploy(ci, "staging", EXAMPLES / "kubernetes" / "deployment.yaml")
    assert not any(v.decode() in done.stdout + done.stderr for v in PLAINTEXTS[:5])
    assert_no_plaintext(ci.tmp)


def test_kubernetes_deploy_sh_fails_closed_without_the_key(ci: CI) -> None:
    done = subprocess.run(
        ["sh", str(EXAMPLES / "kubernetes" / "deploy.sh")],
        cwd=ci.store,
        env=ci.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 254, done.stderr
    assert "DecryptionFailure" in done.stderr
    assert ci.kubectl_calls() == []  # kubectl never ran


# -- every gitsm command line in the examples is one the CLI takes ------------------------------


@functools.cache
def _help(*words: str) -> str:
    done = subprocess.run([str(CLI), *words, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"gitsm {' '.join(words)}: {done.stderr}"
    return done.stdout


def _command_lines() -> list[tuple[str, str]]:
    """(source, line) for every gitsm command line of the examples' scripts and CI steps."""
    texts: list[tuple[str, str]] = []
    gh = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    texts += [
        ("github-actions.yml", s["run"])
        for j in gh["jobs"].values()
        for s in j["steps"]
        if "run" in s
    ]
    gl = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    texts += [
        ("gitlab-ci.yml", line)
        for job in gl.values()
        if isinstance(job, dict)
        for key in ("before_script", "script")
        for line in job.get(key, [])
    ]
    for script in ("quickstart.sh", "kubernetes/deploy.sh"):
        texts.append((script, (EXAMPLES / script).read_text()))
    lines = []
    for source, text in texts:
        for line in text.replace("\\\n", " ").splitlines():
            if line.strip().startswith("gitsm "):
                lines.append((source, line.strip()))
    return lines


def test_every_gitsm_command_line_in_the_examples_is_one_the_cli_takes() -> None:
    lines = _command_lines()
    used = {shlex.split(line.split(" -- ")[0])[1] for _, line in lines}
    assert {"verify", "materialize", "exec", "init", "create-secret", "hook"} <= used
    for source, line in lines:
        words = shlex.split(line.split(" -- ")[0])  # options end at --; the command follows
        command = words[1:3] if words[1] in {"hook", "keys"} else words[1:2]
        text = _help(*command)
        for word in words:
            if word.startswith("--"):
                option = word.split("=", 1)[0]
                assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text + _help()), (
                    f"{source}: {line}: gitsm {' '.join(command)} has no option {option}"
                )
