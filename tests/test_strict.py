"""The strict readers (gitsm.strict, gitsm.manifest, gitsm.envelope): each limit and type check,
on both manifest parsers, refused with its own path, problem and fix; alias bombs refused before
anything is expanded; writes refused before they make a file that readers would refuse."""

from __future__ import annotations

import json
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from gitsm import envelope, paths, strict
from gitsm.errors import (
    EXIT_ENVIRONMENT,
    EXIT_OPERATION,
    DecryptionFailure,
    LimitExceededException,
    MalformedEnvelope,
    MalformedStoreFile,
    StoreError,
)
from gitsm.manifest import StoreConfig, _fast_doc, dump_secret, load_secret
from gitsm.model import MANIFEST_MAX_BYTES, Secret, VersionInfo
from gitsm.problems import mode_problem
from gitsm.store import SecretStore
from tests.hostile import bomb

WHEN = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
VID = "0123456789abcdef0123456789abcdef"
PATH = "secrets/app/~secret.yaml"


def secret(**changes: object) -> Secret:
    """A small valid secret, with ``changes`` applied."""
    base = Secret(
        name="app",
        arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf",
        created=WHEN,
        last_changed=WHEN,
        tags=[("team", "payments")],
        versions={
            VID: VersionInfo(VID, WHEN, "string", ["alias/aws/secretsmanager"], ["AWSCURRENT"])
        },
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def refusal(data: bytes, path: str = PATH) -> MalformedStoreFile:
    with pytest.raises(MalformedStoreFile) as info:
        load_secret(data, path)
    return info.value


def test_a_refusal_carries_path_problem_and_fix_and_is_a_store_error() -> None:
    exc = refusal(dump_secret(secret(description="x" * 2049)))
    assert isinstance(exc, StoreError) and exc.exit_code == EXIT_ENVIRONMENT
    assert exc.code == "MalformedStoreFile"
    assert exc.path == PATH
    assert (
        exc.problem == "is malformed: description is 2,049 characters long, over the limit of 2,048"
    )
    assert exc.fix.startswith("restore it from git history")
    assert exc.message.startswith(f"The store file {PATH} {exc.problem}. Restore it from git")
    assert f"git log -- {PATH}" in exc.message  # the fix names the file


def test_alias_bombs_are_refused_before_anything_is_expanded() -> None:
    """A bomb of 10**40 leaves: expanding any part of it would never finish; the refusal takes
    milliseconds and almost no memory, for a manifest and for the config."""
    huge = bomb(depth=40, width=10)
    manifest = dump_secret(secret()).replace(b"format: 1\n", b"format: 1\n" + huge.encode(), 1)
    manifest = manifest.replace(b'kms_key_ids: ["alias/aws/secretsmanager"]', b"kms_key_ids: *a39")
    config = StoreConfig("123456789012", "us-east-1").dump() + huge.encode() + b"more: *a39\n"
    for load in (lambda: load_secret(manifest, PATH), lambda: StoreConfig.load(config)):
        tracemalloc.start()
        start = time.process_time()  # CPU seconds: a guard against an expanded bomb
        with pytest.raises(MalformedStoreFile, match=r"uses a YAML anchor \(&a0\)"):
            load()
        elapsed = time.process_time() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert elapsed < 0.5 and peak < 2_000_000, (elapsed, peak)


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        ("description: *a", "uses a YAML alias (*a)"),
        ("description: &a x", "uses a YAML anchor (&a)"),
        ("description: !!str x", "uses a YAML tag (tag:yaml.org,2002:str)"),
        ("description: ! x", "uses a YAML tag (!)"),
        ("description: !!python/name:os.system x", "uses a YAML tag (tag:yaml.org,2002:python/"),
        ("tags: !!set {a: null}", "uses a YAML tag (tag:yaml.org,2002:set)"),
        ("description: [[[[[[[[x]]]]]]]]", "nests mappings and lists deeper than 8 levels"),
        ("description: [" + "a, " * 20_000 + "]", "holds more than 20,000 YAML values"),
        ("description: 1" + ":30" * 1366, "holds an unquoted value of 4,099 characters, over"),
        ("description: " + "x" * 4096, "is malformed: description is 4,096 characters long"),
        ("description: x\n---\nname: y", "holds more than one YAML document"),
        ("description: 1" + ":30" * 1300 + ".5", "holds a value YAML cannot read"),
        ("description: 2026-02-30", "holds a value YAML cannot read"),
        ("description: [unclosed", "is not valid YAML ("),
    ],
)
def test_yaml_constructs_gitsm_does_not_write_are_refused(yaml_text: str, problem: str) -> None:
    hand = dump_secret(secret()).decode().replace('"', "")  # plain YAML: not the canonical form
    data = hand.replace("\ncreated:", f"\n{yaml_text}\ncreated:", 1).encode()
    assert _fast_doc(data) is None
    assert problem in refusal(data).problem


