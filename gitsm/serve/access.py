"""Who may call the endpoint: the seams for authentication and authorization, and test mode's.

The server asks an :class:`Authenticator` who sent a request (SigV4 in normal mode), then an
:class:`Authorizer` whether that caller may run the operation on the secret it names, before any
lookup; listings keep only what :meth:`Authorizer.may_read` allows. :class:`NoAuth` and
:class:`AllowAll` are test mode's (``gitsm serve --test-reset``): every request is anonymous and
allowed, as against moto's server, whose tests sign with frozen clocks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

from gitsm.serve.caller import ANONYMOUS, Caller

DEFAULT_REGION = "us-east-1"
_SCOPE_REGION = re.compile(r"Credential=[^/,\s]*/\d{8}/([a-z0-9-]{1,32})/")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}\Z")


class Authenticator(Protocol):
    """Decides who sent a request (the lower-cased header names), or refuses it."""

    def authenticate(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Caller:
        """The caller; raises :class:`~gitsm.serve.caller.EndpointError` when it is unknown or
        the signature does not hold."""
        ...


class Authorizer(Protocol):
    """Decides what a caller may do (the server policy of ``.gitsm/server.yaml``)."""

    def check(self, caller: Caller, operation: str, secret_id: str | None) -> None:
        """Raise EndpointError("AccessDeniedException", ...) unless ``caller`` may run
        ``operation`` (on ``secret_id``, a name or an ARN, when the operation names one)."""
        ...

    def may_read(self, caller: Caller, name: str) -> bool:
        """True when ``caller`` may see secret ``name`` in a listing or batch read."""
        ...


def scope_region(authorization: str | None) -> str:
    """The region of an ``Authorization`` header's credential scope; us-east-1 without one."""
    if authorization:
        found = _SCOPE_REGION.search(authorization)
        if found and _REGION.match(found.group(1)):
            return found.group(1)
    return DEFAULT_REGION


class NoAuth:
    """Test mode's authenticator: checks nothing; every request is the anonymous caller, in the
    region its (unchecked) signature names."""

    def authenticate(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Caller:
        """``Caller(ANONYMOUS, "", <region of the credential scope, else us-east-1>)``."""
        return Caller(ANONYMOUS, "", scope_region(headers.get("authorization")))


class AllowAll:
    """Test mode's authorizer: every caller may do everything."""

    def check(self, caller: Caller, operation: str, secret_id: str | None) -> None:
        """Allows every request."""

    def may_read(self, caller: Caller, name: str) -> bool:
        """Every secret is readable."""
        return True
