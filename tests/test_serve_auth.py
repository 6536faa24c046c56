"""``gitsm serve`` in normal mode, as a process: SigV4 with the access keys of ``gitsm serve
create-access-key``, the store's server policy (``.gitsm/server.yaml``) and secrets' resource
policies, through real boto3 clients and raw signed requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from freezegun import freeze_time

from tests.serving import Served, kill_quietly, make_store, raw, request, store_env

SERVER_YAML = """\
format: 1
principals:
  admin:
    read: ["*"]
    write: ["*"]
  reader:
    read: ["app/"]
  writer:
    write: ["app/"]
"""
ACCOUNT = "123456789012"


def git(*args: str, cwd: Path | None = None) -> str:
    env = {"GIT_AUTHOR_NAME": "Admin", "GIT_AUTHOR_EMAIL": "admin@example.com",
           "GIT_COMMITTER_NAME": "Admin", "GIT_COMMITTER_EMAIL": "admin@example.com",
           "PATH": "/usr/bin:/bin", "HOME": str(cwd or Path.cwd())}  # fmt: skip
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def commit_server_policy(repo: Path, work: Path, text: str) -> None:
    """An admin's plain git commit of .gitsm/server.yaml, pushed to the bare store."""
    if not work.exists():
        git("clone", "-q", str(repo), str(work))
    (work / ".gitsm" / "server.yaml").write_text(text)
    git("add", ".gitsm/server.yaml", cwd=work)
    git("commit", "-q", "-m", "Who may call gitsm serve", cwd=work)
    git("push", "-q", "origin", "HEAD", cwd=work)


def create_key(home: Path, principal: str) -> tuple[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "gitsm", "serve", "create-access-key", "--principal", principal],
        env=store_env(home), capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    key = json.loads(out.stdout)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


class Site:
    """The server, its store and the keys of two principals."""

    def __init__(self, base: Path) -> None:
        self.repo, self.home = make_store(base)
        self.work = base / "admin-clone"
        commit_server_policy(self.repo, self.work, SERVER_YAML)
        self.keys = {p: create_key(self.home, p) for p in ("admin", "reader", "writer")}
        self.server = Served(self.repo, self.home, "--port", "0")

    def client(self, who: str, secret: str | None = None) -> Any:
        key_id, key_secret = self.keys[who]
        return boto3.client(
            "secretsmanager", endpoint_url=self.server.url, region_name="us-east-1",
            aws_access_key_id=key_id, aws_secret_access_key=secret or key_secret,
            config=Config(retries={"max_attempts": 1}),
        )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    made = Site(tmp_path_factory.mktemp("serve-auth"))
    try:
        admin = made.client("admin")
        admin.create_secret(Name="app/db", SecretString="app-value-7Qx")
        admin.create_secret(Name="other/x", SecretString="other-value-9Zk")
        yield made
    finally:
        made.server.stop()
        kill_quietly(made.server.proc)


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def test_a_principal_reads_what_the_server_policy_allows(site: Site) -> None:
    reader = site.client("reader")
    assert reader.get_secret_value(SecretId="app/db")["SecretString"] == "app-value-7Qx"
    names = [s["Name"] for s in reader.list_secrets()["SecretList"]]
    assert names == ["app/db"]
    with pytest.raises(ClientError) as exc:
        reader.put_secret_value(SecretId="app/db", SecretString="nope")
    assert code_of(exc)[0] == "AccessDeniedException"
    assert "secretsmanager:PutSecretValue" in code_of(exc)[1]
    assert "nope" not in code_of(exc)[1]


def test_a_denial_does_not_tell_whether_the_secret_exists(site: Site) -> None:
    reader = site.client("reader")
    messages = []
    for secret_id in ("other/x", "other/missing"):
        with pytest.raises(ClientError) as exc:
            reader.get_secret_value(SecretId=secret_id)
        code, message = code_of(exc)
        assert code == "AccessDeniedException"
        messages.append(message.replace(secret_id, "<id>"))
    assert messages[0] == messages[1]
    assert messages[0] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/reader is not authorized to perform: "
        "secretsmanager:GetSecretValue on resource: <id> because no identity-based policy "
        "allows the secretsmanager:GetSecretValue action"
    )


