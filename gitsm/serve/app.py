"""The request handler, independent of the HTTP plumbing.

:meth:`App.handle` takes a request (method, path, query, lower-cased headers, body, peer) and gives
``(status, headers, body)``. The HTTP server calls :meth:`App.prepare` instead, which answers at
once what needs no store access (a cache hit, /health, a refusal) and otherwise gives a
:class:`Job`: work to run in a worker thread (writes on the one writer thread, one at a time, so
cached reads keep flowing), then ``done`` back on the server's thread (the cache, the access log).

Order for an operation: authenticate, read the operation and its parameters, authorize (before
any lookup), then the cache (reads) or the store. A write is authorized on the writer thread right
before it runs: when the branch moved, the policy is then read through the handle that reads the
new tip for the write anyway. A write is answered only after its commit landed.
"""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from gitsm.serve import wire
from gitsm.serve.access import AllowAll, Authenticator, Authorizer
from gitsm.serve.applog import AccessLog, Headers, LogEntry, Response, failure
from gitsm.serve.backend import Backend
from gitsm.serve.cache import CacheKey, ResponseCache, TipReader
from gitsm.serve.caller import Caller, EndpointError

CACHED = frozenset(
    {"GetSecretValue", "DescribeSecret", "ListSecrets", "ListSecretVersionIds",
     "GetResourcePolicy", "BatchGetSecretValue"}
)  # fmt: skip
"""Reads whose answers the cache keeps (GetRandomPassword never: each answer must be new)."""
DENIED = "You are not authorized to read this secret."
MAX_DECODED = 4096
"""Decoded read requests kept (by body); the dict starts over when full."""
MAX_KEPT_BODY = 4096
"""Bodies longer than this are decoded every time."""


@dataclass
class Job:
    """A request that needs the store: ``work`` in a worker thread (``write``: the writer's),
    then ``done`` with its answer on the thread that serves connections."""

    work: Callable[[], Response]
    write: bool
    done: Callable[[Response], None]
    rotation: bool = False
    """RotateSecret: it waits for the rotation function, which may call this server back (as an
    AWS rotation Lambda calls Secrets Manager), so it runs on a thread of its own, not the
    writer's; its commits are serialized by the store's lock like any other."""


def _json(status: int, data: dict[str, Any]) -> Response:
    return Response(status, json.dumps(data).encode(), [("Content-Type", "application/json")])


def error_response(code: str, message: str, status: int) -> Response:
    """An AWS JSON error answer."""
    return Response(
        status,
        wire.error_body(code, message),
        [("Content-Type", wire.CONTENT_TYPE), ("x-amzn-ErrorType", code),
         ("x-amzn-RequestId", str(uuid.uuid4()))],
    )  # fmt: skip


