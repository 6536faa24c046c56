"""``gitsm verify`` of the tip checks only what changed since the last tree it found clean
(gitsm/verifymemo.py), and always reports what a full check reports."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import gitsm
from gitsm import paths, verifymemo
from gitsm.keys import KeyService
from gitsm.verify import Checker, run_verify
from tests.conftest import git


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The secret directories the checks look at, in order."""
    seen: list[str] = []
    real = Checker.check_secret

    def spy(self: Checker, directory: str, envelopes: list[str]) -> None:
        seen.append(directory)
        real(self, directory, envelopes)

    monkeypatch.setattr(Checker, "check_secret", spy)
    return seen


@pytest.fixture
def repo(repo_path: Path) -> Path:
    store = gitsm.init(repo_path)
    for name in ("app/one", "app/two", "db/three"):
        store.create_secret(name, secret_string=f"value of {name}")
    return repo_path


def memo_file(repo: Path) -> Path:
    return repo / ".git" / "gitsm" / verifymemo.MEMO_NAME


def test_an_unchanged_tree_is_not_checked_again(repo: Path, checked: list[str]) -> None:
    assert run_verify(repo) == []
    assert len(checked) == 3
    doc = json.loads(memo_file(repo).read_text())
    assert doc["tree"] == git(repo, "rev-parse", "HEAD^{tree}").strip()
    assert doc["gitsm"] == gitsm.__version__
    assert git(repo, "status", "--porcelain", "--ignored") == ""  # nothing in the work tree
    checked.clear()
    git(repo, "commit", "-q", "--allow-empty", "-m", "Another commit, the same tree")
    assert run_verify(repo) == [] and checked == []
    assert run_verify(repo, full=True) == [] and len(checked) == 3  # --full checks everything


def test_only_the_changed_secrets_are_checked(repo: Path, checked: list[str]) -> None:
    run_verify(repo)
    store = gitsm.SecretStore.open(repo)
    store.update_secret("app/two", secret_string="new value")
    (repo / "README.md").write_text("not a store file\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-qm", "A file beside the store")
    checked.clear()
    assert run_verify(repo) == []
    assert checked == [paths.secret_dir("app/two")]
    checked.clear()
    store.create_secret("app/four", secret_string="four")
    store.delete_secret("db/three", force_delete_without_recovery=True)
    assert run_verify(repo) == [] and checked == [paths.secret_dir("app/four")]


def damage_manifest(repo: Path) -> None:
    path = repo / paths.manifest_path("app/one")
    path.write_text(path.read_text().replace("name: ", "name:  "))  # not canonical any more


def damage_mode(repo: Path) -> None:
    os.chmod(repo / paths.manifest_path("db/three"), 0o755)


def damage_stray_file(repo: Path) -> None:
    (repo / "secrets" / "stray.txt").write_text("a value someone put here\n")


def damage_config(repo: Path) -> None:
    path = repo / paths.CONFIG_PATH
    path.write_text(path.read_text().replace("format: 1", "format: 7"))


def damage_lost_envelope(repo: Path) -> None:
    versions = repo / paths.secret_dir("app/two") / paths.VERSIONS
    for envelope in versions.iterdir():
        envelope.unlink()


@pytest.mark.parametrize(
    "damage",
    [damage_manifest, damage_mode, damage_stray_file, damage_config, damage_lost_envelope],
)
def test_problems_after_a_clean_check_are_those_of_a_full_check(
    repo: Path, damage: object, checked: list[str]
) -> None:
    assert run_verify(repo) == []
    clean = memo_file(repo).read_bytes()
    damage(repo)  # type: ignore[operator]
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "Damage by hand")
    problems = run_verify(repo)
    assert problems and problems == run_verify(repo, full=True)
    assert memo_file(repo).read_bytes() == clean  # still the last clean tree
    git(repo, "revert", "--no-edit", "HEAD")
    checked.clear()
    assert run_verify(repo) == []
    assert len(checked) <= 1  # back to the clean tree: at most the damaged secret again


def test_a_key_no_longer_held_is_found_although_its_files_did_not_change(repo: Path) -> None:
    keys = KeyService()
    local = keys.provider("local")
    key_id = local.create_key()  # type: ignore[attr-defined]
    gitsm.SecretStore.open(repo).create_secret("own/key", secret_string="v", kms_key_id=key_id)
    assert run_verify(repo) == []
    assert [["local", key_id, True]] == [c for c in json.loads(memo_file(repo).read_text())[
        "claims"] if c[1] == key_id]  # fmt: skip
    ring = Path(os.environ["GITSM_HOME"]) / "keys"
    (held,) = [p for p in ring.iterdir() if key_id in p.name]
    held.rename(held.with_name("elsewhere"))  # the key is gone from this machine
    problems = run_verify(repo)
    assert any(f"uses key {key_id}" in p.problem for p in problems)
    assert problems == run_verify(repo, full=True)


@pytest.mark.parametrize("record", ["not json", '{"format": 1}', "version", "gone tree"])
def test_an_unusable_record_means_a_full_check(repo: Path, checked: list[str], record: str) -> None:
    run_verify(repo)
    doc = json.loads(memo_file(repo).read_text())
    if record == "version":
        doc["gitsm"] = "0.0.0-other"
    elif record == "gone tree":
        doc["tree"] = "0" * 40
    memo_file(repo).write_text(json.dumps(doc) if record in ("version", "gone tree") else record)
    checked.clear()
    assert run_verify(repo) == [] and len(checked) == 3


def test_rev_range_and_staged_checks_never_use_the_record(repo: Path, checked: list[str]) -> None:
    run_verify(repo)
    checked.clear()
    assert run_verify(repo, rev="HEAD") == [] and len(checked) == 3
    checked.clear()
    assert run_verify(repo, decrypt=True) == [] and len(checked) == 3
    from gitsm.rangecheck import verify_range

    checked.clear()
    assert verify_range(repo, "HEAD~1..HEAD") == [] and checked  # the tip's tree, in full
    assert len(checked) >= 3
