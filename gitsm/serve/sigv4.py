"""Checking AWS Signature Version 4 on a request: who sent it, and that nobody changed it.

:class:`SigV4Verifier` takes a request as the HTTP server read it and returns its
:class:`~gitsm.serve.caller.Caller`, or raises :class:`~gitsm.serve.caller.EndpointError` with
AWS's error code and message. The checks run in this order (the order that refused every bad case
tried and accepted boto3 and the aws CLI):

1. an ``Authorization`` header (else MissingAuthenticationTokenException), of the form
   ``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`` with an ``X-Amz-Date``
   header in ISO 8601 basic format (else IncompleteSignatureException);
2. no ``X-Amz-Security-Token``: temporary credentials (STS) do not exist here, so a request that
   carries one is refused like an unknown token (UnrecognizedClientException);
3. the access key exists (UnrecognizedClientException);
4. the credential scope: its date is X-Amz-Date's day, the service ``secretsmanager``, the
   terminator ``aws4_request``, the region one of ``regions`` when given
   (InvalidSignatureException);
5. X-Amz-Date within ``max_skew`` seconds of the clock (InvalidSignatureException, "Signature
   expired" / "Signature not yet current");
6. ``host`` and ``x-amz-date`` among the signed headers (IncompleteSignatureException);
7. ``X-Amz-Content-Sha256``, if sent, equals the SHA-256 of the body (InvalidSignatureException);
8. the signature recomputed over the signed headers only (AWS's canonical request: the path
   without dot segments or empty segments, URI-encoded; the query sorted, each name and value
   URI-encoded; header values trimmed with runs of white space collapsed) equals the one sent,
   compared in constant time (InvalidSignatureException).

Where AWS echoes the ``Authorization`` header in a message, the signature's value (and the whole
of a header of another scheme, which may be a bearer token) is shown as ``****``. Signing
through the query string (pre-signed URLs) and the ``Date`` header instead of ``X-Amz-Date`` are
not accepted: no SDK uses them for Secrets Manager.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from gitsm.serve.caller import Caller, EndpointError

if TYPE_CHECKING:
    from gitsm.serve.accesskeys import AccessKey

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "secretsmanager"
TERMINATOR = "aws4_request"
MISSING_TOKEN = "Request is missing Authentication Token"
INVALID_TOKEN = "The security token included in the request is invalid."
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_REGION = re.compile(r"[a-z0-9-]{1,50}")
_SHOWN_SIGNATURE = re.compile(r"(Signature=).*", re.DOTALL)
"""From ``Signature=`` to the end: whatever follows it may be (part of) the signature."""
_CACHE_LIMIT = 4096
_SHOWN_LIMIT = 512
_UNRESERVED = "-_.~"


def _incomplete(message: str) -> EndpointError:
    return EndpointError("IncompleteSignatureException", message)


def _invalid(message: str = BAD_SIGNATURE) -> EndpointError:
    return EndpointError("InvalidSignatureException", message)


def _unrecognized() -> EndpointError:
    return EndpointError("UnrecognizedClientException", INVALID_TOKEN)


def shown(authorization: str) -> str:
    """``authorization`` as an error message may quote it: the signature's value masked, a header
    of another scheme masked whole, at most 512 characters."""
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme != ALGORITHM:
        return "****"
    masked = _SHOWN_SIGNATURE.sub(r"\1****", rest)
    return f"{scheme} {masked}"[:_SHOWN_LIMIT]


def _parameters(authorization: str, has_date: bool) -> tuple[str, list[str], str]:
    """(Credential, signed header names, Signature) of an ``Authorization`` header, or
    IncompleteSignatureException in AWS's words."""
    scheme, _, rest = authorization.strip().partition(" ")
    values: dict[str, str] = {}
    if scheme == ALGORITHM:
        for pair in rest.split(","):
            pair = pair.strip()
            name, equals, value = pair.partition("=")
            if not equals:
                raise _incomplete(
                    f"'{pair[:_SHOWN_LIMIT]}' not a valid key=value pair (missing equal-sign) in "
                    f"Authorization header: '{shown(authorization)}'."
                )
            values[name.strip()] = value.strip()
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not values.get(name)
    ]
    if not has_date:
        missing.append("Authorization header requires existence of a 'X-Amz-Date' header.")
    if missing:
        raise _incomplete(" ".join(missing) + f" Authorization={shown(authorization)}")
    names = values["SignedHeaders"].split(";")
    return values["Credential"], names, values["Signature"]


