"""SigV4 checking against botocore's own signer: what boto3 and the aws CLI sign is accepted, and
every way of getting it wrong is refused with AWS's error code and message (never another
exception, never a secret in the message)."""

from __future__ import annotations

import calendar
import contextlib
import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode

from gitsm.serve.accesskeys import AccessKey, new_access_key_id, new_secret_access_key
from gitsm.serve.caller import Caller, EndpointError
from gitsm.serve.sigv4 import (
    BAD_SIGNATURE,
    INVALID_TOKEN,
    MISSING_TOKEN,
    SigV4Verifier,
    canonical_path,
    canonical_query,
)

KEY = AccessKey(new_access_key_id(), new_secret_access_key(), "alice", datetime.now(UTC))
OTHER = AccessKey(new_access_key_id(), new_secret_access_key(), "bob", datetime.now(UTC))
REGIONS = ["us-east-1", "us-west-2", "eu-central-1", "ap-southeast-2", "cn-north-1"]
AUTH_CODES = {
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "UnrecognizedClientException",
}
BODY = json.dumps({"SecretId": "prod/db"}).encode()
TARGET = "secretsmanager.GetSecretValue"


def lookup(key_id: str) -> AccessKey | None:
    return {KEY.access_key_id: KEY, OTHER.access_key_id: OTHER}.get(key_id)


@dataclass
class Signed:
    """A request as the HTTP server hands it over: raw path and query, lower-case headers."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    @property
    def signed_at(self) -> float:
        return calendar.timegm(time.strptime(self.headers["x-amz-date"], "%Y%m%dT%H%M%SZ"))

    def check(self, verifier: SigV4Verifier) -> Caller:
        return verifier.authenticate(self.method, self.path, self.query, self.headers, self.body)


def sign(
    *,
    method: str = "POST",
    path: str = "/",
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = BODY,
    region: str = "us-east-1",
    key: AccessKey = KEY,
    secret: str | None = None,
    token: str | None = None,
    signer: type[SigV4Auth] = SigV4Auth,
) -> Signed:
    """Sign with botocore's SigV4Auth, as boto3 does, and return what the server would read."""
    given = {"Host": "127.0.0.1:8080", "X-Amz-Target": TARGET,
             "Content-Type": "application/x-amz-json-1.1"}  # fmt: skip
    if headers is not None:
        given = headers
    url = "http://127.0.0.1:8080" + path + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers=given)
    credentials = Credentials(key.access_key_id, secret or key.secret_access_key, token)
    signer(credentials, "secretsmanager", region).add_auth(request)
    wire = {name.lower(): value for name, value in request.headers.items()}
    return Signed(method, path, query, wire, body)


def refused(verifier: SigV4Verifier, request: Signed) -> tuple[str, str]:
    """(code, message) of a refusal; the message never holds a secret or a signature."""
    with pytest.raises(EndpointError) as info:
        request.check(verifier)
    err = info.value
    assert err.code in AUTH_CODES and err.http_status == 400
    for secret in (KEY.secret_access_key, OTHER.secret_access_key):
        assert secret not in err.message
    _, marker, signature = request.headers.get("authorization", "").rpartition("Signature=")
    assert not marker or len(signature) < 16 or signature not in err.message
    return err.code, err.message


def at(request: Signed, offset: float) -> Callable[[], float]:
    return lambda: request.signed_at + offset


# -- accepted ------------------------------------------------------------------------------------


def _random_path(rng: random.Random) -> str:
    words = ["a", "b", "secrets", "x y", "ü", "~user", "..", ".", "", "%2F", "a+b", "é=1"]
    segments = [rng.choice(words) for _ in range(rng.randrange(0, 5))]
    path = "/" + "/".join(quote(s, safe="~") if s not in (".", "..") else s for s in segments)
    return path + ("/" if rng.random() < 0.2 else "")


def _random_query(rng: random.Random) -> str:
    names = ["a", "B", "x-y", "z.w", "Action", "ü", "a b", "k~", "Version"]
    values = ["", "1", "v v", "é", "a/b", "+", "=", "&", "%", "🙂"]
    pairs = [(rng.choice(names), rng.choice(values)) for _ in range(rng.randrange(0, 5))]
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in pairs)