def test_hand_written_yaml_without_such_constructs_still_reads() -> None:
    hand = dump_secret(secret()).decode().replace('"', "").encode()
    assert _fast_doc(hand) is None
    assert load_secret(hand, PATH) == secret()


CANONICAL_LIMITS = [  # what the canonical fast path reads, past AWS's limits by one
    (dict(description="d" * 2049), "description is 2,049 characters long, over the limit of 2,048"),
    (dict(name="n" * 513), "name is 513 characters long, over the limit of 512"),
    (dict(arn=""), "arn is empty"),
    (dict(kms_key_id="k" * 2049), "kms_key_id is 2,049 characters long"),
    (dict(tags=[("t" * 129, "v")]), "tags[0].key is 129 characters long, over the limit of 128"),
    (dict(tags=[("t", "v" * 257)]), "tags[0].value is 257 characters long, over the limit of 256"),
    (dict(tags=[("", "v")]), "tags[0].key is empty"),
    (dict(tags=[(f"t{i}", "v") for i in range(51)]), "tags has 51 entries, over the limit of 50"),
    (dict(versions={"v" * 31: VersionInfo("v" * 31, WHEN, "string", [], [])}),
     "has a VersionId that is not a string of 32-64 characters"),
    (dict(versions={"v" * 65: VersionInfo("v" * 65, WHEN, "string", [], [])}),
     "has a VersionId that is not a string of 32-64 characters"),
    (dict(versions={VID: VersionInfo(VID, WHEN, "string", [], ["L" * 257])}),
     "stages[0] is 257 characters long, over the limit of 256"),
    (dict(versions={VID: VersionInfo(VID, WHEN, "string", [], [f"L{i}" for i in range(21)])}),
     "stages has 21 entries, over the limit of 20"),
    (dict(versions={VID: VersionInfo(VID, WHEN, "string", [""], [])}), "kms_key_ids[0] is empty"),
    (dict(versions={VID: VersionInfo(VID, WHEN, "string", ["k"] * 21, [])}),
     "kms_key_ids has 21 entries, over the limit of 20"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "problem"), CANONICAL_LIMITS)
def test_the_fast_path_and_yaml_get_the_same_limits(
    changes: dict[str, object], problem: str
) -> None:
    data = dump_secret(secret(**changes))
    assert _fast_doc(data) is not None  # canonical: the line parser reads it
    assert problem in refusal(data).problem
    hand = data.replace(b"format: 1\n", b"# edited\nformat: 1\n")  # the same through PyYAML
    assert _fast_doc(hand) is None
    assert problem in refusal(hand).problem


def test_values_at_the_limits_read() -> None:
    at_limits = secret(
        description="d" * 2048, name="n" * 512, kms_key_id="k" * 2048,
        tags=[(f"{i:03d}" + "t" * 125, "v" * 256) for i in range(50)],
        versions={"v" * 64: VersionInfo("v" * 64, WHEN, "binary", ["k"] * 20,
                                        [f"{i:02d}" + "L" * 254 for i in range(20)])},
    )  # fmt: skip
    data = dump_secret(at_limits)
    assert load_secret(data, PATH) == at_limits