_epochs: dict[str, int] = {}
"""X-Amz-Date values already read (a busy client signs many requests within one second)."""


def _epoch(amz_date: str) -> int:
    """Seconds since the epoch of an X-Amz-Date (``20260101T000000Z``), or
    IncompleteSignatureException."""
    found = _epochs.get(amz_date)
    if found is not None:
        return found
    try:
        if not _AMZ_DATE.fullmatch(amz_date):
            raise ValueError(amz_date)
        fields = (int(amz_date[0:4]), int(amz_date[4:6]), int(amz_date[6:8]),
                  int(amz_date[9:11]), int(amz_date[11:13]), int(amz_date[13:15]))  # fmt: skip
        datetime(*fields)  # a real day and time of day, or ValueError
    except ValueError:
        raise _incomplete(
            f"Date must be in ISO-8601 'basic format'. Got '{amz_date[:_SHOWN_LIMIT]}'. See "
            "http://en.wikipedia.org/wiki/ISO_8601"
        ) from None
    if len(_epochs) >= _CACHE_LIMIT:
        _epochs.clear()
    found = _epochs[amz_date] = calendar.timegm((*fields, 0, 0, 0))
    return found


def _stamp(epoch: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min."


def canonical_path(path: str) -> str:
    """The canonical URI of a request path as sent (still percent-encoded): dot segments and
    empty segments removed, then URI-encoded (again) as AWS does for every service but S3."""
    if path == "/" or not path:
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    lead = "/" if path.startswith("/") else ""
    trail = "/" if path.endswith("/") and segments else ""
    return quote(lead + "/".join(segments) + trail, safe="/~", errors="surrogatepass")


def canonical_query(query: str) -> str:
    """The canonical query string: each name and value URI-encoded (RFC 3986 unreserved
    characters kept), the pairs sorted by name, then value."""
    if not query:
        return ""
    pairs = []
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        pairs.append((_encoded(unquote(name)), _encoded(unquote(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _encoded(text: str) -> str:
    return quote(text, safe=_UNRESERVED, errors="surrogatepass")


def _trimmed(value: str) -> str:
    return " ".join(value.split())


class SigV4Verifier:
    """Checks the SigV4 signature of requests against the access keys ``lookup`` finds.

    ``regions``: the regions a credential scope may name (None: any). ``max_skew``: how far (in
    seconds) X-Amz-Date may be from ``clock()``; AWS allows 5 minutes either way. The signing key
    derived from a secret, a day and a region is kept (in memory only) for the next request.
    """

    def __init__(
        self,
        lookup: Callable[[str], AccessKey | None],
        *,
        regions: Collection[str] | None = None,
        max_skew: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lookup = lookup
        self.regions = frozenset(regions) if regions is not None else None
        self.max_skew = max_skew
        self.clock = clock
        self._keys: dict[tuple[str, str, str], bytes] = {}

    def signing_key(self, secret: str, day: str, region: str) -> bytes:
        """The SigV4 signing key of ``secret`` for ``day`` (YYYYMMDD) and ``region``."""
        cached = self._keys.get((secret, day, region))
        if cached is not None:
            return cached
        key = ("AWS4" + secret).encode()
        for part in (day, region, SERVICE, TERMINATOR):
            key = hmac.digest(key, part.encode(), "sha256")
        if len(self._keys) >= _CACHE_LIMIT:
            self._keys.clear()
        self._keys[(secret, day, region)] = key
        return key

    def authenticate(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Caller:
        """The caller of a request whose signature holds, else :class:`EndpointError`.

        ``path``: the request target's path as sent (percent-encoded); ``query``: the raw query
        string (without ``?``); ``headers``: lower-case names, one value each (repeated headers
        joined with ``,``).
        """
        authorization = headers.get("authorization", "")
        if not authorization.strip():
            raise EndpointError("MissingAuthenticationTokenException", MISSING_TOKEN)
        amz_date = headers.get("x-amz-date")
        credential, signed, signature = _parameters(authorization, amz_date is not None)
        amz_date = amz_date or ""  # (present: _parameters refuses a request without one)
        signed_at = _epoch(amz_date)
        if "x-amz-security-token" in headers:
            raise _unrecognized()
        parts = credential.split("/")
        if len(parts) != 5:
            raise _incomplete(
                f"Credential must be '<access key id>/<YYYYMMDD>/<region>/{SERVICE}/"
                f"{TERMINATOR}', not '{credential[:_SHOWN_LIMIT]}'. "
                f"Authorization={shown(authorization)}"
            )
        key_id, day, region, service, terminator = parts
        key = self.lookup(key_id)
        if key is None:
            raise _unrecognized()
        if day != amz_date[:8]:
            raise _invalid(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                f"from HTTP: '{day[:_SHOWN_LIMIT]}' != '{amz_date[:8]}', from '{amz_date}'."
            )
        if service != SERVICE:
            raise _invalid(f"Credential should be scoped to correct service: '{SERVICE}'. ")
        if terminator != TERMINATOR:
            raise _invalid(
                f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
                f"not '{terminator[:_SHOWN_LIMIT]}'. "
            )
        allowed = _REGION.fullmatch(region) and (self.regions is None or region in self.regions)
        if not allowed:
            raise _invalid(
                f"Credential should be scoped to a valid region, not '{region[:_SHOWN_LIMIT]}'. "
            )
        self._check_skew(amz_date, signed_at)
        if "host" not in signed:
            raise _incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                              "Authorization.")  # fmt: skip
        if "x-amz-date" not in signed:
            raise _incomplete("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
        if "x-amz-target" in headers and "x-amz-target" not in signed:
            # the header names the operation: unsigned, a signed body could be replayed as any
            # other operation (botocore and the aws CLI always sign it)
            raise _incomplete("'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.")
        payload = hashlib.sha256(body).hexdigest()
        claimed = headers.get("x-amz-content-sha256")
        if claimed is not None and claimed != payload:
            raise _invalid()
        canonical = self._canonical_request(method, path, query, headers, signed, payload)
        string_to_sign = (
            f"{ALGORITHM}\n{amz_date}\n{day}/{region}/{SERVICE}/{TERMINATOR}\n"
            + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
        )
        expected = hmac.digest(
            self.signing_key(key.secret_access_key, day, region), string_to_sign.encode(), "sha256"
        ).hex()
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "surrogatepass")):
            raise _invalid()
        return Caller(principal=key.principal, access_key_id=key.access_key_id, region=region)

    def _check_skew(self, amz_date: str, signed_at: int) -> None:
        now = self.clock()
        if signed_at < now - self.max_skew:
            raise _invalid(
                f"Signature expired: {amz_date} is now earlier than "
                f"{_stamp(now - self.max_skew)} ({_stamp(now)} - {_minutes(self.max_skew)})"
            )
        if signed_at > now + self.max_skew:
            raise _invalid(
                f"Signature not yet current: {amz_date} is still later than "
                f"{_stamp(now + self.max_skew)} ({_stamp(now)} + {_minutes(self.max_skew)})"
            )

    @staticmethod
    def _canonical_request(
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        signed: list[str],
        payload: str,
    ) -> str:
        lines = [method.upper(), canonical_path(path), canonical_query(query)]
        for name in signed:
            value = headers.get(name)
            if value is None:  # signed, then dropped on the way: it cannot match
                raise _invalid()
            lines.append(f"{name}:{_trimmed(value)}")
        lines += ["", ";".join(signed), payload]
        return "\n".join(lines)
