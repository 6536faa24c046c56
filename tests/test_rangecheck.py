"""gitsm verify --range: every commit's change must be what its operation may do."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

import gitsm
from gitsm import paths
from gitsm.gitrepo import GitRepo
from gitsm.manifest import dump_secret
from gitsm.model import AWSCURRENT, AWSPREVIOUS
from gitsm.rangecheck import verify_range
from gitsm.rotationconfig import RotationFunction
from gitsm.store import SecretStore
from tests.cli.conftest import run_gitsm
from tests.gitremote import run_git
from tests.rotating import NOOP, rotate_by_hand


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store whose history holds every operation gitsm makes."""
    path = tmp_path_factory.mktemp("range") / "store"
    store = gitsm.init(path)
    key = store.create_local_key()
    store.create_key_alias("alias/team", [key])
    store.add_key_recipients("alias/team", [store.create_local_key()])
    store.create_secret(
        "app", secret_string="v1", description="d", tags=[{"Key": "k", "Value": "v"}]
    )
    store.put_secret_value("app", secret_string="pending", version_stages=["AWSPENDING"])
    v3 = store.update_secret("app", secret_string="v3").version_id
    store.update_secret_version_stage("app", "BLUE", move_to_version_id=v3)
    store.update_secret("app", description="new", kms_key_id="alias/team")
    store.tag_resource("app", [{"Key": "x", "Value": "y"}])
    store.untag_resource("app", ["k"])
    store.untag_resource("app", ["x"])  # the last tag: the manifest keeps "tags: []"
    store.rekey(secret_id="app", force=True)
    store.create_secret("gone", secret_string="x")
    store.delete_secret("gone", recovery_window_in_days=7)
    store.restore_secret("gone")
    store.delete_secret("gone", force_delete_without_recovery=True)
    store.set_default_key("alias/team")
    store.create_secret("other", secret_binary=b"\x00")
    store.remove_key_recipients("alias/team", [key])
    store.rekey(alias="alias/team")
    store.create_secret("rotated", secret_string="r1")
    rotate_by_hand(store, "rotated", str(uuid.uuid4()))
    store.rotate_secret("rotated", rotate_immediately=False,
                        rotation_rules={"ScheduleExpression": "cron(0 4 ? * SUN *)"})  # fmt: skip
    store.cancel_rotate_secret("rotated")
    store.register_rotation_function("spare", NOOP)
    store.deregister_rotation_function("spare")
    store.set_default_rotation_function("noop")  # rotates secrets without a function of their own
    store.create_secret("managed", secret_string="m1")
    rotate_by_hand(store, "managed", str(uuid.uuid4()), function=None)
    store.register_rotation_function("fallback", NOOP)
    store.set_default_rotation_function("fallback")
    store.rotate_secret("managed", rotate_immediately=False)
    store.set_default_rotation_function(None)
    return path


def branch_off(history: Path, tmp_path: Path) -> tuple[SecretStore, str]:
    """A clone of the history to make a bad commit in, and its tip before that commit."""
    run_git(tmp_path, "clone", "-q", str(history), "bad")
    store = SecretStore.open(tmp_path / "bad")
    return store, str(store.repo.tip().commit_id)


def problems_of(store: SecretStore, base: str) -> list[str]:
    return [str(p) for p in verify_range(store.repo.workdir or store.repo.gitdir, f"{base}..main")]


def test_every_operation_verifies(history: Path) -> None:
    assert verify_range(history, "..main") == []
    done = run_gitsm(["verify", "--range", "..main"], cwd=history)
    assert done.returncode == 0 and done.stdout == b"", done.stderr


