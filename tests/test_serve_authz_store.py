"""gitsm serve's authorization over real stores: the server policy read from the branch tip (and
reloaded when it moves), one denial whether or not a secret exists, listings filtered per caller,
and ``.gitsm/server.yaml`` checked by gitsm verify, verify --range and the pre-commit hook."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import gitsm
from gitsm import paths
from gitsm.awsclient import SecretsManagerClient
from gitsm.hookinstall import install
from gitsm.rangecheck import verify_range
from gitsm.serve.authz import ServerPolicy, load_server_policy, principal_arn
from gitsm.serve.caller import Caller, EndpointError
from gitsm.store import SecretStore
from gitsm.verify import run_verify
from tests.cli.conftest import run_gitsm
from tests.conftest import git
from tests.gitremote import Daemon, clone, run_git
from tests.hostile import bomb

RULES = """\
format: 1
principals:
  reader: {read: [prod/]}
  admin: {read: ["*"], write: ["*"]}
"""
BROKEN = "format: 1\nprincipals:\n  reader: {read: [prod/*]}\n"


def commit_file(repo: Path, text: str, path: str = paths.SERVER_PATH, message: str = "edit") -> str:
    """Commit ``text`` at ``path`` with plain git (no hook), as an administrator does."""
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    git(repo, "add", path)
    git(repo, "commit", "-q", "--no-verify", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def caller(principal: str) -> Caller:
    return Caller(principal, "AKIAEXAMPLE", "us-east-1")


@pytest.fixture
def served(repo_path: Path) -> SecretsManagerClient:
    """A store with secrets, a resource policy and a server policy, seen through its client."""
    client = gitsm.client(repo=repo_path)
    for name in ("prod/db", "prod/open", "prod/old", "dev/app"):
        client.create_secret(Name=name, SecretString=f"value of {name}")
    account = client.store.config().account_id
    client.put_resource_policy(SecretId="prod/open", ResourcePolicy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:Get*",
        "Principal": {"AWS": principal_arn(account, "stranger")}, "Resource": "*"}]}))  # fmt: skip
    client.delete_secret(SecretId="prod/old", RecoveryWindowInDays=7)
    commit_file(repo_path, RULES)
    return client


def call(client: SecretsManagerClient, who: str, operation: str, secret_id: str) -> Any:
    """One request as gitsm serve runs it: the server policy before the lookup; for a caller it
    does not allow, every failure of the lookup answered with the same denial; then the secret's
    resource policy; then the operation."""
    policy = load_server_policy(client)[1]
    asker = caller(who)
    allowed = policy.allows(asker, operation, secret_id)
    try:
        found = client.get_resource_policy(SecretId=secret_id)
    except (client.exceptions.ResourceNotFoundException, client.exceptions.InvalidRequestException):
        if not allowed:
            raise policy.denial(asker, operation, secret_id) from None
        raise
    policy.check_resource(asker, operation, found["Name"], found.get("ResourcePolicy"), allowed,
                          secret_arn=found["ARN"], secret_id=secret_id)  # fmt: skip
    method = "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")
    return getattr(client, method)(SecretId=secret_id)


def denial(client: SecretsManagerClient, who: str, operation: str, secret_id: str) -> str:
    with pytest.raises(EndpointError) as info:
        call(client, who, operation, secret_id)
    assert info.value.code == "AccessDeniedException"
    return str(info.value).replace(secret_id, "<id>")


def test_the_policy_is_read_from_the_tip_and_reloaded_when_it_moves(repo_path: Path) -> None:
    store = SecretStore.open(repo_path)
    account = store.config().account_id
    first = load_server_policy(store)
    assert first[0] == store.repo.tip().commit_id
    assert not first[1].found and first[1].account_id == account
    assert not first[1].allows(caller("admin"), "GetRandomPassword", None)
    assert load_server_policy(store, first) is first  # the tip has not moved
    tip = commit_file(repo_path, RULES)
    second = load_server_policy(store, first)
    assert second[0] == tip and second[1].found and second[1].advice is None
    assert second[1].allows(caller("reader"), "GetSecretValue", "prod/x")
    assert second[1].user_arn(caller("reader")) == f"arn:aws:iam::{account}:user/reader"
    commit_file(repo_path, "# docs\n", "README.md")
    store.create_secret("prod/x", secret_string="v")
    third = load_server_policy(gitsm.client(repo=repo_path), second)
    assert third[0] == store.repo.tip().commit_id != second[0]
    assert third[1].rules is second[1].rules  # the same blob: its rules are reused
    store.put_secret_value("prod/x", secret_string="w")  # only secrets/ changes
    assert load_server_policy(store, third)[1] is third[1]  # the same .gitsm: nothing read
    commit_file(repo_path, BROKEN)
    fourth = load_server_policy(store, third)
    assert fourth[1].problem is not None and "read[0] is 'prod/*'" in fourth[1].problem
    assert fourth[1].advice is not None and "Every request is denied" in fourth[1].advice
    assert not fourth[1].allows(caller("reader"), "GetSecretValue", "prod/x")  # fail closed
    git(repo_path, "rm", "-q", paths.SERVER_PATH)
    git(repo_path, "commit", "-q", "-m", "no server policy")
    assert not load_server_policy(store, fourth)[1].found


def test_one_denial_whether_the_secret_exists_or_not(served: SecretsManagerClient) -> None:
    arn = served.describe_secret(SecretId="prod/db")["ARN"]
    prefix = arn.rsplit(":", 1)[0] + ":"
    ids = ["prod/db", "prod/nope", "prod/old", "prod/open", arn, prefix + "prod/nope-AbCdEf",
           prefix + "prod/db"]  # fmt: skip
    messages = {denial(served, "stranger", "DescribeSecret", i) for i in ids}
    messages |= {denial(served, "reader", "DeleteSecret", i) for i in ids}
    messages |= {denial(served, "stranger", "GetSecretValue", i) for i in ids if "open" not in i}
    assert len(messages) == 3, messages  # one message per caller and operation
    assert call(served, "stranger", "GetSecretValue", "prod/open")["SecretString"] == (
        "value of prod/open"
    )
    # a caller the server policy allows learns what the operation says
    with pytest.raises(served.exceptions.ResourceNotFoundException):
        call(served, "reader", "DescribeSecret", "prod/nope")
    with pytest.raises(served.exceptions.InvalidRequestException):
        call(served, "reader", "DescribeSecret", "prod/old")
    assert call(served, "reader", "GetSecretValue", arn)["Name"] == "prod/db"


def test_listings_show_only_what_the_caller_may_read(served: SecretsManagerClient) -> None:
    policy = load_server_policy(served)[1]
    listed = served.list_secrets(IncludePlannedDeletion=True)["SecretList"]
    kept = {s["Name"]: served.get_resource_policy(SecretId=s["Name"]).get("ResourcePolicy")
            for s in listed if s["Name"] != "prod/old"}  # fmt: skip
    assert set(kept) == {"prod/db", "prod/open", "dev/app"}

    def visible(who: str, operation: str) -> set[str]:
        return {name for name, text in kept.items()
                if policy.may_read(caller(who), name, operation, resource_policy=text)}  # fmt: skip

    assert visible("reader", "DescribeSecret") == {"prod/db", "prod/open"}
    assert visible("admin", "GetSecretValue") == {"prod/db", "prod/open", "dev/app"}
    assert visible("stranger", "GetSecretValue") == {"prod/open"}  # its resource policy
    assert visible("stranger", "DescribeSecret") == set()
    batch = served.batch_get_secret_value(Filters=[{"Key": "name", "Values": ["prod/"]}])
    values = {
        v["Name"] for v in batch["SecretValues"] if policy.may_read(caller("reader"), v["Name"])
    }
    assert values == {"prod/db", "prod/open"}
    assert policy.allows(caller("reader"), "ListSecrets", None)
    assert not policy.allows(caller("stranger"), "ListSecrets", None)


def test_verify_reports_a_broken_server_policy(repo_path: Path) -> None:
    commit_file(repo_path, RULES)
    assert run_verify(repo_path) == []
    commit_file(repo_path, BROKEN)
    found = run_verify(repo_path)
    assert [p.path for p in found] == [paths.SERVER_PATH]
    assert "read[0] is 'prod/*'" in found[0].problem and "docs/FORMAT.md" in found[0].fix
    done = run_gitsm(["verify"], cwd=repo_path)
    assert done.returncode == 1 and b".gitsm/server.yaml: " in done.stdout, done
    (repo_path / paths.SERVER_PATH).write_text(RULES)
    git(repo_path, "add", paths.SERVER_PATH)
    assert run_verify(repo_path, staged=True) == []  # the fix, staged
    (repo_path / paths.SERVER_PATH).write_text("format: 1\nprincipals: {x: {write: [7]}}\n")
    git(repo_path, "add", paths.SERVER_PATH)
    assert [p.path for p in run_verify(repo_path, staged=True)] == [paths.SERVER_PATH]


def test_a_hostile_server_policy_is_refused_quickly_and_denies_everything(repo_path: Path) -> None:
    store = SecretStore.open(repo_path)
    commit_file(repo_path, "format: 1\nprincipals: {}\n" + bomb())
    started = time.monotonic()
    loaded = load_server_policy(store)[1]
    assert time.monotonic() - started < 1.0
    assert loaded.problem is not None and "YAML anchor" in loaded.problem
    (repo_path / paths.SERVER_PATH).unlink()
    (repo_path / paths.SERVER_PATH).symlink_to("/etc/passwd")
    git(repo_path, "add", paths.SERVER_PATH)
    git(repo_path, "commit", "-q", "--no-verify", "-m", "a link")
    found = run_verify(repo_path)
    assert [p.path for p in found] == [paths.SERVER_PATH] and "symbolic link" in found[0].problem
    linked = load_server_policy(store)[1]
    assert linked.problem is not None and not linked.allows(caller("admin"), "ListSecrets", None)


def test_an_administrators_commit_of_the_server_policy_passes_verify_range(
    repo_path: Path,
) -> None:
    store = SecretStore.open(repo_path)
    store.create_secret("prod/db", secret_string="v")
    base = str(store.repo.tip().commit_id)
    commit_file(repo_path, RULES, message="let reader read prod/")
    store.put_secret_value("prod/db", secret_string="v2")  # gitsm keeps the file in the tree
    assert (repo_path / paths.SERVER_PATH).read_text() == RULES
    assert verify_range(repo_path, f"{base}..HEAD") == []
    commit_file(repo_path, BROKEN, message="a typo")
    broken = verify_range(repo_path, f"{base}..HEAD")
    assert {p.path for p in broken} == {paths.SERVER_PATH} and broken, broken
    # the server policy does not make a hand edit of a secret one of its own
    manifest = repo_path / paths.manifest_path("prod/db")
    manifest.write_text(manifest.read_text().replace("AWSPREVIOUS", "OLD"))
    commit_file(repo_path, RULES, message="fix the typo, and relabel by hand")
    git(repo_path, "commit", "-q", "--amend", "--no-verify", "-a", "--no-edit")
    found = [str(p) for p in verify_range(repo_path, f"{base}..HEAD")]
    assert any("not a gitsm operation" in p for p in found), found


def test_sync_replays_an_administrators_server_policy_commit(
    tmp_path: Path, git_daemon: Daemon
) -> None:
    url = git_daemon.new_origin(f"{tmp_path.name}.git")
    seed = tmp_path / "seed"
    store = gitsm.init(seed)
    store.create_secret("prod/db", secret_string="v1")
    run_git(seed, "remote", "add", "origin", url)
    store.sync()
    teammate = SecretStore.open(clone(url, tmp_path / "teammate"))
    teammate.put_secret_value("prod/db", secret_string="v2")
    assert teammate.sync().pushed
    commit_file(seed, RULES, message="let reader read prod/")  # diverged: replayed on theirs
    report = store.sync()
    assert report.pushed and [o.outcome for o in report.operations] == ["replayed"], report
    assert teammate.sync().fast_forward
    assert load_server_policy(teammate)[1].allows(caller("reader"), "GetSecretValue", "prod/db")
    assert verify_range(tmp_path / "teammate", "..HEAD") == []


def test_the_pre_commit_hook_refuses_a_broken_server_policy(repo_path: Path) -> None:
    install(repo_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_DIR")}
    env.pop("GITSM", None)
    (repo_path / paths.SERVER_PATH).write_text(BROKEN)
    git(repo_path, "add", paths.SERVER_PATH)
    refused = subprocess.run(["git", "commit", "-q", "-m", "server policy"], cwd=repo_path,
                             env=env, capture_output=True, text=True)  # fmt: skip
    assert refused.returncode != 0
    assert ".gitsm/server.yaml: is malformed: principals.reader.read[0]" in refused.stderr
    (repo_path / paths.SERVER_PATH).write_text(RULES)
    git(repo_path, "add", paths.SERVER_PATH)
    done = subprocess.run(["git", "commit", "-q", "-m", "server policy"], cwd=repo_path, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_a_policy_made_with_parse_denies_like_a_loaded_one() -> None:
    parsed = ServerPolicy.parse(RULES.encode(), account_id="111122223333")
    assert parsed.denial(caller("x"), "GetSecretValue", "a").code == "AccessDeniedException"
    assert "arn:aws:iam::111122223333:user/x" in str(
        parsed.denial(caller("x"), "ListSecrets", None)
    )


class As:
    """An authenticator that takes every request as ``principal``'s (the signature is
    tests/test_serve_sigv4.py's business)."""

    def __init__(self, principal: str) -> None:
        self.principal = principal

    def authenticate(self, method: str, path: str, query: str, headers: Any, body: bytes) -> Caller:
        return caller(self.principal)