def test_the_byte_limit_comes_first_on_both_paths() -> None:
    data = dump_secret(secret())
    over = data.replace(
        b"\ncreated:", b'\ndescription: "' + b"d" * MANIFEST_MAX_BYTES + b'"\ncreated:'
    )
    exc = refusal(over)
    assert exc.problem == f"is {len(over):,} bytes, over the limit of a manifest (262,144 bytes)"
    assert "over the limit of a manifest" in refusal(b"# x\n" + over).problem


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("description: {a: [1, 2]}", "description is a mapping, not a string"),
        ("description: 5", "description is a number, not a string"),
        ("created: 5", "created is a number, not a string"),
        ("created: 2026-01-01", "created is a date without a time, not a string"),
        ("created: not a time", "created is not a timestamp ('not a time')"),
        ("created: '2026-01-01T00:00:00'", "created is a timestamp without a time zone"),
        ("tags: x", "tags is a string, not a list"),
        ("tags: [x]", "tags[0] is a string, not a mapping"),
        ("tags: [{key: k}]", "tags[0].value is missing"),
        ("versions: [1]", "versions is a list, not a mapping"),
        ("versions: {" + VID + ": [1]}", f"versions['{VID}'] is a list, not a mapping"),
        ("versions: {" + VID + ": {created: '2026-01-01T00:00:00Z', type: text}}",
         "type is 'text', an unknown value type"),
        ("versions: {" + VID + ": {created: '2026-01-01T00:00:00Z', type: string, stages: x}}",
         "stages is a string, not a list"),
        ("versions: {" + VID + ": {created: '2026-01-01T00:00:00Z', type: string, stages: [[x]]}}",
         "stages[0] is a list, not a string"),
        ("versions: {12345678901234567890123456789012: {}}", "has a VersionId that is not a string"),
        ("format: true", "has no format number"),
        ("format: 2", "uses store format 2, newer than this gitsm reads (1)"),
        ("format: 0", "has unknown format 0"),
    ],
)  # fmt: skip
def test_a_field_of_the_wrong_type_is_refused_by_name(line: str, problem: str) -> None:
    key, value = line.split(": ", 1)
    doc = yaml.safe_load(dump_secret(secret()))
    doc[key] = yaml.safe_load(value)
    data = yaml.safe_dump(doc, sort_keys=False).encode()
    assert problem in refusal(data).problem


def config_text(**changes: str) -> bytes:
    doc = yaml.safe_load(StoreConfig("123456789012", "us-east-1").dump())
    doc.update({key: yaml.safe_load(value) for key, value in changes.items()})
    return yaml.safe_dump(doc, sort_keys=False).encode()


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (dict(format="'1'"), "has no format number"),
        (dict(account_id="'abc'"), "account_id is 'abc', not 12 digits"),
        (dict(account_id="123456789012"), "account_id is a number, not a string"),
        (dict(region="[us]"), "region is a list, not a string"),
        (dict(keys="[1]"), "keys is a list, not a mapping"),
        (dict(keys="{alias/x: {provider: local}}"), "keys['alias/x'] is a mapping, not a list of 1-256"),
        (dict(keys="{alias/x: []}"), "keys['alias/x'] is a list, not a list of 1-256"),
        (dict(keys="{alias/x: [[local, k]]}"), "keys['alias/x'][0] is a list, not a mapping"),
        (dict(keys="{alias/x: [{provider: local}]}"), "keys['alias/x'][0].key_id is missing"),
        (dict(keys="{alias/x: [{provider: local, key_id: 5}]}"),
         "keys['alias/x'][0].key_id is a number, not a string"),
        (dict(keys="{alias/x: [{a: '1', b: '2', c: '3', d: '4', e: '5', f: '6', g: '7', "
                   "provider: local, key_id: k}]}"), "has 9 fields, over the limit of 8"),
        (dict(keys="{alias/x: [" + ", ".join(["{provider: local, key_id: k}"] * 257) + "]}"),
         "not a list of 1-256 recipients"),
        (dict(retention="x"), "retention is a string, not a mapping"),
        (dict(retention="{max_versions: '100'}"), "retention.max_versions is a string, not an integer"),
        (dict(retention="{max_versions: true}"), "retention.max_versions is true or false"),
        (dict(retention="{max_versions: 0}"), "retention.max_versions is 0, outside 1 to 1e+06"),
        (dict(retention="{min_version_age_hours: -1}"), "is -1, outside 0 to 1e+06"),
        (dict(retention="{min_version_age_hours: .nan}"), "is nan, outside 0 to 1e+06"),
        (dict(default_kms_key_id="{a: 1}"), "default_kms_key_id is a mapping, not a string"),
    ],
)  # fmt: skip
def test_config_fields_are_checked(changes: dict[str, str], problem: str) -> None:
    with pytest.raises(MalformedStoreFile) as info:
        StoreConfig.load(config_text(**changes))
    assert info.value.path == paths.CONFIG_PATH
    assert problem in info.value.problem, info.value.problem