def _random_headers(rng: random.Random, body: bytes) -> dict[str, str]:
    def cased(name: str) -> str:
        return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in name)

    def spaced(value: str) -> str:
        pad = ["", " ", "  ", "\t", " \t "]
        inner = rng.choice([" ", "  ", "   ", "\t", " \t"])
        return rng.choice(pad) + value.replace(" ", inner) + rng.choice(pad)

    host = rng.choice(["127.0.0.1:8080", "localhost:8443", "secrets.internal", "[::1]:9000"])
    headers = {cased("host"): host, cased("x-amz-target"): spaced(TARGET)}
    extras = [("content-type", "application/x-amz-json-1.1"), ("x-custom", "a  b   c"),
              ("accept-encoding", "identity"), ("x-amz-user-agent", "aws-cli/2.15 md/x y"),
              ("amz-sdk-invocation-id", "7c1f2a3e-0000-4000-8000-000000000000")]  # fmt: skip
    for name, value in rng.sample(extras, rng.randrange(0, len(extras) + 1)):
        headers[cased(name)] = spaced(value)
    if rng.random() < 0.5:
        headers[cased("x-amz-content-sha256")] = hashlib.sha256(body).hexdigest()
    return headers


def test_what_botocore_signs_is_accepted_in_hundreds_of_shapes(seed: int) -> None:
    rng = random.Random(seed)
    verifier = SigV4Verifier(lookup, regions=REGIONS)
    for _ in range(300):
        body = rng.choice([b"", BODY, rng.randbytes(rng.randrange(1, 3000))])
        region = rng.choice(REGIONS)
        request = sign(
            method=rng.choice(["POST", "POST", "GET", "PUT", "DELETE"]),
            path=_random_path(rng),
            query=_random_query(rng),
            headers=_random_headers(rng, body),
            body=body,
            region=region,
            key=rng.choice([KEY, OTHER]),
        )
        caller = request.check(verifier)
        key = lookup(caller.access_key_id)
        assert key is not None and caller.principal == key.principal and caller.region == region


def test_any_region_is_accepted_when_none_is_configured() -> None:
    verifier = SigV4Verifier(lookup)
    assert sign(region="mars-north-7").check(verifier).region == "mars-north-7"


def test_the_skew_allowed_is_five_minutes_either_way() -> None:
    request = sign()
    for offset in (-300, 0, 300):
        assert request.check(SigV4Verifier(lookup, clock=at(request, offset))).principal == "alice"


def test_the_signing_key_is_derived_once_per_secret_day_and_region() -> None:
    verifier = SigV4Verifier(lookup)
    request = sign()
    request.check(verifier)
    day = request.headers["x-amz-date"][:8]
    first = verifier.signing_key(KEY.secret_access_key, day, "us-east-1")
    request.check(verifier)
    assert verifier.signing_key(KEY.secret_access_key, day, "us-east-1") is first
    assert verifier.signing_key(KEY.secret_access_key, day, "us-west-2") != first


# -- refused -------------------------------------------------------------------------------------


def test_wrong_secret_and_unknown_key_are_refused() -> None:
    verifier = SigV4Verifier(lookup)
    wrong = refused(verifier, sign(secret=new_secret_access_key()))
    assert wrong == ("InvalidSignatureException", BAD_SIGNATURE)
    stranger = AccessKey(new_access_key_id(), new_secret_access_key(), "eve", datetime.now(UTC))
    assert refused(verifier, sign(key=stranger)) == ("UnrecognizedClientException", INVALID_TOKEN)


def test_temporary_credentials_are_refused_like_an_unknown_token() -> None:
    request = sign(token="FwoGZXIvYXdzEXAMPLETOKEN")
    assert "x-amz-security-token" in request.headers
    code = refused(SigV4Verifier(lookup), request)
    assert code == ("UnrecognizedClientException", INVALID_TOKEN)


