"""Read operations through the boto3-shaped client.

GetSecretValue, DescribeSecret, ListSecrets (filters, paging, sorting), ListSecretVersionIds,
BatchGetSecretValue and GetRandomPassword. Reads never write: no test here may move the branch.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gitsm import errors, paths
from gitsm.awsclient import ParamValidationError, SecretsManagerClient
from gitsm.passwords import PUNCTUATION, random_password
from gitsm.store import SecretStore
from tests.conftest import Clock, commits, error, git


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(repo_path: Path, clock: Clock) -> SecretsManagerClient:
    """A client on a checkout store whose clock the test controls."""
    return SecretsManagerClient(SecretStore.open(repo_path, clock=clock))


@contextmanager
def reads_only(path: Path) -> Iterator[None]:
    """Assert that the block made no commit."""
    before = git(path, "rev-parse", "HEAD")
    yield
    assert git(path, "rev-parse", "HEAD") == before


@pytest.fixture
def unchanged(any_path: Path) -> Iterator[None]:
    """Assert that the test's reads (after the fixtures' writes) made no commit."""
    with reads_only(any_path):
        yield


# -- GetSecretValue ---------------------------------------------------------------------------------


@pytest.fixture
def three_versions(client: SecretsManagerClient) -> dict[str, str]:
    """A secret ``gv`` with v1 (unlabeled), v2 (AWSPREVIOUS, X), v3 (AWSCURRENT)."""
    v1 = client.create_secret(Name="gv", SecretString="one")["VersionId"]
    v2 = client.put_secret_value(SecretId="gv", SecretBinary=b"\x00two", VersionStages=["X"])[
        "VersionId"
    ]
    client.update_secret_version_stage(
        SecretId="gv", VersionStage="AWSCURRENT", MoveToVersionId=v2, RemoveFromVersionId=v1
    )
    v3 = client.put_secret_value(SecretId="gv", SecretString="three")["VersionId"]
    return {"v1": v1, "v2": v2, "v3": v3}


def test_get_by_stage_and_by_version_id(
    client: SecretsManagerClient, three_versions: dict[str, str], unchanged: None
) -> None:
    v = three_versions
    cur = client.get_secret_value(SecretId="gv")
    assert (cur["VersionId"], cur["SecretString"], cur["VersionStages"]) == (
        v["v3"], "three", ["AWSCURRENT"],
    )  # fmt: skip
    assert isinstance(cur["CreatedDate"], datetime) and cur["CreatedDate"].tzinfo is not None
    explicit = client.get_secret_value(SecretId="gv", VersionStage="AWSCURRENT")
    explicit.pop("ResponseMetadata")
    cur.pop("ResponseMetadata")
    assert explicit == cur
    prev = client.get_secret_value(SecretId="gv", VersionStage="AWSPREVIOUS")
    assert prev["VersionId"] == v["v2"]
    assert prev["SecretBinary"] == b"\x00two"
    assert sorted(prev["VersionStages"]) == ["AWSPREVIOUS", "X"]
    by_x = client.get_secret_value(SecretId="gv", VersionStage="X")
    assert by_x["VersionId"] == v["v2"]
    old = client.get_secret_value(SecretId="gv", VersionId=v["v1"])
    assert old["SecretString"] == "one"
    assert old["VersionStages"] == []


def test_get_with_version_id_and_stage_that_agree_or_not(
    client: SecretsManagerClient, three_versions: dict[str, str], unchanged: None
) -> None:
    v = three_versions
    both = client.get_secret_value(SecretId="gv", VersionId=v["v2"], VersionStage="X")
    assert both["VersionId"] == v["v2"]
    both = client.get_secret_value(SecretId="gv", VersionId=v["v3"], VersionStage="AWSCURRENT")
    assert both["SecretString"] == "three"
    with pytest.raises(client.exceptions.InvalidRequestException) as info:
        client.get_secret_value(SecretId="gv", VersionId=v["v3"], VersionStage="AWSPREVIOUS")
    # The API reference: "If you include both this parameter and VersionStage, the two
    # parameters must refer to the same secret version." The words are AWS's as LocalStack's
    # snapshot-tested provider and moto answer them.
    assert error(info)[1] == (
        "You provided a VersionStage that is not associated to the provided VersionId."
    )
    with pytest.raises(client.exceptions.InvalidRequestException):
        client.get_secret_value(SecretId="gv", VersionId=v["v1"], VersionStage="AWSCURRENT")


def test_get_unknown_version_or_stage_is_not_found(
    client: SecretsManagerClient, three_versions: dict[str, str], unchanged: None
) -> None:
    missing = "f" * 36
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.get_secret_value(SecretId="gv", VersionId=missing)
    assert missing in error(info)[1]
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.get_secret_value(SecretId="gv", VersionStage="NOPE")
    assert "NOPE" in error(info)[1]
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.get_secret_value(SecretId="nope")
    assert error(info) == (
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
    )


def test_get_created_date_is_the_versions(timed: SecretsManagerClient, clock: Clock) -> None:
    start = clock.now
    timed.create_secret(Name="when", SecretString="a")
    clock.advance(hours=3)
    timed.put_secret_value(SecretId="when", SecretString="b")
    clock.advance(hours=3)
    assert timed.get_secret_value(SecretId="when")["CreatedDate"] == start + timedelta(hours=3)
    prev = timed.get_secret_value(SecretId="when", VersionStage="AWSPREVIOUS")
    assert prev["CreatedDate"] == start


# -- DescribeSecret ---------------------------------------------------------------------------------


def test_describe_lists_only_labelled_versions(
    client: SecretsManagerClient, three_versions: dict[str, str], unchanged: None
) -> None:
    v = three_versions
    described = client.describe_secret(SecretId="gv")
    assert {k: sorted(s) for k, s in described["VersionIdsToStages"].items()} == {
        v["v2"]: ["AWSPREVIOUS", "X"],
        v["v3"]: ["AWSCURRENT"],
    }
    assert described["Name"] == "gv"
    assert "KmsKeyId" not in described
    assert "DeletedDate" not in described
    assert "Description" not in described
    assert "Tags" not in described
    # API reference: RotationEnabled is null for a secret never configured for rotation, and AWS
    # returns only the fields that have a value.
    assert "RotationEnabled" not in described
    for key in ("CreatedDate", "LastChangedDate"):
        assert isinstance(described[key], datetime)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_secret(SecretId="nope")


def test_describe_dates_follow_the_clock(timed: SecretsManagerClient, clock: Clock) -> None:
    start = clock.now
    timed.create_secret(Name="d", SecretString="a")
    clock.advance(minutes=5)
    timed.update_secret(SecretId="d", Description="changed")
    described = timed.describe_secret(SecretId="d")
    assert described["CreatedDate"] == start
    assert described["LastChangedDate"] == start + timedelta(minutes=5)


# -- ListSecrets ------------------------------------------------------------------------------------


@pytest.fixture
def catalogue(client: SecretsManagerClient) -> SecretsManagerClient:
    def tags(**kv: str) -> list[dict[str, str]]:
        return [{"Key": k, "Value": v} for k, v in kv.items()]

    client.create_secret(
        Name="prod/db/password", SecretString="x", Description="Production DB password",
        Tags=tags(env="prod", team="core"),
    )  # fmt: skip
    client.create_secret(
        Name="prod/api/key", SecretString="x", Description="API key for prod", Tags=tags(env="prod")
    )
    client.create_secret(
        Name="dev/db/password", SecretString="x", Description="development db",
        Tags=tags(env="dev", Team="Core"),
    )  # fmt: skip
    client.create_secret(Name="Prod/upper", SecretString="x")
    return client


def names(client: SecretsManagerClient, **kwargs: Any) -> set[str]:
    out = client.list_secrets(**kwargs)
    assert "NextToken" not in out
    return {s["Name"] for s in out["SecretList"]}


def flt(key: str, *values: str) -> dict[str, Any]:
    return {"Key": key, "Values": list(values)}


ALL4 = {"prod/db/password", "prod/api/key", "dev/db/password", "Prod/upper"}


FILTER_CASES: list[tuple[list[dict[str, Any]], set[str]]] = [
    ([], ALL4),
    ([flt("name", "prod")], {"prod/db/password", "prod/api/key"}),
    ([flt("name", "Prod")], {"Prod/upper"}),
    ([flt("name", "db")], set()),
    ([flt("name", "!prod")], {"dev/db/password", "Prod/upper"}),
    ([flt("name", "prod/db", "dev")], {"prod/db/password", "dev/db/password"}),
    ([flt("name", "!prod", "!dev")], {"Prod/upper"}),
    ([flt("description", "production")], {"prod/db/password"}),
    ([flt("description", "PRODUCTION db")], {"prod/db/password"}),
    ([flt("description", "DEV")], {"dev/db/password"}),
    ([flt("description", "!api")], ALL4 - {"prod/api/key"}),
    ([flt("tag-key", "team")], {"prod/db/password"}),
    ([flt("tag-key", "Team")], {"dev/db/password"}),
    ([flt("tag-key", "!team")], ALL4 - {"prod/db/password"}),
    ([flt("tag-key", "en")], ALL4 - {"Prod/upper"}),
    ([flt("tag-value", "prod")], {"prod/db/password", "prod/api/key"}),
    ([flt("tag-value", "Core")], {"dev/db/password"}),
    ([flt("tag-value", "!prod")], {"dev/db/password", "Prod/upper"}),
    ([flt("owning-service", "rds")], set()),
    ([flt("owning-service", "!rds")], ALL4),
    ([flt("all", "password")], {"prod/db/password", "dev/db/password"}),
    ([flt("all", "CORE")], {"prod/db/password", "dev/db/password"}),
    ([flt("all", "production")], {"prod/db/password"}),
    ([flt("all", "db password")], {"prod/db/password", "dev/db/password"}),
    ([flt("all", "api prod")], {"prod/api/key"}),
    ([flt("all", "!prod")], {"dev/db/password"}),
    ([flt("name", "prod"), flt("tag-key", "team")], {"prod/db/password"}),
    ([flt("name", "prod"), flt("tag-key", "!team")], {"prod/api/key"}),
]


def test_list_filters(catalogue: SecretsManagerClient, any_path: Path) -> None:
    before = commits(any_path)
    for filters, expected in FILTER_CASES:
        assert names(catalogue, Filters=filters) == expected, filters
    assert commits(any_path) == before


def test_list_filter_primary_region(catalogue: SecretsManagerClient) -> None:
    """primary-region matches a secret's PrimaryRegion, which only a replicated secret has (API
    reference, SecretListEntry; AWS answers only the fields that have a value)."""
    arn = catalogue.describe_secret(SecretId="Prod/upper")["ARN"]
    region = arn.split(":")[3]
    assert names(catalogue, Filters=[flt("primary-region", region)]) == set()
    catalogue.replicate_secret_to_regions(
        SecretId="Prod/upper", AddReplicaRegions=[{"Region": "xx-elsewhere-9"}]
    )
    assert names(catalogue, Filters=[flt("primary-region", region)]) == {"Prod/upper"}
    assert names(catalogue, Filters=[flt("primary-region", region[:4])]) == {"Prod/upper"}
    assert names(catalogue, Filters=[flt("primary-region", "!" + region)]) == ALL4 - {"Prod/upper"}
    assert names(catalogue, Filters=[flt("primary-region", "xx-")]) == set()
    listed = catalogue.list_secrets()["SecretList"]
    assert {s["Name"]: s.get("PrimaryRegion") for s in listed if "PrimaryRegion" in s} == {
        "Prod/upper": region
    }


def test_list_unknown_filter_key_is_validation_exception(
    client: SecretsManagerClient, unchanged: None
) -> None:
    with pytest.raises(client.exceptions.ValidationException) as info:
        client.list_secrets(Filters=[flt("name", "a"), flt("colour", "red")])
    assert error(info) == (
        "ValidationException",
        "1 validation error detected: Value 'colour' at 'filters.2.member.key' failed to satisfy "
        "constraint: Member must satisfy enum value set: [description, name, tag-key, tag-value, "
        "primary-region, owning-service, all]",
    )


BAD_FILTERS = [
    [flt("name", "a")] * 11,
    [flt("name", *["v"] * 11)],
    [flt("name", "a" * 513)],
    [flt("name", "bad#char")],
    [flt("description", "semi;colon")],
]


def test_list_bad_filters_are_invalid_parameter(
    client: SecretsManagerClient, unchanged: None
) -> None:
    for filters in BAD_FILTERS:
        with pytest.raises(client.exceptions.InvalidParameterException):
            client.list_secrets(Filters=filters)
    # A filter without values: the core refuses it; boto3 before any request (min 1 in the model).
    with pytest.raises(errors.InvalidParameterException):
        client.store.list_secrets(filters=[flt("name")])
    with pytest.raises(ParamValidationError, match=r"Filters\[0\]\.Values, value: 0"):
        client.list_secrets(Filters=[flt("name")])


def test_list_pages_with_max_results_and_next_token(
    client: SecretsManagerClient, any_path: Path
) -> None:
    created = [f"page/s{i}" for i in range(7)]
    for name in created:
        client.create_secret(Name=name, SecretString="x")
    before = commits(any_path)
    seen: list[str] = []
    sizes: list[int] = []
    kwargs: dict[str, Any] = {"MaxResults": 3, "SortBy": "name"}
    for _ in range(10):
        out = client.list_secrets(**kwargs)
        sizes.append(len(out["SecretList"]))
        seen += [s["Name"] for s in out["SecretList"]]
        if "NextToken" not in out:
            break
        kwargs["NextToken"] = out["NextToken"]
    assert sizes == [3, 3, 1]
    assert seen == created
    # Exactly a page's worth: no NextToken after the last one.
    out = client.list_secrets(MaxResults=7)
    assert len(out["SecretList"]) == 7 and "NextToken" not in out
    assert commits(any_path) == before


def test_list_bad_next_token(client: SecretsManagerClient) -> None:
    for i in range(3):
        client.create_secret(Name=f"nt{i}", SecretString="x")
    for bad in ("garbage", "eyJvIjogMX0=", "!!!"):
        with pytest.raises(client.exceptions.InvalidNextTokenException) as info:
            client.list_secrets(NextToken=bad)
        assert error(info)[0] == "InvalidNextTokenException"
    token = client.list_secrets(MaxResults=1)["NextToken"]
    assert len(client.list_secrets(MaxResults=1, NextToken=token)["SecretList"]) == 1
    # A token belongs to its query: other filters or sort order refuse it.
    with pytest.raises(client.exceptions.InvalidNextTokenException):
        client.list_secrets(MaxResults=1, NextToken=token, Filters=[flt("name", "nt")])
    with pytest.raises(client.exceptions.InvalidNextTokenException):
        client.list_secrets(MaxResults=1, NextToken=token, SortOrder="desc")


def test_list_bad_max_results(client: SecretsManagerClient) -> None:
    for bad in (101, True):  # botocore lets these through (no max check; a bool is an int)
        with pytest.raises(client.exceptions.InvalidParameterException):
            client.list_secrets(MaxResults=bad)
    for bad in (0, -1, "3"):  # below the model's min of 1, or not an integer: refused by boto3
        with pytest.raises(errors.InvalidParameterException):
            client.store.list_secrets(max_results=bad)  # type: ignore[arg-type]
        with pytest.raises(ParamValidationError, match="parameter MaxResults"):
            client.list_secrets(MaxResults=bad)


def test_list_sort_order_and_sort_by(timed: SecretsManagerClient, clock: Clock) -> None:
    for name in ("b", "c", "a"):
        timed.create_secret(Name=name, SecretString="x")
        clock.advance(minutes=1)
    timed.update_secret(SecretId="c", Description="touched")

    def order(**kwargs: Any) -> list[str]:
        return [s["Name"] for s in timed.list_secrets(**kwargs)["SecretList"]]

    assert order() == ["b", "c", "a"]
    assert order(SortOrder="asc") == ["b", "c", "a"]
    assert order(SortOrder="desc") == ["a", "c", "b"]
    assert order(SortBy="created-date", SortOrder="desc") == ["a", "c", "b"]
    assert order(SortBy="name") == ["a", "b", "c"]
    assert order(SortBy="name", SortOrder="desc") == ["c", "b", "a"]
    assert order(SortBy="last-changed-date") == ["b", "a", "c"]
    assert order(SortBy="last-changed-date", SortOrder="desc") == ["c", "a", "b"]
    with pytest.raises(timed.exceptions.ValidationException) as info:
        timed.list_secrets(SortOrder="up")
    assert "sortOrder" in error(info)[1]
    with pytest.raises(timed.exceptions.ValidationException) as info:
        timed.list_secrets(SortBy="size")
    assert "sortBy" in error(info)[1]


def test_list_include_planned_deletion(client: SecretsManagerClient) -> None:
    client.create_secret(Name="keep", SecretString="x", Description="kept")
    client.create_secret(Name="gone", SecretString="x")
    client.delete_secret(SecretId="gone", RecoveryWindowInDays=7)
    assert names(client) == {"keep"}
    assert names(client, IncludePlannedDeletion=False) == {"keep"}
    listed = client.list_secrets(IncludePlannedDeletion=True)["SecretList"]
    by_name = {s["Name"]: s for s in listed}
    assert set(by_name) == {"keep", "gone"}
    assert isinstance(by_name["gone"]["DeletedDate"], datetime)
    assert "DeletedDate" not in by_name["keep"]
    keep = by_name["keep"]
    assert keep["Description"] == "kept"
    assert list(keep["SecretVersionsToStages"].values()) == [["AWSCURRENT"]]
    assert {"ARN", "Name", "CreatedDate", "LastChangedDate"} <= set(keep)


def test_list_empty_store(client: SecretsManagerClient) -> None:
    assert client.list_secrets()["SecretList"] == []
    assert client.list_secrets(MaxResults=1)["SecretList"] == []


# -- ListSecretVersionIds ---------------------------------------------------------------------------


@pytest.fixture
def five_versions(timed: SecretsManagerClient, clock: Clock) -> list[str]:
    """Secret ``lv``: v0-v2 unlabeled, v3 AWSPREVIOUS, v4 AWSCURRENT; one minute apart."""
    ids = [timed.create_secret(Name="lv", SecretString="0")["VersionId"]]
    for i in range(1, 5):
        clock.advance(minutes=1)
        ids.append(timed.put_secret_value(SecretId="lv", SecretString=str(i))["VersionId"])
    return ids


def test_list_version_ids_include_deprecated(
    timed: SecretsManagerClient, five_versions: list[str]
) -> None:
    out = timed.list_secret_version_ids(SecretId="lv")
    assert out["Name"] == "lv"
    assert out["ARN"] == timed.describe_secret(SecretId="lv")["ARN"]
    assert [(v["VersionId"], v["VersionStages"]) for v in out["Versions"]] == [
        (five_versions[4], ["AWSCURRENT"]),
        (five_versions[3], ["AWSPREVIOUS"]),
    ]
    assert all(isinstance(v["CreatedDate"], datetime) and v["KmsKeyIds"] for v in out["Versions"])
    out = timed.list_secret_version_ids(SecretId="lv", IncludeDeprecated=True)
    assert [v["VersionId"] for v in out["Versions"]] == five_versions[::-1]
    assert [v["VersionStages"] for v in out["Versions"]][2:] == [[], [], []]


def test_list_version_ids_paging(timed: SecretsManagerClient, five_versions: list[str]) -> None:
    seen: list[str] = []
    sizes: list[int] = []
    kwargs: dict[str, Any] = {"SecretId": "lv", "MaxResults": 2, "IncludeDeprecated": True}
    for _ in range(10):
        out = timed.list_secret_version_ids(**kwargs)
        sizes.append(len(out["Versions"]))
        seen += [v["VersionId"] for v in out["Versions"]]
        if "NextToken" not in out:
            break
        kwargs["NextToken"] = out["NextToken"]
    assert sizes == [2, 2, 1]
    assert seen == five_versions[::-1]
    with pytest.raises(timed.exceptions.InvalidNextTokenException):
        timed.list_secret_version_ids(SecretId="lv", NextToken="not-a-token")
    token = timed.list_secret_version_ids(SecretId="lv", MaxResults=1)["NextToken"]
    with pytest.raises(timed.exceptions.InvalidNextTokenException):
        timed.list_secret_version_ids(SecretId="lv", NextToken=token, IncludeDeprecated=True)
    with pytest.raises(timed.exceptions.InvalidParameterException):
        timed.list_secret_version_ids(SecretId="lv", MaxResults=101)
    with pytest.raises(timed.exceptions.ResourceNotFoundException):
        timed.list_secret_version_ids(SecretId="nope")


# -- BatchGetSecretValue ----------------------------------------------------------------------------


def test_batch_by_id_list_with_errors(client: SecretsManagerClient, any_path: Path) -> None:
    arn_b = client.create_secret(Name="batch/b", SecretBinary=b"bee")["ARN"]
    client.create_secret(Name="batch/a", SecretString="ay")
    client.create_secret(Name="batch/novalue")
    with reads_only(any_path):
        out = client.batch_get_secret_value(
            SecretIdList=["batch/a", "batch/missing", arn_b, "batch/novalue"]
        )
    values = {v["Name"]: v for v in out["SecretValues"]}
    assert set(values) == {"batch/a", "batch/b"}
    assert values["batch/a"]["SecretString"] == "ay"
    assert values["batch/b"]["SecretBinary"] == b"bee"
    assert values["batch/b"]["ARN"] == arn_b
    assert values["batch/a"]["VersionStages"] == ["AWSCURRENT"]
    errs = {e["SecretId"]: e for e in out["Errors"]}
    assert set(errs) == {"batch/missing", "batch/novalue"}
    assert errs["batch/missing"]["ErrorCode"] == "ResourceNotFoundException"
    assert errs["batch/missing"]["Message"] == "Secrets Manager can't find the specified secret."
    assert errs["batch/novalue"]["ErrorCode"] == "ResourceNotFoundException"
    assert "NextToken" not in out


def test_batch_pending_deletion_is_a_per_id_error(client: SecretsManagerClient) -> None:
    client.create_secret(Name="bp", SecretString="x")
    client.delete_secret(SecretId="bp")
    out = client.batch_get_secret_value(SecretIdList=["bp"])
    assert out["SecretValues"] == []
    assert [e["ErrorCode"] for e in out["Errors"]] == ["InvalidRequestException"]


def test_batch_by_filters_pages(client: SecretsManagerClient, any_path: Path) -> None:
    wanted = {f"bf/s{i}": f"v{i}" for i in range(5)}
    for name, value in wanted.items():
        client.create_secret(Name=name, SecretString=value)
    client.create_secret(Name="other", SecretString="no")
    before = commits(any_path)
    got: dict[str, str] = {}
    sizes: list[int] = []
    kwargs: dict[str, Any] = {"Filters": [flt("name", "bf/")], "MaxResults": 2}
    for _ in range(10):
        out = client.batch_get_secret_value(**kwargs)
        sizes.append(len(out["SecretValues"]))
        got |= {v["Name"]: v["SecretString"] for v in out["SecretValues"]}
        assert out.get("Errors", []) == []
        if "NextToken" not in out:
            break
        kwargs["NextToken"] = out["NextToken"]
    assert sizes == [2, 2, 1]
    assert got == wanted
    with pytest.raises(client.exceptions.InvalidNextTokenException):
        client.batch_get_secret_value(Filters=[flt("name", "bf/")], NextToken="bogus")
    assert commits(any_path) == before


BAD_BATCH_CALLS: list[dict[str, Any]] = [
    {},
    {"SecretIdList": ["a"], "Filters": [flt("name", "a")]},
    {"SecretIdList": ["a"], "MaxResults": 5},
    {"SecretIdList": [f"s{i}" for i in range(21)]},
    {"Filters": [flt("name", "a")], "MaxResults": 21},
]


def test_batch_parameter_errors(client: SecretsManagerClient) -> None:
    for kwargs in BAD_BATCH_CALLS:
        with pytest.raises(client.exceptions.InvalidParameterException) as info:
            client.batch_get_secret_value(**kwargs)
        assert error(info)[1], kwargs
    # Below the model's minimums: the core refuses them, boto3 before any request.
    for kwargs, problem in (
        ({"SecretIdList": []}, "SecretIdList, value: 0, valid min length: 1"),
        ({"Filters": [flt("name", "a")], "MaxResults": 0}, "MaxResults, value: 0"),
    ):
        core = {{"SecretIdList": "secret_id_list", "Filters": "filters", "MaxResults":
                 "max_results"}[k]: v for k, v in kwargs.items()}  # fmt: skip
        with pytest.raises(errors.InvalidParameterException):
            client.store.batch_get_secret_value(**core)
        with pytest.raises(ParamValidationError, match=problem):
            client.batch_get_secret_value(**kwargs)


def test_batch_messages_for_both_neither_and_max_results(client: SecretsManagerClient) -> None:
    with pytest.raises(client.exceptions.InvalidParameterException) as info:
        client.batch_get_secret_value()
    assert "SecretIdList" in error(info)[1] and "Filters" in error(info)[1]
    with pytest.raises(client.exceptions.InvalidParameterException) as info:
        client.batch_get_secret_value(SecretIdList=["a"], MaxResults=2)
    assert "MaxResults" in error(info)[1]


# -- GetRandomPassword ------------------------------------------------------------------------------


@pytest.fixture
def gen(repo_path: Path) -> SecretsManagerClient:
    """GetRandomPassword touches no store: one kind of repository is enough."""
    return SecretsManagerClient(SecretStore.open(repo_path))


def test_random_password_defaults(gen: SecretsManagerClient) -> None:
    pw = gen.get_random_password()["RandomPassword"]
    assert len(pw) == 32
    assert set(pw) <= set(string.ascii_letters + string.digits + PUNCTUATION)
    for cls in (string.ascii_lowercase, string.ascii_uppercase, string.digits, PUNCTUATION):
        assert set(pw) & set(cls)
    assert " " not in pw
    assert gen.get_random_password()["RandomPassword"] != pw


@pytest.mark.parametrize("length", [1, 4, 100, 4096])
def test_random_password_length(gen: SecretsManagerClient, length: int) -> None:
    kwargs: dict[str, Any] = {"PasswordLength": length}
    if length < 4:
        kwargs["RequireEachIncludedType"] = False
    assert len(gen.get_random_password(**kwargs)["RandomPassword"]) == length


@pytest.mark.parametrize("bad", [0, 4097, -5, "12"])
def test_random_password_bad_length(gen: SecretsManagerClient, bad: object) -> None:
    with pytest.raises(errors.InvalidParameterException):
        random_password(bad)  # type: ignore[arg-type]
    if bad == 4097:  # botocore checks no maximum: the service refuses it
        with pytest.raises(gen.exceptions.InvalidParameterException):
            gen.get_random_password(PasswordLength=bad)
    else:  # below the model's min of 1, or not an integer: boto3 refuses it before any request
        with pytest.raises(ParamValidationError, match="parameter PasswordLength"):
            gen.get_random_password(PasswordLength=bad)


@pytest.mark.parametrize(
    ("kwargs", "forbidden", "required"),
    [
        ({"ExcludeCharacters": "abcdefABCDEF0123!@#"}, set("abcdefABCDEF0123!@#"), set()),
        ({"ExcludeNumbers": True}, set(string.digits), set()),
        ({"ExcludePunctuation": True}, set(PUNCTUATION), set()),
        ({"ExcludeUppercase": True}, set(string.ascii_uppercase), set()),
        ({"ExcludeLowercase": True}, set(string.ascii_lowercase), set()),
        ({"IncludeSpace": True}, set(), {" "}),
    ],
)
def test_random_password_exclusions(
    gen: SecretsManagerClient, kwargs: dict[str, Any], forbidden: set[str], required: set[str]
) -> None:
    pw = gen.get_random_password(PasswordLength=4096, **kwargs)["RandomPassword"]
    assert not set(pw) & forbidden
    assert required <= set(pw)


def test_random_password_require_each_included_type(gen: SecretsManagerClient) -> None:
    for _ in range(20):
        pw = gen.get_random_password(PasswordLength=4)["RandomPassword"]
        for cls in (string.ascii_lowercase, string.ascii_uppercase, string.digits, PUNCTUATION):
            assert set(pw) & set(cls)
    two = gen.get_random_password(PasswordLength=2, ExcludeNumbers=True, ExcludePunctuation=True)
    assert len(two["RandomPassword"]) == 2
    with pytest.raises(gen.exceptions.InvalidParameterException) as info:
        gen.get_random_password(PasswordLength=3)
    assert error(info)[1] == "Password length is too short based on the required types."
    one = gen.get_random_password(PasswordLength=1, RequireEachIncludedType=False)
    assert len(one["RandomPassword"]) == 1


def test_random_password_nothing_left(gen: SecretsManagerClient) -> None:
    with pytest.raises(gen.exceptions.InvalidParameterException):
        gen.get_random_password(
            ExcludeNumbers=True, ExcludePunctuation=True, ExcludeUppercase=True,
            ExcludeLowercase=True,
        )  # fmt: skip
    with pytest.raises(gen.exceptions.InvalidParameterException):
        gen.get_random_password(
            ExcludeCharacters=string.ascii_letters + string.digits + PUNCTUATION
        )


def test_bulk_reads_keep_order_and_errors_across_batches(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """get_secret_values opens envelopes a batch at a time; every result stays in its place."""
    from gitsm import envelope

    monkeypatch.setattr(envelope, "OPEN_BATCH", 2)
    store = SecretStore.open(repo_path)
    for i in range(5):
        store.create_secret(f"bulk/{i}", secret_string=f"value-{i}")
    store.put_secret_value("bulk/3", secret_string="newer", version_stages=["AWSPENDING"])
    requests: list[tuple[str, str | None, str | None]] = [
        ("bulk/0", None, None),
        ("bulk/missing", None, None),
        ("bulk/3", None, "AWSPENDING"),
        ("bulk/1", None, "NOPE"),
        ("bulk/4", None, None),
        ("bulk/2", None, None),
        ("bulk/3", None, None),
    ]
    got = store.get_secret_values(requests)
    shown = [getattr(r, "secret_string", None) or type(r).__name__ for r in got]
    assert shown == [
        "value-0", "ResourceNotFoundException", "newer", "ResourceNotFoundException",
        "value-4", "value-2", "value-3",
    ]  # fmt: skip
    one = [store.get_secret_values([r])[0] for r in requests]
    assert [getattr(r, "version_id", None) for r in one] == [
        getattr(r, "version_id", None) for r in got
    ]


def test_list_pages_reuse_one_parse_of_the_manifests(
    repo_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paging through a listing parses the store's manifests once (into the listing index of the
    tree); another query, another handle or another process reuses the index; after a write only
    the changed manifest is parsed; a write or a secret reaching its deletion date between pages
    is still seen."""
    import gitsm.treefiles as treefiles  # where the store reads its manifests

    store = SecretStore.open(repo_path, clock=clock)
    for i in range(6):
        store.create_secret(f"page/{i}", secret_string="v")
        clock.advance(seconds=1)
    store.delete_secret("page/5", recovery_window_in_days=7)
    parsed: list[str] = []
    real = treefiles.load_secret

    def counting(data: bytes, where: str) -> object:
        parsed.append(where)
        return real(data, where)

    monkeypatch.setattr(treefiles, "load_secret", counting)

    def names(**kw: Any) -> list[list[str]]:
        pages, token = [], None
        while True:
            page, token = store.list_secrets(max_results=2, next_token=token, **kw)
            pages.append([s.name for s in page])
            if token is None:
                return pages

    assert names() == [["page/0", "page/1"], ["page/2", "page/3"], ["page/4"]]
    assert len(parsed) == 6  # one parse of each manifest for all three pages
    parsed.clear()
    assert names(sort_order="desc") == [["page/4", "page/3"], ["page/2", "page/1"], ["page/0"]]
    again = SecretStore.open(repo_path, clock=clock)  # as another process would
    assert [s.name for s in again.list_secrets(sort_by="name")[0]][:2] == ["page/0", "page/1"]
    assert parsed == []  # another query, another handle: the index of the tree
    first, token = store.list_secrets(max_results=2, include_planned_deletion=True)
    assert [s.name for s in first] == ["page/0", "page/1"]
    store.create_secret("page/6", secret_string="v")  # a write between pages: a new commit
    parsed.clear()
    rest, _ = store.list_secrets(max_results=10, next_token=token, include_planned_deletion=True)
    assert [s.name for s in rest] == ["page/2", "page/3", "page/4", "page/5", "page/6"]
    assert parsed == [paths.manifest_path("page/6")]  # the index brought up to date
    clock.advance(days=8)  # page/5 is now past its deletion date
    parsed.clear()
    again, _ = store.list_secrets(max_results=10, next_token=token, include_planned_deletion=True)
    assert [s.name for s in again] == ["page/2", "page/3", "page/4", "page/6"]
    assert parsed == []
