"""``gitsm verify`` (gitsm.verify): stores written by gitsm pass; every kind of damage is reported.

Each test works on a copy of one store built by gitsm operations only (names that need escaping, a
token that is not a file name, several labels, binary and JSON values, a pending deletion, a secret
without a value), damaged with plain git the way people damage stores.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import gitsm
from gitsm import paths
from gitsm.errors import StoreError
from gitsm.store import SecretStore
from gitsm.verify import Problem, classify, run_verify
from tests.conftest import git

ODD_TOKEN = "tok/../with spaces\nand-a-newline-000000000"
NAMES = ["prod/db/password", "prod/db", "a//b/", ".hidden/.env", "x" * 300, "bin", "json"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkout store written by gitsm operations only, with its key ring beside it."""
    base = tmp_path_factory.mktemp("template")
    old = {k: os.environ.get(k) for k in ("GITSM_HOME", "GITSM_FSYNC")}
    os.environ.update(GITSM_HOME=str(base / "home"), GITSM_FSYNC="0")
    try:
        store = gitsm.init(base / "store")
        store.create_secret("prod/db/password", secret_string="first-password-value")
        store.update_secret("prod/db/password", secret_string="second-password-value")
        store.put_secret_value(
            "prod/db/password", secret_string="staged-password-value",
            client_request_token=ODD_TOKEN, version_stages=["STAGING"],
        )  # fmt: skip
        store.create_secret("prod/db", secret_string="prefix-of-another", description="d")
        store.create_secret(
            "a//b/", secret_string="odd-name-value", tags=[{"Key": "t", "Value": "v"}]
        )
        store.create_secret(".hidden/.env", secret_string="dotted-name-value")
        store.create_secret("x" * 300, secret_string="long-name-value")
        store.create_secret("bin", secret_binary=b"\x00\x01binary-value\xff")
        store.create_secret(
            "json", secret_string=json.dumps({"user": "u", "password": "pw-123456"})
        )
        store.create_secret("empty")
        store.create_secret("doomed", secret_string="doomed-value")
        store.delete_secret("doomed", recovery_window_in_days=7)
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return base


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    """A private copy of the template store, its keys in this test's key ring."""
    shutil.copytree(template / "home" / "keys", Path(os.environ["GITSM_HOME"]) / "keys")
    shutil.copytree(template / "store", tmp_path / "store", symlinks=True)
    return tmp_path / "store"


