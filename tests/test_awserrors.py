"""gitsm.client's errors are botocore's: code written for boto3 catches them unchanged.

With botocore importable, every ClientError derives from ``botocore.exceptions.ClientError`` and
parameter errors are ``botocore.exceptions.ParamValidationError``, raised before anything is read or
written, with the lines botocore's own validator writes for the same call (checked here against
``botocore.validate.ParamValidator`` on the same model). Without botocore (an optional dependency,
``gitsm[aws]``) the same classes work as plain exceptions: checked in a subprocess that hides it.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from botocore.session import get_session
from botocore.validate import ParamValidator

import gitsm
from gitsm.awsclient import ClientError, ParamValidationError, SecretsManagerClient
from tests.conftest import commits


@pytest.fixture
def bare_client(bare_path: Path) -> SecretsManagerClient:
    """A client on a fresh bare store (these checks do not depend on a work tree)."""
    return gitsm.client(repo=bare_path)


def test_botocore_client_error_catches_gitsm_errors(bare_client: SecretsManagerClient) -> None:
    client = bare_client
    try:
        client.get_secret_value(SecretId="missing")
    except botocore.exceptions.ClientError as exc:
        caught = exc
    else:
        pytest.fail("no error")
    assert isinstance(caught, client.exceptions.ResourceNotFoundException)
    assert isinstance(caught, ClientError)
    assert caught.operation_name == "GetSecretValue"
    assert caught.response["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": "Secrets Manager can't find the specified secret.",
    }
    assert str(caught) == (
        "An error occurred (ResourceNotFoundException) when calling the GetSecretValue "
        "operation: Secrets Manager can't find the specified secret."
    )
    # Every error shape of the service has a class, as on a boto3 client.
    service = get_session().get_service_model("secretsmanager")
    for name in service.error_shapes:
        cls = getattr(client.exceptions, name.name)
        assert issubclass(cls, botocore.exceptions.ClientError)
        assert client.exceptions.from_code(name.name) is cls
    assert client.exceptions.ClientError is ClientError


def test_errors_survive_pickling(bare_client: SecretsManagerClient) -> None:
    with pytest.raises(bare_client.exceptions.ResourceNotFoundException) as info:
        bare_client.describe_secret(SecretId="missing")
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is type(info.value)
    assert (again.response, again.operation_name) == (info.value.response, "DescribeSecret")
    with pytest.raises(ParamValidationError) as bad:
        bare_client.list_secrets(SortBy=["name"])
    copy = pickle.loads(pickle.dumps(bad.value))
    assert type(copy) is ParamValidationError and str(copy) == str(bad.value)


# Calls that boto3 refuses before any request, with every kind of shape the inputs use.
BAD_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("ListSecrets", {"SortBy": ["name"]}),
    ("ListSecrets", {"SortOrder": 1, "MaxResults": "3", "IncludePlannedDeletion": "yes"}),
    ("ListSecrets", {"Filters": [{"Key": "name", "Values": "prod"}]}),
    ("ListSecrets", {"Filters": [{"Key": ["name"], "Values": []}], "MaxResults": 0}),
    ("ListSecrets", {"Filters": {"Key": "name"}}),
    ("GetSecretValue", {"SecretId": "s", "VersionId": ["v" * 36]}),
    ("GetSecretValue", {"SecretId": "", "VersionStage": ""}),
    ("GetSecretValue", {"VersionId": "x" * 31}),
    ("DescribeSecret", {"SecretId": 7}),
    ("CreateSecret", {"Name": "n", "Tags": [{"Key": 1, "Value": None}]}),
    ("CreateSecret", {"Name": "n", "Tags": [{"Value": "v"}, "k=v"], "Description": b"d"}),
    ("CreateSecret", {"Name": "n", "AddReplicaRegions": [{"Region": 1}]}),
    ("PutSecretValue", {"SecretId": "s", "VersionStages": "AWSCURRENT"}),
    ("PutSecretValue", {"SecretId": "s", "VersionStages": [1, ""], "ClientRequestToken": "t"}),
    ("UntagResource", {"SecretId": "s", "TagKeys": [b"k"]}),
    ("DeleteSecret", {"SecretId": "s", "RecoveryWindowInDays": "7"}),
    ("DeleteSecret", {"SecretId": "s", "ForceDeleteWithoutRecovery": 1}),
    ("GetRandomPassword", {"PasswordLength": 0, "ExcludeNumbers": "no"}),
    ("BatchGetSecretValue", {"SecretIdList": "a,b", "MaxResults": 1.5}),
    ("UpdateSecretVersionStage", {"SecretId": "s", "VersionStage": None}),
]


def _method(client: SecretsManagerClient, op: str) -> Any:
    return getattr(client, "".join("_" + c.lower() if c.isupper() else c for c in op)[1:])


@pytest.mark.parametrize(("op", "params"), BAD_CALLS)
def test_parameter_errors_are_botocores_own_lines(
    bare_client: SecretsManagerClient, bare_path: Path, op: str, params: dict[str, Any]
) -> None:
    """Type errors (SortBy=[...], VersionId=[...]) and values under the model's minimums raise
    botocore's ParamValidationError with the report botocore's validator gives, before anything
    is read or written."""
    model = get_session().get_service_model("secretsmanager").operation_model(op)
    expected = ParamValidator().validate(params, model.input_shape).generate_report()
    before = commits(bare_path)
    with pytest.raises(botocore.exceptions.ParamValidationError) as info:
        _method(bare_client, op)(**params)
    assert isinstance(info.value, ParamValidationError)
    assert str(info.value) == "Parameter validation failed:\n" + expected
    assert info.value.kwargs == {"report": expected}
    assert commits(bare_path) == before


def test_a_secret_value_is_never_shown(bare_client: SecretsManagerClient) -> None:
    """botocore prints the value of a mistyped member; for SecretString and SecretBinary (the
    model's sensitive members) gitsm prints ``****``: its errors never carry a secret value."""
    for params in ({"SecretString": {"password": "hunter2-hunter2"}},
                   {"SecretBinary": ["hunter2-hunter2"]}):  # fmt: skip
        with pytest.raises(ParamValidationError) as info:
            bare_client.put_secret_value(SecretId="s", **params)
        assert "hunter2" not in str(info.value)
        assert "value: ****, type: <class" in str(info.value)


def test_unknown_and_missing_members_in_botocores_words(bare_client: SecretsManagerClient) -> None:
    with pytest.raises(ParamValidationError) as info:
        bare_client.put_secret_value(SecretString="x", Bogus=1)
    assert info.value.message == (
        "Parameter validation failed:\n"
        'Missing required parameter in input: "SecretId"\n'
        'Unknown parameter in input: "Bogus", must be one of: SecretId, ClientRequestToken, '
        "SecretBinary, SecretString, VersionStages, RotationToken"
    )


WITHOUT_BOTOCORE = textwrap.dedent(
    """
    import sys
    sys.modules["botocore"] = None  # hidden: "import botocore" raises ImportError
    import gitsm
    from gitsm import awsclient, awserrors
    assert not awserrors.WITH_BOTOCORE
    assert [c.__module__ for c in awsclient.ClientError.__mro__] == [
        "gitsm.awserrors", "builtins", "builtins", "builtins"]
    client = gitsm.client(repo=sys.argv[1])
    try:
        client.describe_secret(SecretId="missing")
    except client.exceptions.ResourceNotFoundException as exc:
        assert exc.response["Error"]["Code"] == "ResourceNotFoundException"
        assert exc.operation_name == "DescribeSecret"
        assert str(exc).startswith("An error occurred (ResourceNotFoundException) when calling")
    try:
        client.list_secrets(SortBy=["name"])
    except awsclient.ParamValidationError as exc:
        assert isinstance(exc, ValueError)
        assert "Invalid type for parameter SortBy" in str(exc)
    client.create_secret(Name="plain", SecretString="v", Tags=[{"Key": "k", "Value": "v"}])
    assert client.get_secret_value(SecretId="plain")["SecretString"] == "v"
    assert not any(name.startswith("botocore") and sys.modules[name] is not None
                   for name in sys.modules)
    print("ok")
    """
)


def test_without_botocore_the_errors_keep_working(bare_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_BOTOCORE, str(bare_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n"


def test_an_operation_missing_from_the_model_cannot_be_defined() -> None:
    """gitsm/apimodel.py is the one list of the client's operations: a method for any other fails
    as it is defined, naming the generator to add it to, instead of taking unchecked members."""
    from gitsm.awsclient import _operation

    with pytest.raises(
        LookupError, match=r"NotInTheModel is not in gitsm/apimodel.py.*gen_apimodel"
    ):
        _operation("NotInTheModel")
    assert callable(_operation("DescribeSecret"))


@pytest.mark.parametrize(
    ("op", "params", "where"),
    [
        ("GetSecretValue", {"SecretId": "a\ud800"}, "SecretId: character 2"),
        ("CreateSecret", {"Name": "n", "SecretString": "pw-\udcff"}, "SecretString: character 4"),
        ("CreateSecret", {"Name": "n", "SecretBinary": "\ud800"}, "SecretBinary: character 1"),
        ("TagResource", {"SecretId": "s", "Tags": [{"Key": "k\udc80", "Value": "v"}]},
         "Tags[0].Key: character 2"),
    ],
)  # fmt: skip
def test_text_that_utf8_cannot_encode_is_refused_before_anything_runs(
    bare_client: SecretsManagerClient, bare_path: Path, op: str, params: dict[str, Any], where: str
) -> None:
    """A lone UTF-16 surrogate (what Python makes of undecodable bytes in argv or a file read
    with surrogateescape) is no text a request could carry: refused as a parameter error naming
    the member and the position, never the value, with nothing written (it used to surface as a
    TypeError from the git layer or a UnicodeEncodeError from encryption)."""
    before = commits(bare_path)
    with pytest.raises(ParamValidationError) as info:
        _method(bare_client, op)(**params)
    assert f"Invalid value for parameter {where} is a lone UTF-16 surrogate" in str(info.value)
    assert "pw-" not in str(info.value)
    assert commits(bare_path) == before
