"""Behaviours where gitsm once followed moto (or its own guess) and AWS documents otherwise.

Each test names the AWS rule it checks. Replication has its own tests (tests/test_replication.py).
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest

import gitsm
from gitsm import paths
from gitsm.awsclient import SecretsManagerClient
from gitsm.awserrors import ParamValidationError
from gitsm.passwords import PUNCTUATION
from gitsm.store.listing import words
from tests.conftest import commits, error, git


@pytest.fixture
def bare_client(bare_path: Path) -> SecretsManagerClient:
    """A client on a fresh bare store (none of these rules depend on a work tree)."""
    return gitsm.client(repo=bare_path)


def names(client: SecretsManagerClient, key: str, *values: str) -> list[str]:
    listed = client.list_secrets(Filters=[{"Key": key, "Values": list(values)}])["SecretList"]
    return sorted(s["Name"] for s in listed)


def test_search_words_split_like_aws() -> None:
    """User guide, "Find secrets": "The words are separated by any change from uppercase to
    lowercase, from letter to number, or from number/letter to punctuation. For example, entering
    the search term credsDatabase#892 searches for creds, Database, and 892"."""
    assert words("credsDatabase#892") == ["creds", "database", "892"]
    assert words("prod/AppBeta/x1") == ["prod", "app", "beta", "x", "1"]
    assert words("My_Secret") == ["my", "secret"]
    assert words("HTTPServer v2") == ["http", "server", "v", "2"]


def test_filter_all_finds_words_split_at_case_changes(bare_client: SecretsManagerClient) -> None:
    """Filter ``all`` "breaks the filter value string into words and then searches all
    attributes for matches. Not case-sensitive." (API reference, Filter); words split as above.
    AWS's announcement of the search: "searching 'secrets for' will return any secret with ...
    name, tag key, tag value, or description that includes both 'secrets' and 'for' in the same
    field"."""
    client = bare_client
    client.create_secret(Name="prod/AppBeta/x1", SecretString="v")
    client.create_secret(Name="prod/db", SecretString="v", Description="Reports database",
                         Tags=[{"Key": "Team", "Value": "Beta"}])  # fmt: skip
    client.create_secret(Name="dev/alpha", SecretString="v")
    assert names(client, "all", "Beta") == ["prod/AppBeta/x1", "prod/db"]
    assert names(client, "all", "app") == ["prod/AppBeta/x1"]
    assert names(client, "all", "x") == ["prod/AppBeta/x1"]
    assert names(client, "all", "x1") == ["prod/AppBeta/x1"]  # words x + 1, in one field
    assert len(names(client, "all", "1")) == 3  # the region, us-east-1, is an attribute too
    assert names(client, "all", "appB") == ["prod/AppBeta/x1"]  # words app + b: both in the name
    assert names(client, "all", "etaB") == []  # "eta" starts no word
    assert names(client, "all", "reports DATA") == ["prod/db"]  # both in the description
    assert names(client, "all", "reports beta") == []  # in two different fields
    assert names(client, "all", "!beta") == ["dev/alpha"]


def test_filter_description_matches_words(bare_client: SecretsManagerClient) -> None:
    """User guide, "Find secrets": Description "Matches a word in the secret's description;
    not case-sensitive. For example, Description: My Description matches secrets with the
    following descriptions: My Description, my description, My basic description, Description
    of my secret"."""
    client = bare_client
    for i, text in enumerate(
        ["My Description", "my description", "My basic description", "Description of my secret",
         "Something else", "Mydescription"]
    ):  # fmt: skip
        client.create_secret(Name=f"d{i}", Description=text)
    client.create_secret(Name="none")
    assert names(client, "description", "My Description") == ["d0", "d1", "d2", "d3"]
    assert names(client, "description", "basic") == ["d2"]
    assert names(client, "description", "desc") == ["d0", "d1", "d2", "d3"]  # word prefixes
    assert names(client, "description", "else") == ["d4"]  # not only the start of the text
    assert names(client, "description", "mydescription") == ["d5"]