def test_a_hand_made_rollback_is_a_label_moved_outside_an_operation(
    history: Path, tmp_path: Path
) -> None:
    store, base = branch_off(history, tmp_path)
    manifest = store.repo.workdir / paths.manifest_path("app")  # type: ignore[operator]
    text = manifest.read_text()
    assert '"AWSCURRENT"' in text and '"AWSPREVIOUS"' in text
    swapped = text.replace('"AWSCURRENT"', "@C").replace('"AWSPREVIOUS"', '"AWSCURRENT"')
    manifest.write_text(swapped.replace("@C", '"AWSPREVIOUS"'))
    run_git(manifest.parent, "commit", "-q", "-am", "roll back")
    assert store.repo is not None and run_verify_clean(store)  # the tree alone looks fine
    found = problems_of(store, base)
    commit = run_git(tmp_path / "bad", "rev-parse", "--short=12", "main").stdout.strip()
    assert any(f"commit {commit}" in p and "not a gitsm operation" in p for p in found), found
    assert any(
        f"commit {commit}" in p and "moves labels outside an operation that moves them" in p
        for p in found
    ), found
    done = run_gitsm(["verify", "--range", f"{base}..main"], cwd=tmp_path / "bad")
    assert done.returncode == 1 and commit.encode() in done.stdout


def run_verify_clean(store: SecretStore) -> bool:
    from gitsm.verify import run_verify

    return run_verify(store.repo.workdir or store.repo.gitdir) == []


def forge(store: SecretStore, files: dict[str, bytes | None], message: str) -> None:
    """Commit ``files`` with gitsm's own commit path but a message of our choosing."""
    repo: GitRepo = store.repo
    with repo.write_lock():
        repo.commit(repo.tip(), files, message, datetime.now(UTC))


def trailers(op: str, name: str, **extra: str) -> str:
    lines = [f"{op} {name}", "", f"Gitsm-Operation: {op}", f"Gitsm-Secret: {name}"]
    return "\n".join(lines + [f"Gitsm-{k.replace('_', '-')}: {v}" for k, v in extra.items()]) + "\n"


def test_a_rollback_dressed_as_another_operation(history: Path, tmp_path: Path) -> None:
    store, base = branch_off(history, tmp_path)
    secret = store.describe_secret("app")
    current = secret.version_with_stage(AWSCURRENT)
    previous = secret.version_with_stage(AWSPREVIOUS)
    assert current and previous
    secret.versions[current].stages.remove(AWSCURRENT)
    secret.versions[current].stages.append(AWSPREVIOUS)
    secret.versions[previous].stages.remove(AWSPREVIOUS)
    secret.versions[previous].stages.append(AWSCURRENT)
    forge(store, {paths.manifest_path("app"): dump_secret(secret)}, trailers("TagResource", "app"))
    found = problems_of(store, base)
    assert any("moves labels outside an operation that moves them" in p for p in found), found


def test_a_replaced_ciphertext_and_a_version_deleted_by_hand(history: Path, tmp_path: Path) -> None:
    store, base = branch_off(history, tmp_path)
    secret = store.describe_secret("app")
    vids = list(secret.versions)
    snap = store.repo.tip()
    one, two = (json.loads(snap.read(paths.version_path("app", v)) or b"") for v in vids[:2])
    one["ciphertext"] = two["ciphertext"]
    changed = (json.dumps(one, indent=2, sort_keys=True) + "\n").encode()
    forge(store, {paths.version_path("app", vids[0]): changed},
          trailers("UpdateSecret", "app", Secret_Arn=secret.arn))  # fmt: skip
    pending = next(v for v in vids if "AWSPENDING" in secret.versions[v].stages)
    del secret.versions[pending]
    forge(store, {paths.manifest_path("app"): dump_secret(secret),
                  paths.version_path("app", pending): None}, trailers("TagResource", "app"))  # fmt: skip
    found = problems_of(store, base)
    assert any("changes an envelope outside a re-wrap" in p for p in found), found
    assert any("removes a version outside pruning or a deletion" in p for p in found), found


