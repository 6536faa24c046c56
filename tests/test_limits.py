"""Input limits and version retention.

Every violation must raise the AWS error with a message that says what is wrong, and write nothing:
the branch does not move and (in a checkout) ``git status`` stays as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitsm import errors, paths
from gitsm.awsclient import ParamValidationError, SecretsManagerClient
from gitsm.store import SecretStore
from tests.conftest import Clock, commits, git

MAX = 65_536


def is_checkout(path: Path) -> bool:
    return (path / ".git").exists()


def state(path: Path) -> tuple[str, str | None]:
    """The branch tip and, for a checkout, ``git status --porcelain``."""
    head = git(path, "rev-parse", "HEAD")
    if not is_checkout(path):
        return head, None
    return head, git(path, "status", "--porcelain", "--untracked-files=all")


def refused(
    client: SecretsManagerClient,
    path: Path,
    code: str,
    call: Callable[[], object],
    *fragments: str,
) -> str:
    """Run ``call``, expect error ``code`` whose message holds ``fragments``; nothing written."""
    before = state(path)
    with pytest.raises(client.exceptions.ClientError) as info:
        call()
    err = info.value.response["Error"]
    assert err["Code"] == code, err
    for fragment in fragments:
        assert fragment in err["Message"], err
    assert state(path) == before
    message: str = err["Message"]
    return message


def refused_early(path: Path, call: Callable[[], object], *fragments: str) -> str:
    """Run ``call``, expect the ParamValidationError that boto3 raises before any request (a value
    below the model's minimum, or of the wrong type), holding ``fragments``; nothing written."""
    before = state(path)
    with pytest.raises(ParamValidationError) as info:
        call()
    for fragment in fragments:
        assert fragment in info.value.message, info.value.message
    assert state(path) == before
    return info.value.message


def tree(path: Path) -> list[str]:
    """Every file path on the branch tip, read NUL-separated so that no name is quoted."""
    return [p for p in git(path, "ls-tree", "-r", "-z", "HEAD", "--name-only").split("\0") if p]


# -- values -----------------------------------------------------------------------------------------


@pytest.fixture
def target(client: SecretsManagerClient) -> SecretsManagerClient:
    """A client with an existing secret ``t`` to write values into."""
    client.create_secret(Name="t", SecretString="start")
    return client


WRITERS: dict[str, Callable[[SecretsManagerClient, dict[str, Any]], dict[str, Any]]] = {
    "create": lambda c, v: c.create_secret(Name="new", **v),
    "put": lambda c, v: c.put_secret_value(SecretId="t", **v),
    "update": lambda c, v: c.update_secret(SecretId="t", **v),
}


def read_back(client: SecretsManagerClient, op: str, vid: str) -> dict[str, Any]:
    return client.get_secret_value(SecretId="new" if op == "create" else "t", VersionId=vid)


def test_value_sizes_accepted(target: SecretsManagerClient) -> None:
    for op in sorted(WRITERS):
        for size in (1, MAX):
            text = "s" * size
            vid = WRITERS[op](target, {"SecretString": text})["VersionId"]
            assert read_back(target, op, vid)["SecretString"] == text
            if op == "create":
                target.delete_secret(SecretId="new", ForceDeleteWithoutRecovery=True)
            data = bytes([0xFF]) * size
            vid = WRITERS[op](target, {"SecretBinary": data})["VersionId"]
            assert read_back(target, op, vid)["SecretBinary"] == data
            if op == "create":
                target.delete_secret(SecretId="new", ForceDeleteWithoutRecovery=True)


def test_value_sizes_refused(target: SecretsManagerClient, any_path: Path) -> None:
    for op in sorted(WRITERS):
        for kind, value in (("SecretString", "s"), ("SecretBinary", b"\x01")):
            for size in (0, MAX + 1):
                if (kind, size) == ("SecretString", 0):
                    continue  # below the model's min: boto3 refuses it first (below)
                refused(
                    target, any_path, "InvalidParameterException",
                    lambda k=kind, v=value * size, o=op: WRITERS[o](target, {k: v}),
                    kind, "65536", f"{size} bytes",
                )  # fmt: skip
        # botocore checks a string's min length (1) but neither a blob's nor any maximum.
        refused_early(
            any_path, lambda o=op: WRITERS[o](target, {"SecretString": ""}),
            "Invalid length for parameter SecretString, value: 0, valid min length: 1",
        )  # fmt: skip
    with pytest.raises(errors.InvalidParameterException, match="0 bytes"):  # the core's check
        target.store.put_secret_value("t", secret_string="")
    assert target.get_secret_value(SecretId="t")["SecretString"] == "start"


def test_string_size_counts_utf8_bytes(target: SecretsManagerClient, any_path: Path) -> None:
    for op in sorted(WRITERS):
        refused(
            target, any_path, "InvalidParameterException",
            lambda o=op: WRITERS[o](target, {"SecretString": "é" * (MAX // 2) + "a"}),
            f"{MAX + 1} bytes",
        )  # fmt: skip
        text = "é" * (MAX // 2)
        vid = WRITERS[op](target, {"SecretString": text})["VersionId"]
        assert read_back(target, op, vid)["SecretString"] == text


def test_string_and_binary_together_are_refused(
    target: SecretsManagerClient, any_path: Path
) -> None:
    for op in sorted(WRITERS):
        refused(
            target, any_path, "InvalidParameterException",
            lambda o=op: WRITERS[o](target, {"SecretString": "a", "SecretBinary": b"a"}),
            "SecretString", "SecretBinary",
        )  # fmt: skip


def test_wrong_value_types_are_refused(target: SecretsManagerClient, any_path: Path) -> None:
    # boto3 checks types before any request; the value itself is never shown (botocore would
    # print it: gitsm's errors never carry a secret value).
    message = refused_early(
        any_path, lambda: target.put_secret_value(SecretId="t", SecretString=b"bytes-value"),
        "Invalid type for parameter SecretString, value: ****, type: <class 'bytes'>, "
        "valid types: <class 'str'>",
    )  # fmt: skip
    assert "bytes-value" not in message
    refused_early(
        any_path, lambda: target.put_secret_value(SecretId="t", SecretBinary=12345),
        "Invalid type for parameter SecretBinary, value: ****, type: <class 'int'>, valid types: "
        "<class 'bytes'>, <class 'bytearray'>, file-like object",
    )  # fmt: skip
    # The core refuses them too, for callers of SecretStore.
    with pytest.raises(errors.InvalidParameterException, match="SecretString"):
        target.store.put_secret_value("t", secret_string=b"bytes")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidParameterException, match="SecretBinary"):
        target.store.put_secret_value("t", secret_binary="text")  # type: ignore[arg-type]
    assert target.get_secret_value(SecretId="t")["SecretString"] == "start"


# -- names ------------------------------------------------------------------------------------------

BAD_NAMES = [
    "a b", "a#b", "naïve", "日本", "a~b", "~secret.yaml", "a!b", "a*b", "a\nb", "a\x00b", "a\\b",
    "a:b", "a,b", "'quoted'", "tab\there",
]  # fmt: skip


def test_bad_characters_in_names_are_refused(client: SecretsManagerClient, any_path: Path) -> None:
    for name in BAD_NAMES:
        refused(
            client, any_path, "InvalidParameterException",
            lambda n=name: client.create_secret(Name=n, SecretString="x"),
            "Invalid name", "/_+=.@",
        )  # fmt: skip


def test_name_length_is_refused(client: SecretsManagerClient, any_path: Path) -> None:
    refused_early(
        any_path, lambda: client.create_secret(Name="", SecretString="x"),
        "Invalid length for parameter Name, value: 0, valid min length: 1",
    )  # fmt: skip
    with pytest.raises(errors.InvalidParameterException, match="1-512"):
        client.store.create_secret("", secret_string="x")
    for name in ("n" * 513, "a/" * 256 + "b"):
        refused(
            client, any_path, "InvalidParameterException",
            lambda n=name: client.create_secret(Name=n, SecretString="x"),
            "1-512",
        )  # fmt: skip
    client.create_secret(Name="n" * 512, SecretString="x")
    assert client.describe_secret(SecretId="n" * 512)["Name"] == "n" * 512


ODD_NAMES = [
    "a/../b", "./x", "a//b", "/lead", "trail/", ".", "..", "...", ".git", "a/.git/b", "/", "//",
    "-", "@", "a/./b", "..a", "x" * 512, "/" * 512, "." * 512, "+=_.@-", "prod/db",
    "prod/db/password", "prod/db/password/",
]  # fmt: skip


def test_odd_valid_names_work_and_stay_inside_the_store(
    client: SecretsManagerClient, any_path: Path
) -> None:
    arns = {}
    for i, name in enumerate(ODD_NAMES):
        arns[name] = client.create_secret(Name=name, SecretString=f"value-{i}")["ARN"]
    for i, name in enumerate(ODD_NAMES):
        for secret_id in (name, arns[name]):
            got = client.get_secret_value(SecretId=secret_id)
            assert (got["Name"], got["SecretString"]) == (name, f"value-{i}")
        assert client.describe_secret(SecretId=name)["Name"] == name
    listed = {s["Name"] for s in client.list_secrets()["SecretList"]}
    assert listed == set(ODD_NAMES)
    files = tree(any_path)
    for path in files:
        parts = path.split("/")
        assert all(p not in ("", ".", "..") and p.lower() != ".git" for p in parts), path
        assert all(len(p.encode()) <= 255 for p in parts), path
        assert path in (".gitsm/config.yaml", ".gitattributes") or parts[0] == "secrets", path
    assert git(any_path, "fsck", "--strict") == ""
    if is_checkout(any_path):
        assert git(any_path, "status", "--porcelain", "--untracked-files=all") == ""
        assert not (any_path / "b").exists() and not (any_path.parent / "b").exists()
    # Each of them can be deleted without touching the others.
    client.delete_secret(SecretId="a/../b", ForceDeleteWithoutRecovery=True)
    client.delete_secret(SecretId="prod/db", ForceDeleteWithoutRecovery=True)
    assert client.get_secret_value(SecretId="prod/db/password")["SecretString"] == (
        f"value-{ODD_NAMES.index('prod/db/password')}"
    )
    assert {s["Name"] for s in client.list_secrets()["SecretList"]} == set(ODD_NAMES) - {
        "a/../b",
        "prod/db",
    }


# -- descriptions, keys, tags, labels ---------------------------------------------------------------


def test_description_limit(client: SecretsManagerClient, any_path: Path) -> None:
    refused(
        client, any_path, "InvalidParameterException",
        lambda: client.create_secret(Name="d", SecretString="x", Description="d" * 2049),
        "Description", "2048",
    )  # fmt: skip
    client.create_secret(Name="d", SecretString="x", Description="d" * 2048)
    assert client.describe_secret(SecretId="d")["Description"] == "d" * 2048
    refused(
        client, any_path, "InvalidParameterException",
        lambda: client.update_secret(SecretId="d", Description="e" * 2049),
        "Description",
    )  # fmt: skip
    refused(
        client, any_path, "InvalidParameterException",
        lambda: client.update_secret(SecretId="d", Description="e" * 2049, SecretString="y"),
        "Description",
    )  # fmt: skip
    assert client.get_secret_value(SecretId="d")["SecretString"] == "x"


def test_kms_key_id_length_limit(client: SecretsManagerClient, any_path: Path) -> None:
    refused(
        client, any_path, "InvalidParameterException",
        lambda: client.create_secret(Name="k", SecretString="x", KmsKeyId="k" * 2049),
        "KmsKeyId", "2048",
    )  # fmt: skip


TAG_VIOLATIONS = [
    ({"Key": "k" * 129, "Value": "v"}, "1-128"),
    ({"Key": "k", "Value": "v" * 257}, "256"),
]


def test_tag_limits(client: SecretsManagerClient, any_path: Path) -> None:
    client.create_secret(Name="tg", SecretString="x")
    for tag, fragment in TAG_VIOLATIONS:
        refused(
            client, any_path, "InvalidParameterException",
            lambda t=tag: client.tag_resource(
                SecretId="tg", Tags=[{"Key": "ok", "Value": "v"}, t]
            ),
            fragment,
        )  # fmt: skip
        refused(
            client, any_path, "InvalidParameterException",
            lambda t=tag: client.create_secret(Name="tg2", SecretString="x", Tags=[t]),
            fragment,
        )  # fmt: skip
    empty = {"Key": "", "Value": "v"}  # below the model's min of 1: boto3 refuses it first
    refused_early(
        any_path, lambda: client.tag_resource(SecretId="tg", Tags=[{"Key": "ok"}, empty]),
        "Invalid length for parameter Tags[1].Key, value: 0, valid min length: 1",
    )  # fmt: skip
    with pytest.raises(errors.InvalidParameterException, match="1-128"):
        client.store.tag_resource("tg", [empty])
    assert "Tags" not in client.describe_secret(SecretId="tg")


def test_tag_lengths_at_the_limit(client: SecretsManagerClient) -> None:
    tags = [{"Key": "k" * 128, "Value": "v" * 256}, {"Key": "empty", "Value": ""}]
    client.create_secret(Name="tl", SecretString="x", Tags=tags)
    assert client.describe_secret(SecretId="tl")["Tags"] == tags


def test_stage_label_limits_in_put(client: SecretsManagerClient, any_path: Path) -> None:
    client.create_secret(Name="sl", SecretString="x")
    refused_early(
        any_path,
        lambda: client.put_secret_value(SecretId="sl", SecretString="y", VersionStages=["ok", ""]),
        "Invalid length for parameter VersionStages[1], value: 0, valid min length: 1",
    )  # fmt: skip
    with pytest.raises(errors.InvalidParameterException, match="1-256"):
        client.store.put_secret_value("sl", secret_string="y", version_stages=[""])
    for stages in (["L" * 257], ["ok", "L" * 257]):
        refused(
            client, any_path, "InvalidParameterException",
            lambda s=stages: client.put_secret_value(
                SecretId="sl", SecretString="y", VersionStages=s
            ),
            "1-256",
        )  # fmt: skip


# -- ClientRequestToken -----------------------------------------------------------------------------


def test_token_length_is_refused(target: SecretsManagerClient, any_path: Path) -> None:
    message = "ClientRequestToken must be 32-64 characters long."
    for token in ("", "t", "t" * 31):  # below the model's min of 32: boto3 refuses it first
        for op in sorted(WRITERS):
            refused_early(
                any_path,
                lambda o=op, t=token: WRITERS[o](
                    target, {"ClientRequestToken": t, "SecretString": "x"}
                ),
                f"Invalid length for parameter ClientRequestToken, value: {len(token)}",
            )  # fmt: skip
        with pytest.raises(errors.InvalidParameterException) as info:
            target.store.put_secret_value("t", client_request_token=token, secret_string="x")
        assert info.value.message == message
    for token in ("t" * 65, "t" * 200):  # botocore checks no maximum: the service answers
        for op in sorted(WRITERS):
            call = lambda o=op, t=token: WRITERS[o](  # noqa: E731
                target, {"ClientRequestToken": t, "SecretString": "x"}
            )
            assert refused(target, any_path, "InvalidParameterException", call) == message
        # Also without a value (UpdateSecret of the description only).
        assert message == refused(
            target, any_path, "InvalidParameterException",
            lambda t=token: target.update_secret(SecretId="t", ClientRequestToken=t, Description="d"),
        )  # fmt: skip


def test_token_length_bounds_are_accepted(target: SecretsManagerClient) -> None:
    for token in ("T" * 32, "T" * 64):
        out = target.put_secret_value(SecretId="t", ClientRequestToken=token, SecretString="x")
        assert out["VersionId"] == token


ODD_TOKENS = {
    "slash": "a" * 15 + "/" + "b" * 16,
    "dotdot": "a" * 15 + ".." + "b" * 15,
    "traversal": "../../../../../../../../etc/passwd",
    "nul": "n" * 15 + "\x00" + "m" * 16,
    "newline": "x" * 10 + "\nGitsm-Operation: Forged",
    "dots": "." * 32,
    "trailing-dot": "v" * 31 + ".",
    "leading-dash": "-" + "d" * 31,
    "space": " " * 32,
    "unicode": "ü" * 32,
    "percent": "%0A" * 11,
    "tilde": "~" + "h" * 31,
}


@pytest.mark.parametrize("kind", sorted(ODD_TOKENS))
def test_odd_tokens_round_trip_and_never_reach_a_file_name(
    client: SecretsManagerClient, any_path: Path, kind: str
) -> None:
    token = ODD_TOKENS[kind]
    assert 32 <= len(token) <= 64
    out = client.create_secret(Name="odd", ClientRequestToken=token, SecretString="v1")
    assert out["VersionId"] == token
    token2 = token[:-1] + ("Z" if token[-1] != "Z" else "Y")
    assert (
        client.put_secret_value(SecretId="odd", ClientRequestToken=token2, SecretString="v2")[
            "VersionId"
        ]
        == token2
    )
    got = client.get_secret_value(SecretId="odd", VersionId=token)
    assert (got["VersionId"], got["SecretString"], got["VersionStages"]) == (
        token, "v1", ["AWSPREVIOUS"],
    )  # fmt: skip
    assert client.get_secret_value(SecretId="odd")["VersionId"] == token2
    assert set(client.describe_secret(SecretId="odd")["VersionIdsToStages"]) == {token, token2}
    listed = client.list_secret_version_ids(SecretId="odd")["Versions"]
    assert {v["VersionId"] for v in listed} == {token, token2}
    # Retries with the same token are recognised; another value is refused.
    before = commits(any_path)
    again = client.put_secret_value(SecretId="odd", ClientRequestToken=token, SecretString="v1")
    assert again["VersionId"] == token
    assert commits(any_path) == before
    refused(
        client, any_path, "ResourceExistsException",
        lambda: client.put_secret_value(SecretId="odd", ClientRequestToken=token, SecretString="x"),
        "already in use",
    )  # fmt: skip
    # Label moves can name the version.
    client.update_secret_version_stage(
        SecretId="odd", VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=token2
    )
    assert client.get_secret_value(SecretId="odd")["SecretString"] == "v1"

    version_files = [p for p in tree(any_path) if f"/{paths.VERSIONS}/" in p]
    assert len(version_files) == 2
    for path in version_files:
        file_name = path.rsplit("/", 1)[1]
        assert re.fullmatch(
            r"~[0-9a-f]{64}\.json|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.json", file_name
        )
        assert ".." not in file_name and "\x00" not in file_name and "\n" not in file_name
    assert git(any_path, "fsck", "--strict") == ""
    # No token can forge a commit trailer or add a line to the message.
    for body in git(any_path, "log", "--format=%B%x00").split("\0"):
        assert "Gitsm-Operation: Forged" not in body.splitlines()
    if is_checkout(any_path):
        assert git(any_path, "status", "--porcelain", "--untracked-files=all") == ""


# -- retention --------------------------------------------------------------------------------------


def all_versions(client: SecretsManagerClient, name: str) -> list[str]:
    """Every VersionId of ``name`` (IncludeDeprecated), following NextToken."""
    out: list[str] = []
    kwargs: dict[str, Any] = {"SecretId": name, "IncludeDeprecated": True}
    while True:
        page = client.list_secret_version_ids(**kwargs)
        out += [v["VersionId"] for v in page["Versions"]]
        if "NextToken" not in page:
            return out
        kwargs["NextToken"] = page["NextToken"]


def manifest_versions(path: Path, name: str) -> set[str]:
    doc = yaml.safe_load(git(path, "show", f"HEAD:{paths.manifest_path(name)}"))
    return set(doc["versions"])


def test_retention_prunes_old_unlabeled_versions_only(repo_path: Path) -> None:
    clock = Clock(datetime(2031, 1, 1, tzinfo=UTC))
    client = SecretsManagerClient(SecretStore.open(repo_path, clock=clock))
    name = "ret/s"

    def put(value: str, **kwargs: Any) -> str:
        clock.now += timedelta(seconds=1)
        vid: str = client.put_secret_value(SecretId=name, SecretString=value, **kwargs)["VersionId"]
        return vid

    old = [client.create_secret(Name=name, SecretString="old-0")["VersionId"]]
    old.append(put("old-1", VersionStages=["KEEP"]))  # labelled: never pruned
    old += [put(f"old-{i}") for i in range(2, 30)]
    first_commit = git(repo_path, "rev-parse", "HEAD").strip()
    clock.now += timedelta(hours=25)
    young = [put(f"young-{i}") for i in range(90)]

    # 120 versions: the 20 oldest unlabeled ones (all older than 24 h) are gone; 100 remain.
    pruned = [old[0], *old[2:21]]
    kept_old = [old[1], *old[21:]]
    listed = all_versions(client, name)
    assert len(listed) == 100
    assert set(listed) == set(kept_old) | set(young)
    assert manifest_versions(repo_path, name) == set(kept_old) | set(young)
    files = set(tree(repo_path))
    for vid in pruned:
        assert paths.version_path(name, vid) not in files
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.get_secret_value(SecretId=name, VersionId=vid)
    for vid in kept_old + young:
        assert paths.version_path(name, vid) in files
    # History still holds what the tree no longer does.
    git(repo_path, "cat-file", "-e", f"{first_commit}:{paths.version_path(name, old[0])}")

    # 20 more young versions: only the 9 old unlabeled ones can go; nothing younger than 24 h does,
    # so the secret keeps more than 100 versions.
    young += [put(f"young-{i}") for i in range(90, 110)]
    listed = all_versions(client, name)
    assert set(listed) == {old[1], *young}
    assert len(listed) == 111
    assert manifest_versions(repo_path, name) == {old[1], *young}
    assert client.get_secret_value(SecretId=name, VersionStage="KEEP")["SecretString"] == "old-1"
    assert client.get_secret_value(SecretId=name)["SecretString"] == "young-109"
    assert client.get_secret_value(SecretId=name, VersionId=young[0])["SecretString"] == "young-0"
    assert git(repo_path, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(repo_path, "fsck", "--strict") == ""


def test_retention_never_prunes_young_versions(repo_path: Path) -> None:
    clock = Clock(datetime(2031, 1, 1, tzinfo=UTC))
    client = SecretsManagerClient(SecretStore.open(repo_path, clock=clock))
    ids = [client.create_secret(Name="burst", SecretString="0")["VersionId"]]
    for i in range(1, 106):
        clock.now += timedelta(minutes=10)  # 105 versions over 17.5 hours: all younger than 24 h
        ids.append(client.put_secret_value(SecretId="burst", SecretString=str(i))["VersionId"])
    assert set(all_versions(client, "burst")) == set(ids)
    assert manifest_versions(repo_path, "burst") == set(ids)
    # Eight hours later the ten oldest are past 24 h; the next write prunes the 7 oldest (to 100).
    clock.now += timedelta(hours=8)
    ids.append(client.put_secret_value(SecretId="burst", SecretString="last")["VersionId"])
    listed = all_versions(client, "burst")
    assert len(listed) == 100
    assert set(listed) == set(ids[-100:]) == manifest_versions(repo_path, "burst")


def test_a_secret_at_the_version_quota_refuses_a_new_version(repo_path: Path) -> None:
    """A secret holds at most twice retention.max_versions versions: past that, with none old
    enough to prune, a new version is LimitExceededException and nothing is written; a retry of
    a version it holds still answers, and once versions age the next write prunes and lands."""
    file = repo_path / paths.CONFIG_PATH
    doc = yaml.safe_load(file.read_text())
    doc["retention"]["max_versions"] = 3  # a quota of 6
    file.write_text(yaml.safe_dump(doc, sort_keys=False))
    git(repo_path, "commit", "-qam", "Lower retention")
    clock = Clock(datetime(2031, 1, 1, tzinfo=UTC))
    client = SecretsManagerClient(SecretStore.open(repo_path, clock=clock))
    created = client.create_secret(Name="busy", SecretString="0")
    ids = [created["VersionId"]]
    for i in range(1, 6):
        clock.now += timedelta(minutes=10)
        ids.append(client.put_secret_value(SecretId="busy", SecretString=str(i))["VersionId"])
    before = commits(repo_path)
    clock.now += timedelta(minutes=10)
    with pytest.raises(client.exceptions.LimitExceededException) as info:
        client.put_secret_value(SecretId="busy", SecretString="6")
    assert info.value.response["Error"]["Message"] == (
        f"You can't create a new version of secret {created['ARN']}: it already has 6 versions, "
        "the quota for versions of a secret, and none of them can be removed yet (only versions "
        "without staging labels that were created more than 24 hours ago are removed). Wait "
        "until the oldest unlabeled version is 24 hours old, or remove staging labels from "
        "versions you no longer need (UpdateSecretVersionStage); nothing was written."
    )
    with pytest.raises(client.exceptions.LimitExceededException):
        client.update_secret(SecretId="busy", SecretString="6")
    assert commits(repo_path) == before and len(manifest_versions(repo_path, "busy")) == 6
    retry = client.put_secret_value(SecretId="busy", SecretString="5", ClientRequestToken=ids[5])
    assert retry["VersionId"] == ids[5] and commits(repo_path) == before
    client.update_secret(SecretId="busy", Description="no new version, no quota")
    clock.now += timedelta(hours=24)  # all six are past 24 hours: the 4 oldest unlabeled go
    last = client.put_secret_value(SecretId="busy", SecretString="6")["VersionId"]
    assert set(all_versions(client, "busy")) == {ids[4], ids[5], last}  # pruned to 3
    assert manifest_versions(repo_path, "busy") == {ids[4], ids[5], last}
    assert git(repo_path, "status", "--porcelain", "--untracked-files=all") == ""