def test_a_filter_without_key_or_values_is_an_invalid_parameter(
    bare_client: SecretsManagerClient,
) -> None:
    """Key and Values are optional members of Filter in the model, so a filter without one passes
    the request's validation and the service refuses it: InvalidParameterException "Invalid
    filter key" / "Invalid filter values for key: K" (moto's tests expect these words; the same
    tests quote the unknown-key ValidationException with the keys in an order no SDK model has,
    [all, name, tag-key, description, tag-value], so they were taken from AWS's answers). An
    unknown key is the model's enum constraint: ValidationException."""
    client = bare_client
    with pytest.raises(client.exceptions.InvalidParameterException) as info:
        client.list_secrets(Filters=[{"Values": ["x"]}])
    assert error(info)[1] == "Invalid filter key"
    with pytest.raises(client.exceptions.InvalidParameterException) as info:
        client.batch_get_secret_value(Filters=[{"Key": "description"}])
    assert error(info)[1] == "Invalid filter values for key: description"
    with pytest.raises(client.exceptions.ValidationException) as info:
        client.list_secrets(Filters=[{"Key": "nope", "Values": ["x"]}])
    assert error(info)[1].startswith(
        "1 validation error detected: Value 'nope' at 'filters.1.member.key' failed to satisfy "
        "constraint: Member must satisfy enum value set: [description, name, "
    )


def test_a_filter_value_without_words_matches_nothing(bare_client: SecretsManagerClient) -> None:
    """AWS-verified in moto's test_with_all_filter_special_characters: ``all`` with the value
    "+" finds no secret, even where every name holds a "+" (punctuation separates words, so the
    value holds no word to look for); its negation finds them all."""
    client = bare_client
    client.create_secret(Name="prod+AppBeta+1", Description="a+b")
    client.create_secret(Name="other")
    for key in ("all", "description"):
        assert names(client, key, "+") == []
        assert names(client, key, "!+") == ["other", "prod+AppBeta+1"]
    assert names(client, "all", "Beta") == ["prod+AppBeta+1"]


def test_secret_binary_as_str_is_sent_as_its_utf8_bytes(bare_client: SecretsManagerClient) -> None:
    """boto3 accepts a str (or a bytearray) for a blob member and sends its UTF-8 bytes
    (botocore's serializer: ``value.encode("utf-8")`` for a str); so does gitsm.client."""
    client = bare_client
    made = client.create_secret(Name="b", SecretBinary="é-text")["VersionId"]
    put = client.put_secret_value(SecretId="b", SecretBinary=bytearray(b"\x00\x01"))["VersionId"]
    updated = client.update_secret(SecretId="b", SecretBinary="ü")["VersionId"]
    for vid, data in ((made, "é-text".encode()), (put, b"\x00\x01"), (updated, "ü".encode())):
        got = client.get_secret_value(SecretId="b", VersionId=vid)
        assert got["SecretBinary"] == data and "SecretString" not in got


def test_describe_omits_rotation_and_empty_stage_maps(bare_client: SecretsManagerClient) -> None:
    """API reference, DescribeSecret: RotationEnabled is "null" for a secret never configured
    for rotation, and "Secrets Manager only returns fields that have a value in the response"
    (the aws CLI's describe-secret reference): no VersionIdsToStages without versions, in
    DescribeSecret and in ListSecrets' SecretVersionsToStages alike."""
    client = bare_client
    client.create_secret(Name="bare-metadata")
    described = client.describe_secret(SecretId="bare-metadata")
    assert "RotationEnabled" not in described and "VersionIdsToStages" not in described
    (listed,) = client.list_secrets()["SecretList"]
    assert "RotationEnabled" not in listed and "SecretVersionsToStages" not in listed
    vid = client.put_secret_value(SecretId="bare-metadata", SecretString="v")["VersionId"]
    assert client.describe_secret(SecretId="bare-metadata")["VersionIdsToStages"] == {
        vid: ["AWSCURRENT"]
    }


def test_tags_stay_an_empty_list_once_set(
    bare_client: SecretsManagerClient, bare_path: Path
) -> None:
    """A secret that had tags answers ``"Tags": []`` after the last one is removed, as AWS does;
    one never tagged has no Tags. The manifest remembers it (``tags: []``, docs/FORMAT.md)."""
    client = bare_client
    client.create_secret(Name="t", SecretString="v", Tags=[])
    assert "Tags" not in client.describe_secret(SecretId="t")
    client.untag_resource(SecretId="t", TagKeys=["absent"])
    assert "Tags" not in client.describe_secret(SecretId="t")
    client.tag_resource(SecretId="t", Tags=[{"Key": "k", "Value": "v"}])
    client.untag_resource(SecretId="t", TagKeys=["k"])
    assert client.describe_secret(SecretId="t")["Tags"] == []
    assert "\ntags: []\n" in git(bare_path, "show", f"HEAD:{paths.manifest_path('t')}")
    before = commits(bare_path)
    client.untag_resource(SecretId="t", TagKeys=["k"])  # nothing left to remove: no commit
    assert commits(bare_path) == before


