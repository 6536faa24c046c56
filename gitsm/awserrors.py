"""The exceptions of ``gitsm.client``: botocore's own classes underneath, when botocore is there.

Code written for boto3 catches ``botocore.exceptions.ClientError`` and a client's
``client.exceptions.ResourceNotFoundException``. When botocore is importable (it comes with boto3,
``pip install 'gitsm[aws]'``), :class:`ClientError` derives from ``botocore.exceptions.ClientError``
and :class:`ParamValidationError` from ``botocore.exceptions.ParamValidationError``, so those
``except`` clauses catch gitsm's errors too, with the same ``response``, ``operation_name`` and
message. Without botocore the classes are plain exceptions of the same shape: nothing else changes.

``exceptions`` is the client's ``client.exceptions``: one ClientError subclass per error code, the
service's (from the API model) and gitsm's own operation errors, plus ``ClientError`` itself and
``from_code``, as on a boto3 client.
"""

from __future__ import annotations

import importlib
from typing import Any

from gitsm import apimodel, errors


def _botocore_exceptions() -> Any:
    try:
        return importlib.import_module("botocore.exceptions")
    except ImportError:
        return None


_BOTOCORE: Any = _botocore_exceptions()
_CLIENT_ERROR_BASE: Any = _BOTOCORE.ClientError if _BOTOCORE is not None else Exception
_PARAM_BASES: tuple[Any, ...] = (_BOTOCORE.ParamValidationError,) if _BOTOCORE is not None else ()
WITH_BOTOCORE = _BOTOCORE is not None
"""True when the classes here derive from botocore's."""


class ClientError(_CLIENT_ERROR_BASE):  # type: ignore[misc]
    """An operation error, carrying ``response["Error"]["Code"]``/``["Message"]`` and
    ``operation_name``: ``botocore.exceptions.ClientError`` itself when botocore is importable."""

    response: dict[str, Any]
    operation_name: str

    def __init__(self, error_response: dict[str, Any], operation_name: str) -> None:
        if _BOTOCORE is not None:
            super().__init__(error_response, operation_name)
            return
        self.response = error_response
        self.operation_name = operation_name
        err = error_response.get("Error", {})
        super().__init__(
            f"An error occurred ({err.get('Code')}) when calling the {operation_name} operation: "
            f"{err.get('Message')}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (self.response, self.operation_name)


class ParamValidationError(*_PARAM_BASES, errors.GitsmError, ValueError):  # type: ignore[misc]
    """A call whose parameters do not fit the API model (missing, unknown, of the wrong type or
    below a minimum): raised before anything is read or written, as botocore raises it before any
    request. ``botocore.exceptions.ParamValidationError`` when botocore is importable."""

    code = "ParamValidationError"
    exit_code = errors.EXIT_USAGE

    def __init__(self, report: str) -> None:
        errors.GitsmError.__init__(self, "Parameter validation failed:\n" + report)
        self.kwargs = {"report": report}

    def __reduce__(self) -> tuple[Any, ...]:
        return self.__class__, (self.kwargs["report"],)


# Environment errors (StoreError and its subclasses: LocalChangesError, MergeInProgress) are not
# service errors: they leave the client as they are, with no ClientError class of their own.
_OWN = [c for c, (_, code) in errors.ERROR_TABLE.items() if code != errors.EXIT_ENVIRONMENT]
CODES = list(dict.fromkeys([*apimodel.ERRORS, *_OWN]))
"""Every error code with a class in ``exceptions``: the service's, then gitsm's own."""

EXCEPTION_CLASSES: dict[str, type[ClientError]] = {
    code: type(code, (ClientError,), {"__doc__": f"The {code} error of Secrets Manager."})
    for code in CODES
}

_ClientError = ClientError


class _Exceptions:
    """``client.exceptions``: one ClientError subclass per error code."""

    ClientError: type[_ClientError] = _ClientError

    def __init__(self) -> None:
        for code in CODES:
            setattr(self, code, EXCEPTION_CLASSES[code])

    def from_code(self, code: str) -> type[_ClientError]:
        """The exception class for an error code."""
        return EXCEPTION_CLASSES.get(code, _ClientError)

    def __getattr__(self, name: str) -> type[_ClientError]:
        raise AttributeError(name)  # an unknown code; declared so that type checkers accept codes


exceptions = _Exceptions()


def _rebuild(response: dict[str, Any], operation_name: str) -> ClientError:
    """An unpickled ClientError, of its code's class (those classes are made at import)."""
    code = str(response.get("Error", {}).get("Code", ""))
    return EXCEPTION_CLASSES.get(code, ClientError)(response, operation_name)


def client_error(code: str, message: str, operation_name: str, http_status: int) -> ClientError:
    """The ClientError (of ``code``'s class) that a failed call of ``operation_name`` raises."""
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": http_status},
    }
    return EXCEPTION_CLASSES.get(code, ClientError)(response, operation_name)