def test_a_config_written_by_gitsm_reads_back() -> None:
    config = StoreConfig("123456789012", "eu-west-1", keys={
        "alias/team": [{"provider": "age", "key_id": f"age1{i:058d}"} for i in range(256)]})  # fmt: skip
    assert StoreConfig.load(config.dump()) == config


ENVELOPE = {
    "cipher": "AES-256-GCM", "ciphertext": "AAAAAAAAAAAAAAAAAAAAAA==", "format": 1,
    "keys": [{"key_id": "k", "provider": "local", "wrapped": "AAAA"}], "nonce": "AAAAAAAAAAAAAAAA",
    "secret": "app", "type": "string", "version_id": VID,
}  # fmt: skip


def envelope_bytes(**changes: object) -> bytes:
    return (json.dumps({**ENVELOPE, **changes}, indent=2, sort_keys=True) + "\n").encode()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b" " * 1024 * 1024 + b"{}", "is 1,048,578 bytes, over the limit of an envelope"),
        (b"[" * 50_000 + b"]" * 50_000, "is not valid JSON"),
        (b"[]\n", "is not a JSON object"),
        (envelope_bytes(format=2), "uses store format 2, newer than this gitsm reads (1)"),
        (envelope_bytes(format="1"), "has no format number"),
        (envelope_bytes(extra={"deep": [[[]]]}), "has an unknown field 'extra'"),
        (envelope_bytes(ciphertext=5), "field ciphertext is a number, not a string"),
        (envelope_bytes(ciphertext="A" * 87_408), "field ciphertext is 87,408 characters long"),
        (envelope_bytes(secret="s" * 513), "field secret is 513 characters long"),
        (envelope_bytes(keys={"provider": "local"}), "field keys is a mapping, not a list of 1-256"),
        (envelope_bytes(keys=[]), "field keys is a list, not a list of 1-256 key stanzas"),
        (envelope_bytes(keys=[ENVELOPE["keys"][0]] * 257), "not a list of 1-256 key stanzas"),  # type: ignore[index]
        (envelope_bytes(keys=[["local", "k"]]), "key stanza 0 is a list, not an object"),
        (envelope_bytes(keys=[{"provider": "local", "key_id": "k", "age": "a" * 8193}]),
         "key stanza 0 has a field 'age' that is not a string of at most 8,192 characters"),
        (envelope_bytes(keys=[{"provider": "local", "key_id": ""}]),
         "key stanza 0 has no provider or no key_id"),
        (envelope_bytes()[:-1], "is not in canonical form"),
        (envelope_bytes(secret="other"), "belongs to another secret or version"),
    ],
)  # fmt: skip
def test_envelope_fields_are_checked(data: bytes, problem: str) -> None:
    with pytest.raises(MalformedEnvelope) as info:
        envelope.parse(data, name="app", version_id=VID)
    exc = info.value
    assert isinstance(exc, DecryptionFailure) and exc.exit_code == EXIT_OPERATION
    assert exc.code == "DecryptionFailure"
    assert exc.path == paths.version_path("app", VID)
    assert problem in exc.problem, exc.problem
    assert f"can't decrypt version {VID} of secret app: the envelope {exc.problem}" in exc.message