def test_a_region_not_allowed_is_refused() -> None:
    verifier = SigV4Verifier(lookup, regions=["us-east-1"])
    assert refused(verifier, sign(region="eu-west-3")) == (
        "InvalidSignatureException",
        "Credential should be scoped to a valid region, not 'eu-west-3'. ",
    )


def test_an_old_or_future_signature_is_refused_in_aws_words() -> None:
    request = sign()
    stamp = request.headers["x-amz-date"]

    def fmt(epoch: float) -> str:
        return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))

    now = request.signed_at + 360
    old = refused(SigV4Verifier(lookup, clock=at(request, 360)), request)
    assert old == (
        "InvalidSignatureException",
        f"Signature expired: {stamp} is now earlier than {fmt(now - 300)} ({fmt(now)} - 5 min.)",
    )
    now = request.signed_at - 301
    future = refused(SigV4Verifier(lookup, clock=at(request, -301)), request)
    assert future == (
        "InvalidSignatureException",
        f"Signature not yet current: {stamp} is still later than {fmt(now + 300)} "
        f"({fmt(now)} + 5 min.)",
    )


def test_a_request_changed_after_signing_is_refused() -> None:
    verifier = SigV4Verifier(lookup)
    request = sign()
    request.body = json.dumps({"SecretId": "prod/other"}).encode()
    assert refused(verifier, request) == ("InvalidSignatureException", BAD_SIGNATURE)
    request = sign()
    request.headers["x-amz-target"] = "secretsmanager.DeleteSecret"
    assert refused(verifier, request) == ("InvalidSignatureException", BAD_SIGNATURE)
    request = sign(query="a=1")
    request.query = "a=2"
    assert refused(verifier, request) == ("InvalidSignatureException", BAD_SIGNATURE)
    request = sign()
    del request.headers["content-type"]  # signed, then lost on the way
    assert refused(verifier, request) == ("InvalidSignatureException", BAD_SIGNATURE)


def test_host_and_date_must_be_signed() -> None:
    class NoHost(SigV4Auth):
        def headers_to_sign(self, request: Any) -> Any:
            headers = super().headers_to_sign(request)
            del headers["host"]
            return headers

    class NoDate(SigV4Auth):
        def headers_to_sign(self, request: Any) -> Any:
            headers = super().headers_to_sign(request)
            del headers["x-amz-date"]
            return headers

    verifier = SigV4Verifier(lookup)
    assert refused(verifier, sign(signer=NoHost)) == (
        "IncompleteSignatureException",
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    )
    assert refused(verifier, sign(signer=NoDate)) == (
        "IncompleteSignatureException",
        "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
    )


def test_a_content_hash_that_is_not_the_body_s_is_refused() -> None:
    """botocore signs over the header's value when there is one: the signature holds, the
    header lies about the body."""
    headers = {"Host": "h", "X-Amz-Target": TARGET,
               "X-Amz-Content-Sha256": hashlib.sha256(b"another body").hexdigest()}  # fmt: skip
    request = sign(headers=headers)
    assert refused(SigV4Verifier(lookup), request) == ("InvalidSignatureException", BAD_SIGNATURE)
    headers["X-Amz-Content-Sha256"] = "UNSIGNED-PAYLOAD"
    assert refused(SigV4Verifier(lookup), sign(headers=headers))[0] == "InvalidSignatureException"


def test_missing_or_incomplete_authorization() -> None:
    verifier = SigV4Verifier(lookup)
    request = sign()
    del request.headers["authorization"]
    assert refused(verifier, request) == ("MissingAuthenticationTokenException", MISSING_TOKEN)
    request = sign()
    del request.headers["x-amz-date"]
    code, message = refused(verifier, request)
    assert code == "IncompleteSignatureException"
    assert message.startswith("Authorization header requires existence of a 'X-Amz-Date' header.")
    assert "Signature=****" in message
    request = sign()
    request.headers["authorization"] = "Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.x"
    code, message = refused(verifier, request)
    assert code == "IncompleteSignatureException" and "c2VjcmV0" not in message
    assert message.startswith("Authorization header requires 'Credential' parameter.")


