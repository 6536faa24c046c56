"""The request handler of ``gitsm serve`` in process (``App.handle``): authorization before any
lookup, listings filtered by what a caller may read, the per-commit cache, test mode's reset (in a
checkout and a bare store), and failures of the seams answered in AWS's shape."""

from __future__ import annotations

import json
import random
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

LOCAL = {"host": "127.0.0.1:8283"}
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

    def check_found(
        self, caller: Caller, operation: str, secret_id: str | None, client: Any
    ) -> None:
        self.checked.append((f"{operation} (found)", secret_id))


class Broken:
    """An authenticator that fails unexpectedly."""

    def authenticate(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Caller:
        raise RuntimeError("a bug that must not reach the client: token=hunter2")


def call(app: App, operation: str, peer: str = "127.0.0.1", **params: Any) -> tuple[int, Any]:
    headers = {
        "x-amz-target": f"secretsmanager.{operation}",
        "authorization": SIGNED,
        "host": "localhost",
    }
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
    status, _, body = app.handle("POST", "/moto-api/reset", "", LOCAL, b"", "192.0.2.7")
    assert (status, json.loads(body)["__type"]) == (400, "AccessDeniedException")
    assert call(app, "DescribeSecret", SecretId="public/d")[0] == 200
    for _ in range(2):  # twice: a reset of an empty store is fine too
        status, _, body = app.handle("POST", "/moto-api/reset", "", LOCAL, b"", "::1")
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
    status, _, body = app.handle("POST", "/moto-api/reset", "", LOCAL, b"", "127.0.0.1")
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


def _junk(rng: random.Random, shape: dict[str, Any]) -> Any:
    """A value for ``shape``, often of the wrong type or out of bounds."""
    if rng.random() < 0.15:
        return rng.choice([None, True, 0, -1, 10**30, 1.5, "", [], {}, "x" * 3000, "\u0000",
                           "arn:aws:secretsmanager:us-east-1:1:secret:a-abcdef", "\u00e9"])  # fmt: skip
    kind = shape.get("type")
    if kind == "string":
        return rng.choice(["a", "A" * rng.randrange(1, 80), "AWSCURRENT", "\ud83d", "arn:",
                           "b" * 40, "../x", "~secret.yaml", "public/a"])  # fmt: skip
    if kind in ("integer", "long"):
        return rng.choice([0, 1, 5, 101, -3, 2**63, 2**64])
    if kind == "boolean":
        return rng.choice([True, False])
    if kind == "blob":
        return rng.choice(["AA==", "", "////", "YQ==", "%%"])
    if kind == "list":
        return [_junk(rng, shape["member"]) for _ in range(rng.randrange(0, 4))]
    if kind == "structure":
        return {k: _junk(rng, v) for k, v in shape["members"].items() if rng.random() < 0.6}
    return None


def test_junk_parameters_are_client_faults_never_500(bare_path: Path, seed: int) -> None:
    """Random, mostly wrong parameters for every operation (rotation aside: it starts
    processes): each answer is a 200 or a 4xx with an AWS code, never an internal error."""
    from gitsm import apimodel

    app = App(Backend(bare_path), NoAuth(), AllowAll(), test_mode=True)
    call(app, "CreateSecret", Name="public/a", SecretString="x")
    rng = random.Random(seed)
    operations = [op for op in apimodel.OPERATIONS if op != "RotateSecret"]
    seen = set()
    for _ in range(600):
        operation = rng.choice(operations)
        members = apimodel.OPERATIONS[operation]["members"]
        params = {k: _junk(rng, v) for k, v in members.items() if rng.random() < 0.6}
        status, body = call(app, operation, **params)
        assert status == 200 or (status == 400 and body["__type"]), (operation, body)
        seen.add(status)
    assert seen == {200, 400}


class _Transport:
    """Just enough of an asyncio transport to see a connection closed."""

    def __init__(self) -> None:
        self.closed = False

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 5555) if name == "peername" else None

    def close(self) -> None:
        self.closed = True


def test_sweep_closes_idle_and_slow_connections(bare_path: Path) -> None:
    import time

    from gitsm.serve import http

    server = http.Server(App(Backend(bare_path), NoAuth(), AllowAll(), test_mode=True))
    try:
        conns, transports = [], []
        for _ in range(3):
            conn, transport = http.Connection(server), _Transport()
            conn.connection_made(transport)  # type: ignore[arg-type]
            conns.append(conn)
            transports.append(transport)
        now = time.monotonic()
        conns[0].last_active = now - http.IDLE_TIMEOUT - 1  # idle too long
        conns[1].began = now - http.REQUEST_TIMEOUT - 1  # a request dribbling in
        conns[1].last_active = now
        server.sweep()
        assert [t.closed for t in transports] == [True, True, False]
        assert server.connections == {conns[2]}
    finally:
        server.writer.shutdown()
        server.readers.shutdown()


def test_response_cache_bounds_and_commits(monkeypatch: pytest.MonkeyPatch) -> None:
    from gitsm.serve import cache

    kept = cache.ResponseCache()
    key = ("GetSecretValue", "{}", "p", "us-east-1")
    assert kept.get("c1", key) is None
    kept.put("c1", key, b"one")
    assert kept.get("c1", key) == b"one"
    kept.put("c0", key, b"stale")  # an answer for a commit the cache has left is not kept
    assert kept.get("c1", key) == b"one"
    assert kept.get("c2", key) is None  # the tip moved: everything dropped
    monkeypatch.setattr(cache, "MAX_BYTES", 10)
    for i in range(5):
        kept.put("c2", ("GetSecretValue", str(i), "p", "r"), b"x" * 4)
    assert kept.size <= 10
    assert len(kept.entries) <= 2


def test_workers_run_jobs_in_order_and_answer_on_the_loop() -> None:
    """The server's worker threads: one thread takes its jobs in the order given, each answer is
    handed to the event loop's thread, and after shutdown no job is taken."""
    import asyncio
    import threading

    from gitsm.serve.workers import Workers

    workers = Workers(1, "test-writer")
    ran: list[tuple[int, str]] = []
    answered: list[tuple[int, bool]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        for i in range(5):

            def work(i: int = i) -> int:
                ran.append((i, threading.current_thread().name))
                return i

            def then(out: int) -> None:
                answered.append((out, threading.current_thread() is threading.main_thread()))
                if out == 4:
                    done.set_result(None)

            workers.submit(work, then, loop)
        await done

    asyncio.run(main())
    workers.shutdown()
    assert [i for i, _ in ran] == list(range(5))
    assert {name for _, name in ran} == {"test-writer-0"}
    assert answered == [(i, True) for i in range(5)]
    loop = asyncio.new_event_loop()
    with pytest.raises(RuntimeError):
        workers.submit(lambda: 0, lambda out: None, loop)
    loop.close()