def is_local(peer: str) -> bool:
    """True for a loopback address or a unix socket's peer (``"unix"``)."""
    if peer == "unix":
        return True
    try:
        address = ipaddress.ip_address(peer.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


PAGED = {"ListSecrets": ("SecretList", 100), "BatchGetSecretValue": ("SecretValues", 20)}
"""The listings paged after filtering: the answer's list field and the store's page size."""
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def from_a_local_program(peer: str, headers: Mapping[str, str]) -> bool:
    """True unless the request may come from a web page: test mode checks no signature, so a
    page in a local browser must not reach it. A browser names the page's origin in ``Origin``
    on a cross-site POST (no other client sends it), and a page that rebinds its own DNS name to
    127.0.0.1 still sends that name as ``Host``."""
    if "origin" in headers:
        return False
    if peer == "unix":
        return True
    host = headers.get("host", "").strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host in LOCAL_HOSTS


def _names_of(secret_id: str) -> list[str]:
    """The secret names a SecretId may mean: itself, or for an ARN the name with and without
    its 7-character suffix."""
    if not secret_id.startswith("arn:"):
        return [secret_id]
    rest = secret_id.split(":secret:", 1)[1] if ":secret:" in secret_id else ""
    names = [rest] if rest else []
    if len(rest) > 7 and rest[-7] == "-":
        names.append(rest[:-7])
    return names


class App:
    """The endpoint over one store."""

    def __init__(
        self,
        backend: Backend,
        authenticator: Authenticator,
        authorizer: Authorizer,
        *,
        test_mode: bool = False,
        log: TextIO | None = None,
    ) -> None:
        self.backend = backend
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.test_mode = test_mode
        self.tips = TipReader(backend.gitdir, backend.branch)
        self.cache = ResponseCache()
        self.log = AccessLog(log)
        self._decoded: dict[tuple[str, bytes], tuple[dict[str, Any], str]] = {}

    def handle(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
        peer: str,
    ) -> tuple[int, Headers, bytes]:  # fmt: skip
        """Answer one request, running any store work on this thread."""
        out = self.prepare(method, path, query, headers, body, peer)
        if isinstance(out, Job):
            job, out = out, out.work()
            job.done(out)
        return out.status, out.headers, out.body

    def prepare(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
        peer: str,
    ) -> Response | Job:  # fmt: skip
        """The answer, when it needs no store work; else the :class:`Job` that makes it."""
        entry = LogEntry(time.perf_counter(), peer)
        try:
            out = self._route(method, path, query, headers, body, entry)
        except EndpointError as exc:
            out = error_response(exc.code, exc.message, exc.http_status)
        except Exception as exc:  # an authenticator's or authorizer's own failure
            out = error_response(*failure(exc))
        if isinstance(out, Response):
            self.log.write(entry, out)
        return out

    def _route(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
        entry: LogEntry,
    ) -> Response | Job:  # fmt: skip
        if self.test_mode and not from_a_local_program(entry.peer, headers):
            raise EndpointError(
                "AccessDeniedException",
                "gitsm serve --test-reset answers programs on this machine only: no Origin "
                "header, and Host localhost, 127.0.0.1 or [::1].",
                403,
            )
        if path == "/" and method == "POST":
            return self._operation(method, path, query, headers, body, entry)
        if path == "/health" and method == "GET":
            entry.operation = "Health"
            return _json(200, {"status": "ok", "branch": self.backend.branch,
                               "tip": self.tips.tip()})  # fmt: skip
        if path == "/moto-api/reset" and method == "POST" and self.test_mode:
            entry.operation = "Reset"
            if not is_local(entry.peer):
                raise EndpointError("AccessDeniedException", "Reset is allowed from loopback only.")
            return self._job(entry, self._reset, write=True)
        raise EndpointError(
            "UnknownOperationException",
            "This endpoint serves Secrets Manager operations as POST / (and GET /health).",
            404,
        )

    def _operation(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
        entry: LogEntry,
    ) -> Response | Job:  # fmt: skip
        caller = self.authenticator.authenticate(method, path, query, headers, body)
        entry.principal = caller.principal
        operation = wire.operation_of(headers.get("x-amz-target"))
        entry.operation = operation
        if operation not in CACHED:
            params = wire.decode(operation, body)
            write = operation not in wire.READS
            rotation = operation == "RotateSecret"
            if not write or rotation:
                self._authorize(caller, operation, params, entry)
                job = self._job(entry, lambda: self._call(caller, operation, params), write)
                job.rotation = rotation
                return job

            def authorized_write() -> Response:
                self._authorize(caller, operation, params, entry)
                return self._call(caller, operation, params)

            return self._job(entry, authorized_write, write)
        params, canonical = self._decode_read(operation, body)
        self._authorize(caller, operation, params, entry)
        key: CacheKey = (operation, canonical, caller.principal, caller.region)
        commit = self.tips.tip()
        cached = self.cache.get(commit, key)
        if cached is not None:
            entry.cache = "hit"
            return Response(200, cached, [("Content-Type", wire.CONTENT_TYPE),
                                          ("x-amzn-RequestId", str(uuid.uuid4()))])  # fmt: skip
        entry.cache = "miss"

        def keep(out: Response) -> None:
            if out.status == 200:
                self.cache.put(commit, key, out.body)

        return self._job(entry, lambda: self._call(caller, operation, params), False, keep)

    def _authorize(
        self, caller: Caller, operation: str, params: dict[str, Any], entry: LogEntry
    ) -> None:
        # CreateSecret names its secret in Name; every other operation in SecretId
        secret_id = params.get("Name" if operation == "CreateSecret" else "SecretId")
        entry.secret_id = secret_id if isinstance(secret_id, str) else None
        self.authorizer.check(caller, operation, entry.secret_id)
        if operation == "BatchGetSecretValue" and params.get("Filters") is not None:
            self.authorizer.check(caller, "ListSecrets", None)  # as AWS requires for Filters

    def _decode_read(self, operation: str, body: bytes) -> tuple[dict[str, Any], str]:
        """A read's parameters and their canonical form, kept by body: a client repeating a read
        sends the same bytes, and decoding them again is most of a cache hit's cost."""
        found = self._decoded.get((operation, body))
        if found is None:
            params = wire.decode(operation, body)
            found = params, wire.canonical(params)
            if len(body) <= MAX_KEPT_BODY:
                if len(self._decoded) >= MAX_DECODED:
                    self._decoded.clear()
                self._decoded[(operation, body)] = found
        return found

    def _job(
        self, entry: LogEntry, work: Callable[[], Response], write: bool,
        then: Callable[[Response], None] | None = None,
    ) -> Job:  # fmt: skip
        def guarded() -> Response:
            try:
                return work()
            except Exception as exc:
                return error_response(*failure(exc))

        def done(out: Response) -> None:
            if then is not None:
                then(out)
            self.log.write(entry, out)

        return Job(guarded, write, done)

    def _reset(self) -> Response:
        tip = self.backend.reset()
        self.cache.clear()
        return _json(200, {"status": "ok", "tip": tip})

    def _call(self, caller: Caller, operation: str, params: dict[str, Any]) -> Response:
        client = self.backend.client(caller.region)
        method = getattr(client, wire.OPERATIONS[operation])
        secret_id = params.get("Name" if operation == "CreateSecret" else "SecretId")
        self.authorizer.check_found(
            caller, operation, secret_id if isinstance(secret_id, str) else None, client
        )
        denied: list[str] = []
        if operation == "BatchGetSecretValue" and params.get("SecretIdList"):
            ids = params["SecretIdList"]
            allowed = [i for i in ids if self._may_read_id(caller, i)]
            denied = [i for i in ids if i not in allowed]
            params = {**params, "SecretIdList": allowed}
            out = method(**params) if allowed else {"SecretValues": [], "Errors": []}
        elif operation in PAGED and not isinstance(self.authorizer, AllowAll):
            out = self._visible_page(caller, operation, method, params, client)  # filtered
            return self._answer(out)
        else:
            out = method(**params)
        self._filter(caller, operation, out, denied, client, by_id=bool(params.get("SecretIdList")))
        return self._answer(out)

    @staticmethod
    def _answer(out: dict[str, Any]) -> Response:
        """An operation's 200 answer."""
        return Response(200, wire.encode(out), [("Content-Type", wire.CONTENT_TYPE),
                                                ("x-amzn-RequestId", str(uuid.uuid4()))])  # fmt: skip

    def _visible_page(
        self, caller: Caller, operation: str, method: Callable[..., dict[str, Any]],
        params: dict[str, Any], client: Any,
    ) -> dict[str, Any]:  # fmt: skip
        """A page of a listing (ListSecrets, BatchGetSecretValue by Filters) holding only what the
        caller may see, filtered before it is paged: the store's pages are read until the page
        is full, then one entry at a time until a visible one follows (its NextToken is
        returned) or the listing ends (no NextToken). So neither a short page nor a NextToken
        tells the caller that secrets it may not see match its filters."""
        field, limit = PAGED[operation]
        given = params.get("MaxResults")
        if given is not None and not (type(given) is int and 1 <= given <= limit):
            return method(**params)  # the store refuses it, in its own words
        limit = given or limit
        token = params.get("NextToken")
        shown_as = "DescribeSecret" if operation == "ListSecrets" else "GetSecretValue"
        errors: list[dict[str, Any]] = []

        def visible_id(secret_id: str) -> bool:
            return self._may_read_id(caller, secret_id) and self._visible(
                caller, shown_as, secret_id, client
            )

        def fetch(
            size: int, after: str | None, collect: bool = True
        ) -> tuple[list[dict[str, Any]], str | None]:
            ask = {**params, "MaxResults": size}
            ask.pop("NextToken", None)
            if after is not None:
                ask["NextToken"] = after
            got = method(**ask)
            # a secret the store could not read is reported only when the caller may see it
            if collect:
                errors.extend(e for e in got.get("Errors", []) if visible_id(e["SecretId"]))
            return list(got.get(field, [])), got.get("NextToken")

        def visible(item: dict[str, Any]) -> bool:
            return self.authorizer.may_read(caller, item["Name"]) and self._visible(
                caller, shown_as, item["ARN"], client
            )

        kept: list[dict[str, Any]] = []
        while len(kept) < limit and token is not False:
            items, after = fetch(limit - len(kept), token)
            kept += [item for item in items if visible(item)]
            token = False if after is None else after
        while isinstance(token, str):  # the page is full: is anything visible left?
            items, after = fetch(1, token, collect=False)  # its errors belong to the next page
            if any(visible(item) for item in items):
                break
            token = after
        out: dict[str, Any] = {field: kept}
        if field == "SecretValues":
            out["Errors"] = errors
        if isinstance(token, str):
            out["NextToken"] = token
        return out

    def _may_read_id(self, caller: Caller, secret_id: str) -> bool:
        return any(self.authorizer.may_read(caller, n) for n in _names_of(secret_id))

    def _visible(self, caller: Caller, operation: str, arn: str, client: Any) -> bool:
        """True when ``caller`` may ``operation`` the listed secret ``arn``: the server policy
        or the secret's resource policy allows it, and no explicit Deny refuses it."""
        try:
            self.authorizer.check_found(caller, operation, arn, client)
        except EndpointError:
            return False
        return True

    def _filter(
        self, caller: Caller, operation: str, out: dict[str, Any], denied: list[str], client: Any,
        *, by_id: bool = False,
    ) -> None:  # fmt: skip
        """Keep only what the caller may read of a listing or a batch read: by the server policy
        first, then each kept secret's resource policy (an explicit Deny hides it). A value the
        caller did not ask for by id is dropped without a word: an error entry would name it."""
        may = self.authorizer.may_read
        if operation == "ListSecrets":
            out["SecretList"] = [
                s for s in out.get("SecretList", [])
                if may(caller, s["Name"]) and self._visible(caller, "DescribeSecret", s["ARN"], client)
            ]  # fmt: skip
        elif operation == "BatchGetSecretValue":
            values = out.get("SecretValues", [])
            kept = [v for v in values if may(caller, v["Name"])
                    and self._visible(caller, "GetSecretValue", v["ARN"], client)]  # fmt: skip
            errors = list(out.get("Errors", []))
            if by_id:  # asked for by id, and the server policy let the caller name it
                errors += [{"SecretId": v["ARN"], "ErrorCode": "AccessDeniedException",
                            "Message": DENIED} for v in values if v not in kept]  # fmt: skip
            errors += [{"SecretId": i, "ErrorCode": "AccessDeniedException", "Message": DENIED}
                       for i in denied]  # fmt: skip
            out["SecretValues"] = kept
            out["Errors"] = errors