def commit_all(repo: Path, message: str = "hand edit") -> None:
    """Stage everything and commit with plain git (no hook)."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)


def by_path(problems: list[Problem]) -> dict[str, list[str]]:
    """Problems grouped by path."""
    out: dict[str, list[str]] = {}
    for p in problems:
        out.setdefault(p.path, []).append(p.problem)
    return out


def manifest(repo: Path, name: str) -> Path:
    """The manifest file of ``name`` in the work tree."""
    return repo / paths.manifest_path(name)


def envelopes(repo: Path, name: str) -> list[Path]:
    """The envelope files of ``name`` in the work tree."""
    return sorted((repo / paths.secret_dir(name) / paths.VERSIONS).iterdir())


def test_a_store_written_only_by_gitsm_operations_passes(repo: Path) -> None:
    assert run_verify(repo) == []
    assert run_verify(repo, decrypt=True) == []
    assert run_verify(repo, staged=True) == []
    for commit in git(repo, "rev-list", "HEAD").split():
        assert run_verify(repo, rev=commit, decrypt=True) == [], commit


def test_a_bare_store_and_a_rev_of_it_pass(bare_path: Path) -> None:
    store = SecretStore.open(bare_path)
    store.create_secret("s", secret_string="bare-store-value")
    assert run_verify(bare_path, decrypt=True) == []
    assert run_verify(bare_path, rev="main~1") == []
    with pytest.raises(StoreError, match="bare"):
        run_verify(bare_path, staged=True)


def test_plaintext_dropped_into_the_secrets_tree_is_reported(repo: Path) -> None:
    (repo / "secrets" / "prod" / "db" / "password.txt").write_text("hunter2\n")
    (repo / "secrets" / "prod" / "db" / paths.VERSIONS / "notes.txt").write_text("x\n")
    git(repo, "add", "-A")
    staged = by_path(run_verify(repo, staged=True))
    assert set(staged) == {"secrets/prod/db/password.txt", "secrets/prod/db/~versions/notes.txt"}
    assert all(msgs == ["is not a gitsm file"] for msgs in staged.values())
    git(repo, "commit", "-q", "--no-verify", "-m", "oops")
    assert set(by_path(run_verify(repo))) == set(staged)
    assert run_verify(repo, rev="HEAD~1") == []


def _sub(pattern: str, repl: str) -> Callable[[str], str]:
    return lambda text: re.sub(pattern, repl, text, count=1, flags=re.MULTILINE)


def test_arns_of_another_region_pass_and_of_another_account_do_not(bare_path: Path) -> None:
    SecretStore.open(bare_path, region="eu-west-1").create_secret("eu", secret_string="v-eu-1234")
    assert run_verify(bare_path, decrypt=True) == []
    store = SecretStore.open(bare_path)
    secret = store.describe_secret("eu")
    forged = secret.arn.replace(f":{store.config().account_id}:", ":999999999999:")
    data = store.repo.tip().read(paths.manifest_path("eu"))
    assert data is not None and secret.arn in data.decode()
    with store.repo.write_lock():
        store.repo.commit(
            store.repo.tip(),
            {paths.manifest_path("eu"): data.decode().replace(secret.arn, forged).encode()},
            "forge\n",
            secret.created,
        )
    assert any("not one of this store" in p.problem for p in run_verify(bare_path))


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t + "extra: field\n", "is not in canonical form"),
        (_sub(r"^format: 1$", "format: [1"), "is not valid YAML"),
        (_sub(r"^format: 1$", "format: 2"), "newer than this gitsm reads (1)"),
        (lambda t: t.replace("AWSPREVIOUS", "AWSCURRENT"), "breaks a label invariant"),
        (_sub(r"^name: .*\n", ""), "malformed"),
        (_sub(r"^name: .*$", 'name: "prod/db/other"'), "lies in the directory"),
        (lambda t: t.replace(":secret:prod/db/password-", ":secret:prod/db/other-"), "has ARN"),
        (lambda t: t.replace("type: string", "type: text", 1), "unknown value type"),
    ],
    ids=["field", "yaml", "format", "labels", "no-name", "moved", "arn", "type"],
)
def test_a_broken_manifest_is_reported(
    repo: Path, edit: Callable[[str], str], expected: str
) -> None:
    path = manifest(repo, "prod/db/password")
    path.write_text(edit(path.read_text()))
    git(repo, "add", "-A")
    staged = run_verify(repo, staged=True)
    commit_all(repo)
    where = paths.manifest_path("prod/db/password")
    for problems in (staged, run_verify(repo)):
        assert any(p.path == where and expected in p.problem for p in problems), problems
        assert all(p.path.startswith(paths.secret_dir("prod/db/password")) for p in problems)


def test_problem_lines_read_path_problem_fix(repo: Path) -> None:
    path = manifest(repo, "json")
    path.write_text(path.read_text() + "extra: 1\n")
    commit_all(repo)
    (problem,) = run_verify(repo)
    line = str(problem)
    assert line.startswith("secrets/json/~secret.yaml: is not in canonical form")
    assert line.endswith(")") and " (change it only through gitsm operations" in line


def test_manifest_and_envelopes_must_agree_both_ways(repo: Path) -> None:
    first, *_ = envelopes(repo, "prod/db/password")
    first.unlink()
    stray = (
        repo / paths.secret_dir("bin") / paths.VERSIONS / "0123456789abcdef0123456789abcdef.json"
    )
    stray.write_text("{}\n")
    orphan = repo / "secrets" / "gone" / paths.VERSIONS / "v.json"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("{}\n")
    commit_all(repo)
    found = by_path(run_verify(repo))
    rel = str(first.relative_to(repo))
    assert any("is missing although the manifest lists version" in m for m in found[rel])
    assert found[str(stray.relative_to(repo))] == [
        "is an envelope of a version the manifest does not list"
    ]
    assert found["secrets/gone/~versions/v.json"] == ["is an envelope without a manifest"]


def test_an_envelope_moved_to_another_secret_or_version_is_reported(repo: Path) -> None:
    (src,) = envelopes(repo, "bin")
    (dst,) = envelopes(repo, "json")
    shutil.copyfile(src, dst)
    commit_all(repo)
    problems = [p.problem for p in run_verify(repo) if p.path == str(dst.relative_to(repo))]
    assert any("belongs to secret 'bin', not 'json'" in p for p in problems)
    assert any("holds version_id" in p and "its path stands for" in p for p in problems)
    assert any("holds a 'binary' value, the manifest says 'string'" in p for p in problems)


def test_an_odd_token_lives_under_its_hash_and_is_checked_there(repo: Path) -> None:
    name = paths.version_file_name(ODD_TOKEN)
    assert name.startswith("~") and "/" not in name
    path = repo / paths.secret_dir("prod/db/password") / paths.VERSIONS / name
    doc = json.loads(path.read_text())
    assert doc["version_id"] == ODD_TOKEN
    doc["version_id"] = "plain-" + "0" * 30
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    commit_all(repo)
    assert [p.path for p in run_verify(repo)] == [str(path.relative_to(repo))]


def test_altered_envelopes_are_reported(repo: Path) -> None:
    (path,) = envelopes(repo, "json")
    doc = json.loads(path.read_text())
    doc["keys"][0]["key_id"] = "00000000-0000-4000-8000-000000000000"
    doc["nonce"] = "not base64!"
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    commit_all(repo)
    problems = " | ".join(p.problem for p in run_verify(repo))
    assert "not in canonical JSON form" in problems
    assert "nonce that is not canonical base64" in problems
    assert "wrapped for local key 00000000-0000-4000-8000-000000000000" in problems


def test_config_problems_are_reported(repo: Path) -> None:
    config = repo / paths.CONFIG_PATH
    text = config.read_text()
    config.write_text(text.replace("format: 1", "format: 7"))
    git(repo, "add", "-A")
    (problem,) = [p for p in run_verify(repo, staged=True) if p.path == paths.CONFIG_PATH]
    assert "newer than this gitsm reads" in problem.problem and problem.fix == "upgrade gitsm"
    config.write_text(text.replace("provider: local", "provider: vault"))
    git(repo, "add", "-A")
    problems = run_verify(repo, staged=True)
    assert any("unknown provider 'vault'" in p.problem for p in problems)
    config.unlink()
    commit_all(repo)
    assert [p.problem for p in run_verify(repo) if p.path == paths.CONFIG_PATH] == [
        "is missing: this tree is not a gitsm store"
    ]


def test_decrypt_reports_labeled_versions_without_their_key(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITSM_HOME", str(tmp_path / "empty-home"))
    problems = run_verify(repo, decrypt=True)
    assert problems, "nothing decrypts without the key ring"
    assert all(
        "does not decrypt" in p.problem or "no provider holds" in p.problem for p in problems
    )
    assert not any("doomed-value" in str(p) or "password-value" in str(p) for p in problems)


def test_the_staged_check_is_incremental(repo: Path) -> None:
    path = manifest(repo, "bin")
    path.write_text(path.read_text() + "junk: 1\n")
    commit_all(repo, "broken, committed with --no-verify")
    (repo / "README.md").write_text("# docs\n")
    other = manifest(repo, "json")
    other.write_text(other.read_text() + "more: 2\n")
    git(repo, "add", "-A")
    assert {p.path for p in run_verify(repo, staged=True)} == {paths.manifest_path("json")}
    assert {p.path for p in run_verify(repo)} == {paths.manifest_path("bin")}


def test_removing_a_whole_secret_by_hand_is_fine(repo: Path) -> None:
    git(repo, "rm", "-rq", paths.secret_dir(".hidden/.env"))
    assert run_verify(repo, staged=True) == []


def test_git_index_file_from_a_hook_is_honoured(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_index = repo / ".git" / "next-index-test.lock"
    shutil.copyfile(repo / ".git" / "index", other_index)
    (repo / "secrets" / "stray.txt").write_text("x\n")
    env = {**os.environ, "GIT_INDEX_FILE": str(other_index)}
    subprocess.run(["git", "add", "secrets/stray.txt"], cwd=repo, env=env, check=True)
    assert run_verify(repo, staged=True) == []
    monkeypatch.setenv("GIT_INDEX_FILE", str(other_index))
    assert [p.path for p in run_verify(repo, staged=True)] == ["secrets/stray.txt"]
    monkeypatch.setenv("GIT_INDEX_FILE", "/elsewhere/index")  # not this repository's: ignored
    assert run_verify(repo, staged=True) == []


def test_a_tree_without_a_store_config_is_not_checked_when_staged(tmp_path: Path) -> None:
    app = tmp_path / "app"
    git(tmp_path, "init", "-q", str(app))
    (app / "secrets").mkdir()
    (app / "secrets" / "sealed.yaml").write_text("kind: SealedSecret\n")
    git(app, "add", "-A")
    assert run_verify(app, staged=True) == []
    git(app, "commit", "-q", "-m", "app")
    assert [p.path for p in run_verify(app)] == [paths.CONFIG_PATH, "secrets/sealed.yaml"]


def test_bad_arguments(repo: Path) -> None:
    with pytest.raises(StoreError, match="No commit 'nope'"):
        run_verify(repo, rev="nope")
    with pytest.raises(ValueError):
        run_verify(repo, rev="HEAD", staged=True)
    with pytest.raises(StoreError):
        run_verify(repo.parent / "missing")


def test_classify() -> None:
    assert classify("secrets/a/b/~secret.yaml") == ("manifest", "secrets/a/b")
    assert classify("secrets/a/~versions/v.json") == ("envelope", "secrets/a")
    assert classify("secrets/~secret.yaml") is None
    assert classify("secrets/a/~versions/v.txt") is None
    assert classify("secrets/a/~versions/b/~secret.yaml") is None
    assert classify("secrets/a/notes.md") is None
