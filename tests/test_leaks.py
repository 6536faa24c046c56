"""The leak guard (gitsm.leaks): a managed value in any staged file is reported by file and line,
never by value; only staged changes are looked at; only labeled versions count."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gitsm.leaks import guard, needles_of, run_leak_guard, scan
from gitsm.store import SecretStore
from gitsm.verify import run_verify
from tests.conftest import git

DB = "correct-horse-battery-staple"
TOKEN = "tok_live_4f9a8c7e2b1d"
BINARY = b"\x00\x17raw-binary-value\xfe"


@pytest.fixture
def repo(repo_path: Path) -> Path:
    """A store with a string, a JSON and a binary secret (values from gitsm operations only)."""
    store = SecretStore.open(repo_path)
    store.create_secret("prod/db/password", secret_string=DB)
    store.create_secret("prod/api", secret_string=json.dumps({"token": TOKEN, "user": "svc"}))
    store.create_secret("prod/cert", secret_binary=BINARY)
    return repo_path


def stage(repo: Path, rel: str, text: str | bytes) -> None:
    """Write ``rel`` in the work tree and stage it."""
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    git(repo, "add", rel)


def test_a_value_pasted_into_config_is_reported_by_file_and_line(repo: Path) -> None:
    stage(repo, "config/app.env", f"DB_HOST=db\nDB_USER=app\nDB_PASSWORD={DB}\n")
    report = run_leak_guard(repo)
    (problem,) = report.problems
    assert problem.path == "config/app.env:3"
    assert problem.problem == "contains the AWSCURRENT value of secret prod/db/password"
    assert report.files_scanned == 1 and report.notes == []
    assert DB not in str(problem)
    assert [str(p) for p in run_verify(repo, staged=True)] == [str(problem)]


def test_each_json_value_and_the_base64_of_a_binary_are_looked_for(repo: Path) -> None:
    encoded = base64.b64encode(BINARY).decode()
    stage(repo, "deploy/values.yaml", f"api:\n  token: {TOKEN}\n  user: svc\ncert: {encoded}\n")
    stage(repo, "deploy/cert.bin", b"head" + BINARY + b"tail")
    problems = {p.path: p.problem for p in run_leak_guard(repo).problems}
    assert problems == {
        "deploy/values.yaml:2": "contains JSON key 'token' of the AWSCURRENT value of secret prod/api",
        "deploy/values.yaml:4": "contains the AWSCURRENT value of secret prod/cert (base64)",
        "deploy/cert.bin:1": "contains the AWSCURRENT value of secret prod/cert",
    }  # "svc" has fewer than 8 bytes: not looked for


def test_previous_and_custom_labels_count_unlabeled_versions_do_not(repo: Path) -> None:
    store = SecretStore.open(repo)
    store.update_secret("prod/db/password", secret_string="second-db-password")
    store.put_secret_value("prod/db/password", secret_string="pending-db-password",
                           version_stages=["AWSPENDING"])  # fmt: skip
    store.update_secret("prod/db/password", secret_string="third-db-password")
    lines = [DB, "second-db-password", "pending-db-password", "third-db-password"]
    stage(repo, "notes.txt", "\n".join(lines) + "\n")
    found = {p.path: p.problem for p in run_leak_guard(repo).problems}
    assert found == {
        "notes.txt:2": "contains the AWSPREVIOUS value of secret prod/db/password",
        "notes.txt:3": "contains the AWSPENDING value of secret prod/db/password",
        "notes.txt:4": "contains the AWSCURRENT value of secret prod/db/password",
    }  # the first value lost every label: it is history, not a managed value


def test_only_staged_changes_are_scanned_as_staged(repo: Path) -> None:
    stage(repo, "old.txt", f"{DB}\n")
    git(repo, "commit", "-q", "--no-verify", "-m", "committed before the guard")
    stage(repo, "unrelated.txt", "hello\n")
    assert run_leak_guard(repo).problems == []
    (repo / "unrelated.txt").write_text(f"{DB}\n")  # in the work tree only, not staged
    assert run_leak_guard(repo).problems == []
    git(repo, "add", "unrelated.txt")
    assert [p.path for p in run_leak_guard(repo).problems] == ["unrelated.txt:1"]
    (repo / "unrelated.txt").write_text("clean again, but not staged\n")
    assert [p.path for p in run_leak_guard(repo).problems] == ["unrelated.txt:1"]
    git(repo, "rm", "-q", "--cached", "old.txt")  # a deletion is not a leak
    git(repo, "add", "unrelated.txt")
    assert run_leak_guard(repo).problems == []


def test_an_allow_marker_on_the_line_silences_it(repo: Path) -> None:
    stage(repo, "a.txt", f"user={TOKEN}  # gitsm:allow (public test token)\nagain={TOKEN}\n")
    assert [p.path for p in run_leak_guard(repo).problems] == ["a.txt:2"]


def test_without_keys_the_guard_says_it_looked_for_nothing(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("GITSM_HOME", str(tmp_path / "no-keys"))
    stage(repo, "config/app.env", f"DB_PASSWORD={DB}\n")
    report = run_leak_guard(repo)
    assert report.problems == [] and report.values == 0 and report.undecryptable == 3
    assert report.notes == [
        "leak guard: no key at hand for any labeled version; nothing was looked for"
    ]
    assert report.notes[0] in caplog.text


def test_a_rotated_value_is_looked_for_at_once(repo: Path) -> None:
    stage(repo, "a.txt", "nothing here\n")
    assert run_leak_guard(repo).problems == []
    SecretStore.open(repo).update_secret("prod/db/password", secret_string="rotated-password")
    stage(repo, "a.txt", f"rotated-password\n{DB}\n")
    assert [(p.path, p.problem) for p in run_leak_guard(repo).problems] == [
        ("a.txt:1", "contains the AWSCURRENT value of secret prod/db/password"),
        ("a.txt:2", "contains the AWSPREVIOUS value of secret prod/db/password"),
    ]


def test_values_come_from_the_store_branch(repo: Path) -> None:
    git(repo, "config", "gitsm.branch", "main")
    git(repo, "checkout", "-q", "-b", "app")
    git(repo, "rm", "-rq", "secrets", ".gitsm")
    git(repo, "commit", "-qm", "an application branch without the store")
    stage(repo, "f.txt", f"{DB}\n")
    assert [p.path for p in run_leak_guard(repo).problems] == ["f.txt:1"]


def test_needles_and_scan() -> None:
    assert needles_of(b"short", "string", "v") == {}
    doc = json.dumps({"a": {"b": ["deep-value-1", 5]}, "c": "tiny"}).encode()
    assert needles_of(doc, "string", "v") == {
        doc: "the v",
        b"deep-value-1": "JSON key 'a.b[0]' of the v",
    }
    assert needles_of(b"{not json", "string", "v") == {b"{not json": "the v"}
    data = b"one\ntwo secret-value\nsecret-value three\n"
    assert [p.path for p in scan("f", data, {b"secret-value": "x"})] == ["f:2", "f:3"]
    assert scan("f", b"", {b"secret-value": "x"}) == []


def test_guard_with_no_changes_reads_no_values(repo: Path) -> None:
    from gitsm.gitrepo import GitRepo
    from gitsm.keys import KeyService

    report = guard(GitRepo.open(repo), {}, KeyService())
    assert report.values == 0 and report.files_scanned == 0