def test_a_write_is_judged_by_the_policy_at_the_tip_it_runs_on(repo_path: Path) -> None:
    """Writes are authorized on the writer thread, right before they run: a server policy that
    plain git commits between two writes decides the second one, and a write its policy refuses
    leaves the branch where it was."""
    from gitsm.serve.app import App
    from gitsm.serve.backend import Backend
    from gitsm.serve.storeauth import StoreAuthorizer

    commit_file(repo_path, RULES)
    backend = Backend(repo_path)
    app = App(backend, As("admin"), StoreAuthorizer(backend, lambda advice: None))
    headers = {"x-amz-target": "secretsmanager.CreateSecret", "host": "localhost"}

    def create(name: str) -> tuple[int, Any]:
        status, _, body = app.handle("POST", "/", "", headers, json.dumps(
            {"Name": name, "SecretString": "v"}).encode(), "127.0.0.1")  # fmt: skip
        return status, json.loads(body)

    assert create("prod/one")[0] == 200
    commit_file(repo_path, RULES.replace('write: ["*"]', "write: [dev/]"))
    tip = git(repo_path, "rev-parse", "HEAD").strip()
    status, body = create("prod/two")
    assert (status, body["__type"]) == (400, "AccessDeniedException")
    assert git(repo_path, "rev-parse", "HEAD").strip() == tip  # nothing written
    assert create("dev/three")[0] == 200
