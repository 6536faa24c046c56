"""The request handler of ``gitsm serve`` in process (``App.handle``): authorization before any
lookup, listings filtered by what a caller may read, the per-commit cache, test mode's reset (in a
checkout and a bare store), and failures of the seams answered in AWS's shape."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import gitsm
from gitsm.serve.access import AllowAll, NoAuth, scope_region
from gitsm.serve.app import App
from gitsm.serve.backend import Backend
from gitsm.serve.caller import Caller, EndpointError

SIGNED = ("AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-central-1/secretsmanager/aws4_request, "
          "SignedHeaders=host;x-amz-date, Signature=00")  # fmt: skip


class OnlyPublic:
    """Allows reading only names under public/, and refuses writes under locked/."""

    def __init__(self) -> None:
        self.checked: list[tuple[str, str | None]] = []

    def check(self, caller: Caller, operation: str, secret_id: str | None) -> None:
        self.checked.append((operation, secret_id))
        if secret_id is not None and secret_id.startswith("locked/"):
            raise EndpointError("AccessDeniedException", "not for you")

    def may_read(self, caller: Caller, name: str) -> bool:
        return name.startswith("public/")


class Broken:
    """An authenticator that fails unexpectedly."""

    def authenticate(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Caller:
        raise RuntimeError("a bug that must not reach the client: token=hunter2")


def call(app: App, operation: str, peer: str = "127.0.0.1", **params: Any) -> tuple[int, Any]:
    headers = {"x-amz-target": f"secretsmanager.{operation}", "authorization": SIGNED}
    status, _, body = app.handle("POST", "/", "", headers, json.dumps(params).encode(), peer)
    return status, json.loads(body)


@pytest.fixture
def app(any_path: Path) -> App:
    return App(Backend(any_path), NoAuth(), OnlyPublic(), test_mode=True)


def test_authorization_comes_before_any_lookup(app: App) -> None:
    status, body = call(app, "GetSecretValue", SecretId="locked/none")
    assert (status, body["__type"]) == (400, "AccessDeniedException")
    status, body = call(app, "GetSecretValue", SecretId="public/none")
    assert body["__type"] == "ResourceNotFoundException"
    assert ("GetSecretValue", "locked/none") in app.authorizer.checked  # type: ignore[attr-defined]


def test_listings_show_only_what_the_caller_may_read(app: App) -> None:
    for name in ("public/a", "private/b"):
        assert call(app, "CreateSecret", Name=name, SecretString="v-" + name)[0] == 200
    status, listed = call(app, "ListSecrets")
    assert [s["Name"] for s in listed["SecretList"]] == ["public/a"]
    status, batch = call(app, "BatchGetSecretValue", SecretIdList=["public/a", "private/b"])
    assert [v["Name"] for v in batch["SecretValues"]] == ["public/a"]
    assert [(e["SecretId"], e["ErrorCode"]) for e in batch["Errors"]] == [
        ("private/b", "AccessDeniedException")]  # fmt: skip
    status, filtered = call(app, "BatchGetSecretValue", Filters=[{"Key": "name", "Values": [""]}])
    assert status == 200
    assert [v["Name"] for v in filtered["SecretValues"]] == ["public/a"]
    assert "v-private/b" not in json.dumps(filtered)


def test_arns_use_the_signature_region_and_the_cache_follows_the_tip(app: App) -> None:
    status, made = call(app, "CreateSecret", Name="public/c", SecretString="one")
    assert status == 200
    assert made["ARN"].startswith("arn:aws:secretsmanager:eu-central-1:")
    assert call(app, "GetSecretValue", SecretId="public/c")[1]["SecretString"] == "one"
    assert call(app, "GetSecretValue", SecretId="public/c")[1]["SecretString"] == "one"
    assert app.cache.hits >= 1
    gitsm.client(repo=app.backend.path).put_secret_value(SecretId="public/c", SecretString="two")
    assert call(app, "GetSecretValue", SecretId="public/c")[1]["SecretString"] == "two"


def test_reset_empties_the_store_and_only_from_loopback(app: App) -> None:
    call(app, "CreateSecret", Name="public/d", SecretString="x")
    status, _, body = app.handle("POST", "/moto-api/reset", "", {}, b"", "192.0.2.7")
    assert (status, json.loads(body)["__type"]) == (400, "AccessDeniedException")
    assert call(app, "DescribeSecret", SecretId="public/d")[0] == 200
    for _ in range(2):  # twice: a reset of an empty store is fine too
        status, _, body = app.handle("POST", "/moto-api/reset", "", {}, b"", "::1")
        assert (status, json.loads(body)["status"]) == (200, "ok")
    assert call(app, "DescribeSecret", SecretId="public/d")[1]["__type"] == (
        "ResourceNotFoundException"
    )
    status, made = call(app, "CreateSecret", Name="public/d", SecretString="y")
    assert ":123456789012:secret:public/d-" in made["ARN"]
    if (app.backend.path / ".git").exists():  # a checkout follows the reset: nothing stale
        status_out = subprocess.run(["git", "status", "--porcelain"], cwd=app.backend.path,
                                    capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert status_out == ""
        versions = app.backend.path / "secrets" / "public" / "d" / "~versions"
        assert len(list(versions.iterdir())) == 1


def test_reset_is_unknown_outside_test_mode(any_path: Path) -> None:
    app = App(Backend(any_path), NoAuth(), AllowAll(), test_mode=False)
    status, _, body = app.handle("POST", "/moto-api/reset", "", {}, b"", "127.0.0.1")
    assert (status, json.loads(body)["__type"]) == (404, "UnknownOperationException")


def test_a_failing_seam_is_an_internal_error_without_its_words(bare_path: Path) -> None:
    app = App(Backend(bare_path), Broken(), AllowAll(), test_mode=True)
    status, body = call(app, "ListSecrets")
    assert (status, body["__type"]) == (500, "InternalServiceError")
    assert "hunter2" not in json.dumps(body)


def test_scope_region() -> None:
    assert scope_region(SIGNED) == "eu-central-1"
    assert scope_region(None) == "us-east-1"
    assert scope_region("AWS4-HMAC-SHA256 Credential=A/20260101/../x/aws4_request") == "us-east-1"