def test_an_envelope_of_the_largest_value_and_most_recipients_is_in_shape() -> None:
    stanzas = [
        {"provider": "age", "key_id": f"age1{i:058d}", "age": "a" * 1500} for i in range(256)
    ]
    data = envelope_bytes(ciphertext="A" * envelope.CIPHERTEXT_B64_MAX, keys=stanzas)
    assert len(data) < 1024 * 1024
    doc = envelope.parse(data, name="app", version_id=VID)
    assert len(doc["keys"]) == 256


def test_modes_other_than_a_regular_file_are_problems() -> None:
    assert mode_problem("p", 0o100644) is None
    problems = {mode: mode_problem("p", mode) for mode in (0o100755, 0o120000, 0o160000, 0o40000)}
    assert all(p is not None and "p" in p[1] for p in problems.values())
    assert "update-index --chmod=-x p" in (problems[0o100755] or ("", ""))[1]
    assert "symbolic link" in (problems[0o120000] or ("", ""))[0]
    assert "gitlink" in (problems[0o160000] or ("", ""))[0]
    assert "040000" in (problems[0o40000] or ("", ""))[0]


def test_a_write_that_would_pass_a_limit_is_refused_and_writes_nothing(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SecretStore.open(repo_path)
    store.create_secret("app", secret_string="limit-test-value-0")
    size = len(store.repo.tip().read(paths.manifest_path("app")) or b"")
    monkeypatch.setattr(strict, "MANIFEST_MAX_BYTES", size + 50)  # room for no other version
    tip = store.repo.tip().commit_id
    with pytest.raises(LimitExceededException, match="over the limit of a manifest") as info:
        store.put_secret_value("app", secret_string="limit-test-value-1")
    assert (
        "Nothing was written" in info.value.message and "limit-test-value" not in info.value.message
    )
    assert store.repo.tip().commit_id == tip


def test_a_key_alias_holds_at_most_256_recipients(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gitsm.store.keyops as keyops

    store = SecretStore.open(repo_path)
    ids = [store.create_local_key() for _ in range(3)]
    monkeypatch.setattr(keyops, "RECIPIENTS_MAX", 2)
    store.create_key_alias("alias/team", ids[:2])
    with pytest.raises(LimitExceededException, match="at most 2 recipients"):
        store.add_key_recipients("alias/team", ids[2:])
    assert len(store.config().keys["alias/team"]) == 2


def test_init_refuses_an_account_id_or_region_the_config_reader_would_refuse(
    tmp_path: Path,
) -> None:
    from gitsm.errors import InvalidParameterException

    with pytest.raises(InvalidParameterException, match="12 digits"):
        SecretStore.init(tmp_path / "a", account_id="12345")
    with pytest.raises(InvalidParameterException, match="1-64 characters"):
        SecretStore.init(tmp_path / "b", region="r" * 65)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_json_nested_too_deep_is_no_crash_wherever_a_tree_holds_it() -> None:
    """Anyone who can push (or encrypt to a recipient) can nest JSON deeper than the JSON reader
    goes: the leak guard looks for such a value whole, and sync compares such envelopes as bytes."""
    from gitsm.leaks import needles_of
    from gitsm.store.replay_base import _sealing

    deep = b"[" * 5000 + b"]" * 5000
    assert needles_of(deep, "string", "AWSCURRENT value of secret s") == {
        deep: "the AWSCURRENT value of secret s"
    }
    assert _sealing(deep) == (deep,)
    assert _sealing(envelope_bytes()) == (
        "app",
        VID,
        "string",
        ENVELOPE["nonce"],
        ENVELOPE["ciphertext"],
    )