def test_resource_policies_grant_and_deny(site: Site) -> None:
    admin, reader = site.client("admin"), site.client("reader")
    reader_arn = f"arn:aws:iam::{ACCOUNT}:user/reader"
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal":
             {"AWS": reader_arn}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}  # fmt: skip
    admin.put_resource_policy(SecretId="other/x", ResourcePolicy=json.dumps(allow))
    assert reader.get_secret_value(SecretId="other/x")["SecretString"] == "other-value-9Zk"
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal":
            {"AWS": reader_arn}, "Action": "secretsmanager:*", "Resource": "*"}]}  # fmt: skip
    admin.put_resource_policy(SecretId="app/db", ResourcePolicy=json.dumps(deny))
    try:
        with pytest.raises(ClientError) as exc:
            reader.get_secret_value(SecretId="app/db")
        assert code_of(exc)[0] == "AccessDeniedException"
        assert "explicit deny" in code_of(exc)[1]
    finally:
        admin.delete_resource_policy(SecretId="app/db")
        admin.delete_resource_policy(SecretId="other/x")
    assert reader.get_secret_value(SecretId="app/db")["SecretString"] == "app-value-7Qx"


def test_wrong_and_unknown_keys_are_refused(site: Site) -> None:
    with pytest.raises(ClientError) as exc:
        site.client("reader", secret="x" * 40).get_secret_value(SecretId="app/db")
    assert code_of(exc)[0] == "InvalidSignatureException"
    stranger = boto3.client(
        "secretsmanager", endpoint_url=site.server.url, region_name="us-east-1",
        aws_access_key_id="AKIAAAAAAAAAAAAAAAAA", aws_secret_access_key="y" * 40,
        config=Config(retries={"max_attempts": 1}),
    )  # fmt: skip
    with pytest.raises(ClientError) as exc:
        stranger.get_secret_value(SecretId="app/db")
    assert code_of(exc) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    unsigned = raw(site.server.port, request("secretsmanager.GetSecretValue",
                                             b'{"SecretId": "app/db"}'))  # fmt: skip
    assert b"HTTP/1.1 400" in unsigned
    assert b"app-value" not in unsigned


def test_a_six_minute_old_signature_is_refused(site: Site) -> None:
    key_id, key_secret = site.keys["reader"]
    body = b'{"SecretId": "app/db"}'
    headers = {"X-Amz-Target": "secretsmanager.GetSecretValue",
               "Content-Type": "application/x-amz-json-1.1"}  # fmt: skip
    signed: dict[str, str] = {}
    for age in (6, 0):
        req = AWSRequest(method="POST", url=site.server.url + "/", data=body, headers=headers)
        with freeze_time(datetime.now(UTC) - timedelta(minutes=age)):
            SigV4Auth(Credentials(key_id, key_secret), "secretsmanager", "us-east-1").add_auth(req)
        signed = dict(req.headers.items())
        call = urllib.request.Request(site.server.url + "/", data=body, headers=signed)
        if age:
            with pytest.raises(urllib.error.HTTPError) as exc:
                urllib.request.urlopen(call, timeout=10)
            answer = json.loads(exc.value.read())
            assert answer["__type"] == "InvalidSignatureException"
            assert answer["message"].startswith("Signature expired:")
        else:
            with urllib.request.urlopen(call, timeout=10) as response:
                assert json.loads(response.read())["SecretString"] == "app-value-7Qx"


def test_start_says_why_every_request_would_be_refused(tmp_path: Path) -> None:
    """No access key and no server policy: the server starts and says both on standard error;
    the test-mode reset is not there."""
    repo, home = make_store(tmp_path)
    server = Served(repo, home, "--port", "0")
    try:
        reset = raw(server.port, b"POST /moto-api/reset HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Length: 0\r\n\r\n")  # fmt: skip
        code, said = server.stop()
    finally:
        kill_quietly(server.proc)
    assert code == 0, said
    assert "Traceback" not in said
    assert b"HTTP/1.1 404" in reset or b"HTTP/1.1 400" in reset
    startup = server.started
    assert "no access keys" in startup and "create-access-key --principal" in startup
    assert "server.yaml" in startup and "every request is denied" in startup