@pytest.mark.parametrize("length", [4, 5])
def test_include_space_is_not_a_required_type(
    bare_client: SecretsManagerClient, length: int
) -> None:
    """API reference, GetRandomPassword: RequireEachIncludedType means "at least one upper and
    lowercase letter, one number, and one punctuation": the space is not one of them, so four
    characters are enough with IncludeSpace."""
    for _ in range(10):
        pw = bare_client.get_random_password(PasswordLength=length, IncludeSpace=True)
        password = pw["RandomPassword"]
        assert len(password) == length
        for cls in (string.ascii_lowercase, string.ascii_uppercase, string.digits, PUNCTUATION):
            assert set(password) & set(cls)
    # 4,096 characters from 43 (digits, punctuation, space): the chance of no space at all is
    # (42/43)**4096, about 1e-42, so the check cannot flake; at 200 it failed one run in a hundred.
    spaced = bare_client.get_random_password(
        PasswordLength=4096, IncludeSpace=True, ExcludeCharacters=string.ascii_letters
    )["RandomPassword"]
    assert " " in spaced


def test_pending_deletion_answers_with_aws_message(bare_client: SecretsManagerClient) -> None:
    """AWS's InvalidRequestException for a secret marked for deletion (quoted from AWS SDK
    traces): "You can't perform this operation on the secret because it was marked for
    deletion." (moto's "You tried to perform the operation on a secret that's currently marked
    deleted." is not AWS's.)"""
    client = bare_client
    client.create_secret(Name="gone", SecretString="v")
    client.delete_secret(SecretId="gone", RecoveryWindowInDays=7)
    calls: list[Any] = [
        lambda: client.get_secret_value(SecretId="gone"),
        lambda: client.put_secret_value(SecretId="gone", SecretString="w"),
        lambda: client.update_secret(SecretId="gone", Description="d"),
        lambda: client.tag_resource(SecretId="gone", Tags=[{"Key": "k", "Value": "v"}]),
    ]
    for call in calls:
        with pytest.raises(client.exceptions.InvalidRequestException) as info:
            call()
        assert error(info)[1] == (
            "You can't perform this operation on the secret because it was marked for deletion."
        )


def test_recovery_window_is_checked_before_the_conflict(bare_client: SecretsManagerClient) -> None:
    """AWS answers RecoveryWindowInDays=0 with ForceDeleteWithoutRecovery=True with "The
    RecoveryWindowInDays value must be between 7 and 30 days (inclusive)." before reporting that
    the two parameters can't be used together."""
    client = bare_client
    client.create_secret(Name="w", SecretString="v")
    with pytest.raises(client.exceptions.InvalidParameterException) as info:
        client.delete_secret(SecretId="w", RecoveryWindowInDays=0, ForceDeleteWithoutRecovery=True)
    assert error(info)[1] == (
        "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
    )
    with pytest.raises(client.exceptions.InvalidParameterException) as info:
        client.delete_secret(SecretId="w", RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert "ForceDeleteWithoutRecovery" in error(info)[1]


def test_without_parameter_validation_the_store_answers_as_the_service(bare_path: Path) -> None:
    """A boto3 client made with ``Config(parameter_validation=False)`` sends values below the
    model's minimums, and the service answers with its own errors (moto's
    test_rotate_secret_client_request_token_too_short: InvalidParameterException
    "ClientRequestToken must be 32-64 characters long."); gitsm.client reads the same Config."""
    from botocore.config import Config

    checked = gitsm.client(repo=bare_path)
    unchecked = gitsm.client(repo=bare_path, config=Config(parameter_validation=False))
    checked.create_secret(Name="app", SecretString="v")
    with pytest.raises(ParamValidationError, match="valid min length: 32"):
        checked.rotate_secret(SecretId="app", ClientRequestToken="TOO-SHORT")
    with pytest.raises(unchecked.exceptions.InvalidParameterException) as info:
        unchecked.rotate_secret(SecretId="app", ClientRequestToken="TOO-SHORT")
    assert error(info)[1] == "ClientRequestToken must be 32-64 characters long."
    with pytest.raises(unchecked.exceptions.InvalidParameterException) as info:
        unchecked.rotate_secret(SecretId="app", RotationRules={"AutomaticallyAfterDays": 0})
    assert error(info)[1] == "RotationRules.AutomaticallyAfterDays must be within 1-1000."
    with pytest.raises(unchecked.exceptions.InvalidParameterException):
        unchecked.put_secret_value(SecretId="app", SecretString="")
    with pytest.raises(ParamValidationError, match="Invalid type for parameter SecretId"):
        unchecked.describe_secret(SecretId=7)  # types are still checked: nothing is sent
    assert [v["VersionStages"] for v in checked.list_secret_version_ids(SecretId="app")[
        "Versions"]] == [["AWSCURRENT"]]  # fmt: skip
