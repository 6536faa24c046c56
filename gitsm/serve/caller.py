"""Who made a request, and the endpoint's own refusals (authentication, authorization, wire).

Shared by the SigV4 checker, the server policy and the HTTP server: a request that is not an
operation's business fails with an :class:`EndpointError` carrying AWS's error code and HTTP status,
rendered on the wire like any operation error (``{"__type": code, "message": ...}``).
"""

from __future__ import annotations

from dataclasses import dataclass

from gitsm.errors import OperationError

ANONYMOUS = "anonymous"
"""The principal of a request when the server checks no signatures (``--test-reset`` mode only)."""


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the principal its access key belongs to, the key, the region of
    the signature's credential scope (ARNs in responses use it)."""

    principal: str
    access_key_id: str
    region: str


class EndpointError(OperationError):
    """A request refused by the endpoint before (or instead of) running an operation.

    ``code`` is AWS's: UnrecognizedClientException, InvalidSignatureException,
    IncompleteSignatureException, MissingAuthenticationTokenException, AccessDeniedException,
    UnknownOperationException, SerializationException, ValidationException...
    """

    def __init__(self, code: str, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