def test_create_secret_is_judged_on_its_name(site: Site) -> None:
    writer = site.client("writer")
    with pytest.raises(ClientError) as exc:
        writer.create_secret(Name="prod/evil", SecretString="x")
    assert code_of(exc)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:  # no oracle: the same answer for a name that exists
        writer.create_secret(Name="other/x", SecretString="x")
    assert code_of(exc)[0] == "AccessDeniedException"
    names = [s["Name"] for s in site.client("admin").list_secrets()["SecretList"]]
    assert "prod/evil" not in names


def test_a_write_only_principal_cannot_grant_itself_reading(site: Site) -> None:
    writer, admin = site.client("writer"), site.client("admin")
    admin.create_secret(Name="app/w-only", SecretString="w-value-3Rt")
    grant = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal":
             {"AWS": f"arn:aws:iam::{ACCOUNT}:user/writer"}, "Action": "secretsmanager:*",
             "Resource": "*"}]}  # fmt: skip
    for call in (lambda: writer.put_resource_policy(SecretId="app/w-only",
                                                    ResourcePolicy=json.dumps(grant)),
                 lambda: writer.delete_resource_policy(SecretId="app/w-only")):  # fmt: skip
        with pytest.raises(ClientError) as exc:
            call()
        assert code_of(exc)[0] == "AccessDeniedException"
    assert "ResourcePolicy" not in admin.get_resource_policy(SecretId="app/w-only")
    with pytest.raises(ClientError) as exc:
        writer.get_secret_value(SecretId="app/w-only")
    assert code_of(exc)[0] == "AccessDeniedException"


def test_an_explicit_deny_holds_in_listings_and_batch_reads(site: Site) -> None:
    admin, reader = site.client("admin"), site.client("reader")
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": {"AWS":
            f"arn:aws:iam::{ACCOUNT}:user/reader"}, "Action": "secretsmanager:*",
            "Resource": "*"}]}  # fmt: skip
    admin.put_resource_policy(SecretId="app/db", ResourcePolicy=json.dumps(deny))
    try:
        assert "app/db" not in [s["Name"] for s in reader.list_secrets()["SecretList"]]
        by_id = reader.batch_get_secret_value(SecretIdList=["app/db"])
        assert by_id["SecretValues"] == []
        assert [e["ErrorCode"] for e in by_id["Errors"]] == ["AccessDeniedException"]
        by_filter = reader.batch_get_secret_value(Filters=[{"Key": "name", "Values": ["app/"]}])
        assert "app/db" not in [v["Name"] for v in by_filter["SecretValues"]]
        assert by_filter["Errors"] == []
        assert "app-value" not in json.dumps(by_id, default=str) + json.dumps(
            by_filter, default=str
        )
    finally:
        admin.delete_resource_policy(SecretId="app/db")


def test_a_batch_read_by_filter_never_names_a_hidden_secret(site: Site) -> None:
    out = site.client("reader").batch_get_secret_value(
        Filters=[{"Key": "name", "Values": ["other/"]}]
    )
    assert out["SecretValues"] == [] and out["Errors"] == []


def test_the_operation_header_must_be_signed(site: Site) -> None:
    key_id, key_secret = site.keys["admin"]
    body = b'{"SecretId": "app/db"}'
    req = AWSRequest(method="POST", url=site.server.url + "/", data=body,
                     headers={"Content-Type": "application/x-amz-json-1.1"})  # fmt: skip
    SigV4Auth(Credentials(key_id, key_secret), "secretsmanager", "us-east-1").add_auth(req)
    headers = {**dict(req.headers.items()), "X-Amz-Target": "secretsmanager.DeleteSecret"}
    call = urllib.request.Request(site.server.url + "/", data=body, headers=headers)
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(call, timeout=10)
    assert json.loads(exc.value.read())["__type"] == "IncompleteSignatureException"
    assert "DeletedDate" not in site.client("admin").describe_secret(SecretId="app/db")


