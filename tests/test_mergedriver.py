"""The merge driver: semantic three-way merges of manifests and the config, alone and under git."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import gitsm
from gitsm import labels, paths
from gitsm.errors import LimitExceededException
from gitsm.manifest import StoreConfig, dump_secret, load_secret
from gitsm.merge3 import merge_config, merge_secret
from gitsm.mergedriver import ATTRIBUTES, attributes_text, merge_file
from gitsm.model import AWSCURRENT, AWSPENDING, AWSPREVIOUS, Secret, VersionInfo
from gitsm.store import SecretStore
from gitsm.verify import run_verify
from tests.cli.conftest import run_gitsm
from tests.gitremote import fsck, run_git

T0 = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf"


def secret(versions: dict[str, list[str]], **fields: object) -> Secret:
    infos = {  # a version's creation time depends only on its id, as in a store
        vid: VersionInfo(vid, T0 + timedelta(seconds=ord(vid[0])), "string",
                         ["alias/aws/secretsmanager"], st)
        for vid, st in versions.items()
    }  # fmt: skip
    return Secret("app", ARN, T0, T0, versions=infos, **fields)  # type: ignore[arg-type]


V = [f"{c}" * 32 for c in "abcdefgh"]


# -- labels ---------------------------------------------------------------------------------------


def test_later_current_move_wins_and_previous_follows_the_first_sides_current() -> None:
    base = {V[0]: [AWSCURRENT]}
    first = {V[0]: [AWSPREVIOUS], V[1]: [AWSCURRENT]}
    later = {V[0]: [AWSPREVIOUS], V[2]: [AWSCURRENT]}
    out = labels.replay_moves(base, later, first)
    assert out == {V[0]: [], V[1]: [AWSPREVIOUS], V[2]: [AWSCURRENT]}
    assert labels.invariant_problems(out) == []


def test_later_removals_and_custom_labels() -> None:
    base = {V[0]: [AWSCURRENT, "BLUE"], V[1]: [AWSPENDING]}
    first = {V[0]: [AWSCURRENT], V[1]: [AWSPENDING, "BLUE"]}  # first moved BLUE
    later = {V[0]: [AWSCURRENT, "BLUE", "GREEN"], V[1]: []}  # later removed AWSPENDING
    out = labels.replay_moves(base, later, first)
    assert out == {V[0]: [AWSCURRENT, "GREEN"], V[1]: ["BLUE"]}


def test_label_limit_is_enforced() -> None:
    many = [f"L{i}" for i in range(20)]
    with pytest.raises(LimitExceededException):
        labels.replay_moves({V[0]: [AWSCURRENT]}, {V[0]: [AWSCURRENT, *many]},
                            {V[0]: [AWSCURRENT, "X"]})  # fmt: skip


# -- manifests and config ---------------------------------------------------------------------


def test_versions_of_both_sides_are_kept_and_pruned_ones_stay_pruned() -> None:
    base = secret({V[0]: [], V[1]: [AWSCURRENT]})
    first = secret({V[1]: [AWSPREVIOUS], V[2]: [AWSCURRENT]})  # pruned V0, added V2
    later = secret({V[0]: [], V[1]: [AWSPREVIOUS], V[3]: [AWSCURRENT]},
                   tags=[("team", "db")], description="later")  # fmt: skip
    merged, conflicts = merge_secret(base, first, later)
    assert conflicts == []
    assert list(merged.versions) == [V[1], V[2], V[3]]
    assert merged.stage_map() == {V[1]: [], V[2]: [AWSPREVIOUS], V[3]: [AWSCURRENT]}
    assert (merged.tags, merged.description) == ([("team", "db")], "later")


def test_conflicts_name_the_fact() -> None:
    base = secret({V[0]: [AWSCURRENT]}, description="old")
    first = secret({V[0]: [AWSCURRENT]}, description="one", tags=[("k", "1")])
    later = secret({V[0]: [AWSCURRENT]}, description="two", tags=[("k", "2")])
    merged, conflicts = merge_secret(base, first, later)
    assert [c.field for c in conflicts] == ["description", "tag k"]
    assert merged.description == "one"
    assert merge_secret(base, first, later, prefer_later=True)[0].description == "two"
    deleted = secret({V[0]: [AWSCURRENT]}, deleted_date=T0, deletion_date=T0 + timedelta(days=7))
    added = secret({V[0]: [AWSPREVIOUS], V[1]: [AWSCURRENT]})
    _, conflicts = merge_secret(base, deleted, added)
    assert [c.field for c in conflicts] == ["deletion"] and "new version" in str(conflicts[0])
    other = Secret("app", ARN[:-6] + "ZZZZZZ", T0, T0)
    assert [c.field for c in merge_secret(None, first, other)[1]] == ["arn"]


def test_having_had_tags_merges_as_a_fact_that_only_grows() -> None:
    """``tags: []`` (a secret whose last tag was removed: DescribeSecret answers ``"Tags": []``)
    survives a merge with a side that never touched tags; untagged on all sides stays None."""
    never = secret({V[0]: [AWSCURRENT]})
    emptied = secret({V[0]: [AWSCURRENT]}, tags=[])
    tagged = secret({V[0]: [AWSCURRENT]}, tags=[("k", "v")])
    assert merge_secret(never, never, never)[0].tags is None
    assert merge_secret(never, emptied, never)[0].tags == []
    assert merge_secret(never, never, emptied)[0].tags == []
    assert merge_secret(tagged, emptied, tagged) == (emptied, [])
    assert merge_secret(tagged, tagged, emptied) == (emptied, [])
    both = merge_secret(never, emptied, secret({V[0]: [AWSCURRENT]}, tags=[("x", "y")]))
    assert both == (secret({V[0]: [AWSCURRENT]}, tags=[("x", "y")]), [])
    for side in (never, emptied, tagged):  # the canonical form round-trips each state
        assert load_secret(dump_secret(side), "m") == side


def test_config_aliases_merge_alias_by_alias() -> None:
    base = StoreConfig(
        "123456789012", "us-east-1", keys={"alias/a": [{"provider": "local", "key_id": "k1"}]}
    )
    ours = StoreConfig("123456789012", "us-east-1", keys={
        "alias/a": [{"provider": "local", "key_id": "k1"}, {"provider": "local", "key_id": "k2"}],
        "alias/ours": [{"provider": "local", "key_id": "k3"}]})  # fmt: skip
    theirs = StoreConfig("123456789012", "us-east-1", keys={
        "alias/a": [{"provider": "local", "key_id": "k1"}, {"provider": "local", "key_id": "k4"}],
        "alias/theirs": [{"provider": "local", "key_id": "k5"}]})  # fmt: skip
    merged, conflicts = merge_config(base, ours, theirs)
    assert conflicts == []
    assert [r["key_id"] for r in merged.keys["alias/a"]] == ["k1", "k2", "k4"]
    assert set(merged.keys) == {"alias/a", "alias/ours", "alias/theirs"}
    twice = StoreConfig(  # alias/ours created on both sides with other recipients
        "123456789012", "us-east-1",
        keys={**base.keys, "alias/ours": [{"provider": "local", "key_id": "k9"}]},
    )  # fmt: skip
    _, conflicts = merge_config(base, ours, twice)
    assert [c.alias for c in conflicts] == ["alias/ours"]


def test_conflict_markers_hold_both_readings() -> None:
    base = dump_secret(secret({V[0]: [AWSCURRENT]}, description="old"))
    ours = dump_secret(secret({V[0]: [AWSCURRENT]}, description="ours"))
    theirs = dump_secret(secret({V[0]: [AWSCURRENT]}, description="theirs"))
    text, conflicts = merge_file("secrets/app/~secret.yaml", base, ours, theirs, ours_later=True)
    assert len(conflicts) == 1
    lines = text.decode().splitlines()
    assert lines[0].startswith("# gitsm merge conflict: description")
    start = lines.index("<<<<<<< ours")
    assert lines[start:start + 5] == ["<<<<<<< ours", 'description: "ours"', "=======",
                                      'description: "theirs"', ">>>>>>> theirs"]  # fmt: skip
    clean, none = merge_file("secrets/app/~secret.yaml", base, ours, base, ours_later=False)
    assert none == [] and load_secret(clean, "x").description == "ours"


def test_attributes_are_added_once() -> None:
    text = attributes_text(b"*.png binary")
    assert text is not None and text.decode().splitlines() == ["*.png binary", *ATTRIBUTES]
    assert attributes_text(text) is None


# -- under git --------------------------------------------------------------------------------


def two_clones(tmp_path: Path) -> tuple[SecretStore, SecretStore, Path]:
    """Clones alice and bob of a new origin holding secret ``app``, each with the merge driver
    installed; and the origin."""
    origin = tmp_path / "origin.git"
    run_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    seed = gitsm.init(tmp_path / "seed")
    seed.create_secret("app", secret_string="first")
    run_git(tmp_path / "seed", "push", "-q", str(origin), "main")
    stores = []
    for name in ("alice", "bob"):
        run_git(tmp_path, "clone", "-q", str(origin), name)
        store = SecretStore.open(tmp_path / name)
        assert store.install_merge_driver().config_changed
        stores.append(store)
    return stores[0], stores[1], origin


def _where(store: SecretStore) -> Path:
    assert store.repo.workdir is not None
    return store.repo.workdir


def test_git_pull_merges_manifests_cleanly_and_your_side_is_last(tmp_path: Path) -> None:
    alice, bob, _ = two_clones(tmp_path)
    mine = alice.update_secret("app", secret_string="alice", description="d").version_id
    alice.tag_resource("app", [{"Key": "a", "Value": "1"}])
    alice.create_key_alias("alias/alice", [alice.create_local_key()])
    theirs = bob.update_secret("app", secret_string="bob").version_id
    bob.tag_resource("app", [{"Key": "b", "Value": "2"}])
    bob.create_key_alias("alias/bob", [bob.create_local_key()])
    run_git(_where(bob), "push", "-q", "origin", "main")
    pulled = run_git(
        _where(alice), "pull", "--no-rebase", "--no-edit", "origin", "main", check=False
    )
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    described = alice.describe_secret("app")
    assert described.versions[mine].stages == [AWSCURRENT]  # alice pushes after bob
    assert described.versions[theirs].stages == [AWSPREVIOUS]
    assert described.tags == [("b", "2"), ("a", "1")] and described.description == "d"
    assert {"alias/alice", "alias/bob"} <= set(alice.config().keys)
    tip = alice.repo.tip()
    assert tip.read(paths.manifest_path("app")) == dump_secret(described)  # canonical
    assert (
        run_verify(_where(alice)) == []
        and run_git(_where(alice), "status", "--porcelain").stdout == ""
    )
    fsck(_where(alice))


def test_git_pull_rebase_puts_the_picked_commit_last(tmp_path: Path) -> None:
    alice, bob, _ = two_clones(tmp_path)
    mine = alice.update_secret("app", secret_string="alice").version_id
    theirs = bob.update_secret("app", secret_string="bob").version_id
    run_git(_where(bob), "push", "-q", "origin", "main")
    pulled = run_git(_where(alice), "pull", "--rebase", "origin", "main", check=False)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    stages = alice.describe_secret("app").versions
    assert stages[mine].stages == [AWSCURRENT] and stages[theirs].stages == [AWSPREVIOUS]
    assert run_verify(_where(alice)) == []


def test_a_real_conflict_stops_with_markers_and_blocks_writes(tmp_path: Path) -> None:
    alice, bob, _ = two_clones(tmp_path)
    alice.update_secret("app", description="alice's")
    bob.update_secret("app", description="bob's")
    run_git(_where(bob), "push", "-q", "origin", "main")
    pulled = run_git(
        _where(alice), "pull", "--no-rebase", "--no-edit", "origin", "main", check=False
    )
    assert pulled.returncode != 0 and "CONFLICT" in pulled.stdout
    text = (_where(alice) / paths.manifest_path("app")).read_text()
    assert "# gitsm merge conflict: description" in text and "<<<<<<< ours" in text
    assert 'description: "alice\'s"' in text and 'description: "bob\'s"' in text
    problems = run_verify(_where(alice))
    assert any("unmerged" in p.problem for p in problems)
    out = run_gitsm(["put-secret-value", "--secret-id", "app", "--secret-string", "x"],
                    cwd=_where(alice))  # fmt: skip
    assert out.returncode == 253 and b"git merge --abort" in out.stderr


def test_a_deletion_against_a_new_version_conflicts(tmp_path: Path) -> None:
    alice, bob, _ = two_clones(tmp_path)
    alice.delete_secret("app", recovery_window_in_days=7)
    bob.put_secret_value("app", secret_string="new")
    run_git(_where(bob), "push", "-q", "origin", "main")
    pulled = run_git(
        _where(alice), "pull", "--no-rebase", "--no-edit", "origin", "main", check=False
    )
    assert pulled.returncode != 0
    assert (
        "# gitsm merge conflict: deletion"
        in (_where(alice) / paths.manifest_path("app")).read_text()
    )


def test_one_token_two_envelopes_conflicts_instead_of_merging_text(tmp_path: Path) -> None:
    alice, bob, _ = two_clones(tmp_path)
    token = "same-token-0123456789abcdef0123456789"
    alice.put_secret_value("app", secret_string="alice", client_request_token=token)
    bob.put_secret_value("app", secret_string="bob", client_request_token=token)
    run_git(_where(bob), "push", "-q", "origin", "main")
    pulled = run_git(
        _where(alice), "pull", "--no-rebase", "--no-edit", "origin", "main", check=False
    )
    assert pulled.returncode != 0
    assert f"{paths.VERSIONS}/{token}.json" in pulled.stdout


def test_merging_a_local_branch_puts_that_branch_last(tmp_path: Path) -> None:
    alice, _, _ = two_clones(tmp_path)
    where = _where(alice)
    run_git(where, "checkout", "-q", "-b", "feature")
    on_feature = SecretStore.open(where)  # a store handle follows the branch HEAD names
    feature = on_feature.update_secret("app", secret_string="feature").version_id
    run_git(where, "checkout", "-q", "main")
    main = SecretStore.open(where).update_secret("app", secret_string="main").version_id
    merged = run_git(where, "merge", "--no-edit", "feature", check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    stages = SecretStore.open(where).describe_secret("app").versions
    assert stages[feature].stages == [AWSCURRENT] and stages[main].stages == [AWSPREVIOUS]


def test_gitsm_init_in_an_existing_clone_sets_up_the_driver(tmp_path: Path) -> None:
    """An older store without gitsm's .gitattributes lines: gitsm init in a clone adds them in one
    commit and registers the driver in the clone's config; running it again changes nothing."""
    origin = tmp_path / "origin.git"
    run_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    seed = gitsm.init(tmp_path / "seed")
    run_git(tmp_path / "seed", "rm", "-q", ".gitattributes")
    run_git(tmp_path / "seed", "commit", "-q", "-m", "an older store had no .gitattributes")
    run_git(tmp_path / "seed", "push", "-q", str(origin), "main")
    del seed
    run_git(tmp_path, "clone", "-q", str(origin), "clone")
    clone = tmp_path / "clone"
    first = json.loads(run_gitsm(["init"], cwd=clone).stdout)
    assert first["MergeDriver"] == "configured" and first["AttributesCommit"]
    assert (
        run_git(
            clone, "log", "-1", "--format=%(trailers:key=Gitsm-Operation,valueonly)"
        ).stdout.strip()
        == "SetGitAttributes"
    )
    assert "merge=gitsm" in (clone / ".gitattributes").read_text()
    driver = run_git(clone, "config", "merge.gitsm.driver").stdout
    assert "-m gitsm.mergedriver %O %A %B %P %L" in driver
    again = json.loads(run_gitsm(["init"], cwd=clone).stdout)
    assert again["MergeDriver"] == "unchanged" and "AttributesCommit" not in again
    assert run_git(clone, "status", "--porcelain").stdout == ""