def _garbled(rng: random.Random, text: str) -> str:
    """``text`` damaged so that it cannot be the same header any more."""
    how = rng.randrange(6)
    i = rng.randrange(len(text))
    junk = rng.choice(["x", "=", ",", ";", "/", "\x00", "é", "\udc80", "🙂", "Z", "%"])
    if how == 0:
        return text[:i]
    if how == 1:
        while junk == text[i] or junk.isspace():
            junk = rng.choice("abcXYZ019=,;/")
        return text[:i] + junk + text[i + 1 :]
    if how == 2:
        return text[:i] + junk + text[i:]
    if how == 3:
        j = rng.choice([k for k, c in enumerate(text) if not c.isspace()])
        return text[:j] + text[j + 1 :]
    if how == 4:
        return "".join(rng.choice(text + junk) for _ in range(rng.randrange(0, 200)))
    return text.replace(", ", rng.choice([" ", ";", ",,", "\n", ""]), rng.randrange(1, 3))


def test_garbled_authorization_headers_are_refused_cleanly(seed: int) -> None:
    rng = random.Random(seed)
    request = sign()
    good = request.headers["authorization"]
    verifier = SigV4Verifier(lookup, regions=["us-east-1"])
    codes = set()
    for _ in range(200):
        request.headers["authorization"] = _garbled(rng, good)
        codes.add(refused(verifier, request)[0])
    assert codes >= {"IncompleteSignatureException", "InvalidSignatureException"}


def test_garbled_dates_paths_and_queries_are_refused_cleanly(seed: int) -> None:
    """A damaged date is refused; a damaged path or query is refused unless it still means the
    same request (``/a//b`` is ``/a/b``)."""
    rng = random.Random(seed)
    verifier = SigV4Verifier(lookup)
    path, query = "/a/b%2Fc/../d", "a=1&b=%FF&c"
    for _ in range(60):
        request = sign(path=path, query=query)
        field = rng.randrange(3)
        if field == 0:
            stamp = request.headers["x-amz-date"]
            request.headers["x-amz-date"] = _garbled(rng, stamp)
            if request.headers["x-amz-date"] != stamp:
                refused(verifier, request)
            continue
        if field == 1:
            request.path = _garbled(rng, path)
        else:
            request.query = _garbled(rng, query)
        try:
            request.check(verifier)
        except EndpointError as err:
            assert err.code in AUTH_CODES
        else:
            assert canonical_path(request.path) == canonical_path(path)
            assert canonical_query(request.query) == canonical_query(query)
    request = sign()
    request.headers["x-amz-date"] = "20261340T000000Z"
    assert refused(verifier, request) == (
        "IncompleteSignatureException",
        "Date must be in ISO-8601 'basic format'. Got '20261340T000000Z'. See "
        "http://en.wikipedia.org/wiki/ISO_8601",
    )


def test_what_a_boto3_client_sends_is_accepted() -> None:
    """A real boto3 client's request, caught just before it would go on the wire."""
    import boto3
    from botocore.awsrequest import AWSResponse

    seen: list[Any] = []

    def catch(request: Any, **_: Any) -> AWSResponse:
        seen.append(request)
        return AWSResponse(request.url, 200, {}, None)

    client = boto3.client(
        "secretsmanager", region_name="us-west-2", endpoint_url="http://127.0.0.1:8080",
        aws_access_key_id=OTHER.access_key_id, aws_secret_access_key=OTHER.secret_access_key,
    )  # fmt: skip
    client.meta.events.register("before-send", catch)
    with contextlib.suppress(Exception):  # the canned response is empty: only the request counts
        client.get_secret_value(SecretId="prod/db", VersionStage="AWSCURRENT")
    request = seen[0]
    parts = urlsplit(request.url)
    headers = {name.lower(): value for name, value in request.headers.items()}
    headers["host"] = parts.netloc  # what the HTTP client adds
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}
    caller = SigV4Verifier(lookup, regions=["us-west-2"]).authenticate(
        request.method, parts.path or "/", parts.query, headers, request.body
    )
    assert caller == Caller("bob", OTHER.access_key_id, "us-west-2")