def test_test_mode_answers_no_web_page(tmp_path: Path) -> None:
    """Test mode checks no signature: a browser's cross-site POST (Origin) and a page that rebound
    its DNS name to 127.0.0.1 (Host) are refused, the reset included."""
    repo, home = make_store(tmp_path)
    server = Served(repo, home, "--test-reset", "--port", "0")
    try:
        body = b'{"Name": "web/x", "SecretString": "v"}'
        origin = raw(server.port, request("secretsmanager.CreateSecret", body,
                                          "Origin: http://evil.example\r\n"))  # fmt: skip
        reset = raw(server.port, b"POST /moto-api/reset HTTP/1.1\r\nHost: evil.example:80\r\n"
                                 b"Content-Length: 0\r\n\r\n")  # fmt: skip
        fine = raw(server.port, request("secretsmanager.CreateSecret", body))
        code, said = server.stop()
    finally:
        kill_quietly(server.proc)
    assert code == 0, said
    assert origin.startswith(b"HTTP/1.1 403") and b"AccessDeniedException" in origin
    assert reset.startswith(b"HTTP/1.1 403")
    assert fine.startswith(b"HTTP/1.1 200")


def test_listings_are_filtered_before_they_are_paged(site: Site) -> None:
    """A page is full of what the caller may see, and a NextToken comes only when more of it
    follows: neither a short page nor a NextToken says that hidden secrets match a filter."""
    admin, reader = site.client("admin"), site.client("reader")
    for n in range(3):
        admin.create_secret(Name=f"other/page{n}", SecretString="hidden")
        admin.create_secret(Name=f"app/page{n}", SecretString="shown")
    hidden = reader.list_secrets(MaxResults=1, Filters=[{"Key": "name", "Values": ["other/"]}])
    assert hidden["SecretList"] == [] and "NextToken" not in hidden
    seen, token, pages = [], None, 0
    while True:
        page = reader.list_secrets(MaxResults=1, Filters=[{"Key": "name", "Values": ["app/page",
                                   "other/page"]}], **({"NextToken": token} if token else {}))  # fmt: skip
        pages += 1
        assert len(page["SecretList"]) == 1, page
        seen += [s["Name"] for s in page["SecretList"]]
        token = page.get("NextToken")
        if token is None:
            break
    assert sorted(seen) == [f"app/page{n}" for n in range(3)] and pages == 3
    batch = reader.batch_get_secret_value(MaxResults=1, Filters=[{"Key": "name",
                                                                  "Values": ["other/page"]}])  # fmt: skip
    assert batch["SecretValues"] == [] and batch["Errors"] == [] and "NextToken" not in batch


def test_a_filtered_listing_still_refuses_bad_paging_parameters(site: Site) -> None:
    reader = site.client("reader")
    for bad in ({"MaxResults": 101}, {"NextToken": "not-a-token"}):
        with pytest.raises(ClientError) as exc:
            reader.list_secrets(**bad)
        assert code_of(exc)[0] in ("InvalidParameterException", "InvalidNextTokenException"), bad


def test_the_aws_cli_signs_in_and_a_wrong_key_is_refused(site: Site, tmp_path: Path) -> None:
    """The real aws CLI (``.venv-awscli``) against the server in normal mode: its own SigV4
    signature with the reader's key reads the value; the same key id with a wrong secret is
    refused with InvalidSignatureException and prints no value."""
    from tests.test_serve_awscli import AWS

    if not AWS.exists():
        pytest.skip(f"THE AWS CLI IS NOT INSTALLED ({AWS} is missing): run scripts/setup-awscli")
    key_id, key_secret = site.keys["reader"]
    outputs = {}
    for label, secret in (("right", key_secret), ("wrong", "z" * 40)):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret,
                   AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "none"),
                   AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_PAGER="",
                   AWS_EC2_METADATA_DISABLED="true")  # fmt: skip
        outputs[label] = subprocess.run(
            [str(AWS), "--endpoint-url", site.server.url, "secretsmanager", "get-secret-value",
             "--secret-id", "app/db", "--query", "SecretString", "--output", "text"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert outputs["right"].returncode == 0, outputs["right"].stderr
    assert outputs["right"].stdout.strip() == "app-value-7Qx"
    assert outputs["wrong"].returncode != 0
    assert "InvalidSignatureException" in outputs["wrong"].stderr
    assert "app-value" not in outputs["wrong"].stdout + outputs["wrong"].stderr