def test_an_envelope_swapped_between_secrets_and_one_label_on_two_versions(
    history: Path, tmp_path: Path
) -> None:
    store, base = branch_off(history, tmp_path)
    app, other = store.describe_secret("app"), store.describe_secret("other")
    snap = store.repo.tip()
    vid = next(iter(other.versions))
    stolen = snap.read(paths.version_path("app", next(iter(app.versions))))
    forge(store, {paths.version_path("other", vid): stolen},
          trailers("Rekey", "", Rekey_Scope="all"))  # fmt: skip
    secret = store.describe_secret("app")
    holder = secret.version_with_stage(AWSCURRENT)
    other_vid = next(v for v in secret.versions if v != holder)
    secret.versions[other_vid].stages.append(AWSCURRENT)
    forge(store, {paths.manifest_path("app"): dump_secret(secret)}, trailers("TagResource", "app"))
    found = problems_of(store, base)
    assert any("belongs to secret" in p or "changes a sealed value" in p for p in found), found
    assert any("label AWSCURRENT is on both" in p for p in found), found


def test_merges_made_by_the_driver_verify_and_hand_edited_ones_do_not(tmp_path: Path) -> None:
    store = gitsm.init(tmp_path / "m")
    store.install_merge_driver()
    store.create_secret("app", secret_string="one")
    where = tmp_path / "m"
    base = str(store.repo.tip().commit_id)
    run_git(where, "checkout", "-q", "-b", "side")
    SecretStore.open(where).update_secret("app", secret_string="side")
    run_git(where, "checkout", "-q", "main")
    SecretStore.open(where).update_secret("app", secret_string="main")
    merged = run_git(where, "merge", "--no-edit", "side", check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert verify_range(where, f"{base}..main") == []
    manifest = where / paths.manifest_path("app")
    run_git(where, "checkout", "-q", "-b", "tampered", "main~1")
    run_git(where, "merge", "--no-commit", "side", check=False)
    manifest.write_text(manifest.read_text().replace('stages: ["AWSCURRENT"]', "stages: []", 1))
    run_git(where, "commit", "-q", "-am", "merge, with an edit")
    found = [str(p) for p in verify_range(where, f"{base}..tampered")]
    assert any("beyond merging its parents" in p for p in found), found


def test_require_signed_names_unsigned_and_unallowed_commits(tmp_path: Path) -> None:
    """verify --range --require-signed: commits gitsm signed with an allowed key pass; an
    unsigned commit and one signed by a stranger are each a problem naming the commit."""
    from tests.signing_keys import make_ssh_keys, sign_with

    keys = make_ssh_keys(tmp_path / "keys")
    store = gitsm.init(tmp_path / "s")
    where = tmp_path / "s"
    base = str(store.repo.tip().commit_id)
    sign_with(where, keys.alice)
    store.create_secret("app", secret_string="one")
    store.update_secret("app", secret_string="two")
    good = run_gitsm(["verify", "--range", f"{base}..main", "--require-signed",
                      "--allowed-signers", str(keys.allowed)], cwd=where)  # fmt: skip
    assert good.returncode == 0, good.stdout + good.stderr
    signed_tip = str(store.repo.tip().commit_id)
    run_git(where, "config", "commit.gpgsign", "false")
    sign_with(where, keys.eve)
    SecretStore.open(where).tag_resource("app", [{"Key": "by", "Value": "eve"}])
    eve = run_git(where, "rev-parse", "main").stdout.strip()
    run_git(where, "config", "commit.gpgsign", "false")
    from tests.signing_keys import forget_config

    forget_config()
    SecretStore.open(where).tag_resource("app", [{"Key": "signed", "Value": "no"}])
    unsigned = run_git(where, "rev-parse", "main").stdout.strip()
    bad = run_gitsm(["verify", "--range", f"{signed_tip}..main", "--require-signed",
                     "--allowed-signers", str(keys.allowed)], cwd=where)  # fmt: skip
    assert bad.returncode == 1
    lines = bad.stdout.decode().splitlines()
    assert any(line.startswith(eve) for line in lines) and any(
        line.startswith(unsigned) for line in lines
    )
    usage = run_gitsm(["verify", "--require-signed"], cwd=where)
    assert usage.returncode == 252


def test_rotation_changed_outside_the_rotation_operations(history: Path, tmp_path: Path) -> None:
    store, base = branch_off(history, tmp_path)
    secret = store.describe_secret("rotated")
    assert secret.rotation is not None and not secret.rotation.enabled
    turned_on = replace(secret, rotation=replace(secret.rotation, enabled=True))
    forge(store, {paths.manifest_path("rotated"): dump_secret(turned_on)},
          trailers("TagResource", "rotated"))  # fmt: skip
    current = turned_on.version_with_stage(AWSCURRENT)
    previous = turned_on.version_with_stage(AWSPREVIOUS)
    assert current and previous
    swapped = {current: [AWSPREVIOUS], previous: [AWSCURRENT]}
    versions = {
        v: replace(i, stages=swapped.get(v, i.stages)) for v, i in turned_on.versions.items()
    }
    assert turned_on.rotation is not None
    recorded = replace(turned_on.rotation, last_rotated=datetime.now(UTC))
    rolled_back = replace(turned_on, versions=versions, rotation=recorded)
    forge(store, {paths.manifest_path("rotated"): dump_secret(rolled_back)},
          trailers("RotationSucceeded", "rotated", Client_Request_Token=current))  # fmt: skip
    config = store.config()
    evil = replace(
        config,
        rotation_functions=config.rotation_functions
        | {"evil": RotationFunction(("sh", "-c", "true"))},
    )
    forge(store, {paths.CONFIG_PATH: evil.dump()}, trailers("SetDefaultKey", "", Key_Id="x"))
    found = problems_of(store, base)
    assert any("changes the rotation settings outside RotateSecret" in p for p in found), found
    assert any("records the end of rotation" in p and "which was not in progress" in p
               for p in found), found  # fmt: skip
    assert any("moves labels outside an operation that moves them" in p for p in found), found
    assert any("changes rotation function(s) evil outside a RegisterRotationFunction" in p
               for p in found), found  # fmt: skip


def test_the_default_function_changed_outside_its_operation(history: Path, tmp_path: Path) -> None:
    store, base = branch_off(history, tmp_path)
    config = store.config()
    assert config.default_rotation_function is None and "noop" in config.rotation_functions
    forge(store, {paths.CONFIG_PATH: replace(config, default_rotation_function="noop").dump()},
          trailers("RegisterRotationFunction", "", Rotation_Function="noop"))  # fmt: skip
    forge(store, {paths.CONFIG_PATH: replace(config, default_rotation_function="nope").dump()},
          trailers("SetDefaultRotationFunction", "", Rotation_Function="nope"))  # fmt: skip
    secret = store.describe_secret("rotated")
    assert secret.rotation is not None and secret.rotation.lambda_arn is not None
    unset = replace(secret, rotation=replace(secret.rotation, enabled=True, lambda_arn=None))
    forge(store, {paths.manifest_path("rotated"): dump_secret(unset)},
          trailers("RotateSecret", "rotated", Rotate_Immediately="false"))  # fmt: skip
    found = problems_of(store, base)
    assert any("changes the default rotation function outside a SetDefaultRotationFunction" in p
               for p in found), found  # fmt: skip
    assert any("makes nope the default rotation function, which is not registered" in p
               for p in found), found  # fmt: skip
    assert any("removes the rotation function, which RotateSecret never does" in p
               for p in found), found  # fmt: skip


def test_a_rotation_test_end_removes_only_its_pending_version(
    history: Path, tmp_path: Path
) -> None:
    """RotationTestEnded may remove the version its token names while it has no label but
    AWSPENDING and is not the rotation in progress; removing the AWSCURRENT version under that
    name is refused."""
    store, base = branch_off(history, tmp_path)
    secret = store.describe_secret("app")
    current = secret.version_with_stage(AWSCURRENT)
    assert current is not None
    del secret.versions[current]
    forge(store, {paths.manifest_path("app"): dump_secret(secret),
                  paths.version_path("app", current): None},
          trailers("RotationTestEnded", "app", Secret_Arn=secret.arn,
                   Client_Request_Token=current))  # fmt: skip
    found = problems_of(store, base)
    assert any("removes a version outside pruning or a deletion" in p for p in found), found
