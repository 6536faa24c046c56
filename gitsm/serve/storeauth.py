"""Normal mode's authorizer: the store's server policy, and each secret's resource policy.

Before any lookup, ``.gitsm/server.yaml`` at the branch tip decides (reloaded whenever the tip
moves, whoever moved it). A request it does not allow on one existing secret may still be granted
by that secret's resource policy, so such a request is decided after the lookup
(:meth:`StoreAuthorizer.check_found`), and a caller the server policy does not allow gets the same
AccessDeniedException whether the secret is missing, pending deletion, or there with a policy that
does not allow it: no existence oracle. An explicit Deny of a resource policy beats the server
policy. Listings show what the server policy lets the caller read.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from gitsm.errors import OperationError
from gitsm.serve.authz import ServerPolicy, load_server_policy
from gitsm.serve.backend import Backend
from gitsm.serve.cache import TipReader
from gitsm.serve.caller import Caller
from gitsm.serverpolicy import OPERATION_CLASS, READ, WRITE

_ONE_SECRET = (READ, WRITE)
_HEX = re.compile(r"[0-9a-f]+")
POLICY_WRITES = frozenset({"PutResourcePolicy", "DeleteResourcePolicy"})
"""Operations that change who may read a secret: only a caller the server policy lets both write
and read the secret may run them, and no resource policy grants them (else a write-only
principal could grant itself reading, or remove a Deny an administrator set)."""


def _granted_by_a_secret(operation: str, secret_id: str | None) -> bool:
    """True when ``operation`` acts on one existing secret, whose resource policy may grant it."""
    return (
        secret_id is not None
        and operation != "CreateSecret"
        and OPERATION_CLASS.get(operation) in _ONE_SECRET
    )


def _code(exc: Exception) -> str | None:
    if isinstance(exc, OperationError):
        return exc.code
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return code if isinstance(code, str) else None
    return None


class StoreAuthorizer:
    """The server policy of ``backend``'s branch tip and its secrets' resource policies.

    ``warn`` receives the policy's advice (no file, a refused file) when it first loads and
    whenever it changes."""

    def __init__(self, backend: Backend, warn: Callable[[str], None]) -> None:
        self.backend = backend
        self.warn = warn
        self._tips = TipReader(backend.gitdir, backend.branch)
        self._lock = threading.Lock()
        self._known: tuple[str | None, ServerPolicy] | None = None
        self._advice: str | None = None

    def policy(self) -> ServerPolicy:
        """The server policy in force at the branch tip (one ref read while the tip stays)."""
        known = self._known
        tip = self._tips.tip()
        if known is not None and tip is not None and known[0] == tip:
            return known[1]
        with self._lock:  # a full id read from the ref file needs no second read through git
            full = tip if tip is not None and len(tip) in (40, 64) and _HEX.fullmatch(tip) else None
            found = load_server_policy(self.backend.store(), self._known, full)
            self._known = found
            advice = found[1].advice
            if advice is not None and advice != self._advice:
                self.warn(advice)
            self._advice = advice
            return found[1]

    def check(self, caller: Caller, operation: str, secret_id: str | None) -> None:
        """Refuse, before any lookup, what the server policy does not allow and no resource
        policy could grant."""
        policy = self.policy()
        if operation in POLICY_WRITES:
            if not (policy.allows(caller, operation, secret_id)
                    and policy.allows(caller, "GetSecretValue", secret_id)):  # fmt: skip
                raise policy.denial(caller, operation, secret_id)
            return
        if policy.allows(caller, operation, secret_id):
            return
        if _granted_by_a_secret(operation, secret_id):
            return  # decided by check_found, after the lookup
        policy.check(caller, operation, secret_id)

    def check_found(
        self, caller: Caller, operation: str, secret_id: str | None, client: Any
    ) -> None:
        """After the lookup: the secret's resource policy (an explicit Deny always refuses; an
        Allow grants what the server policy does not). Runs on the store's worker thread."""
        if not _granted_by_a_secret(operation, secret_id):
            return
        assert secret_id is not None
        known = self._known  # what check() found for this request a moment ago (a tip read less)
        policy = known[1] if known is not None else self.policy()
        allowed = policy.allows(caller, operation, secret_id)
        if operation in POLICY_WRITES and not allowed:  # check() refused it already; no grant
            raise policy.denial(caller, operation, secret_id)
        if allowed and not client.store.may_have_policy(secret_id):
            return  # no resource policy to deny it; the operation answers for itself
        try:  # a replica's too: it carries its primary's policy
            found = client.store.resource_policy_of(secret_id)
        except Exception as exc:
            if _code(exc) is None:
                raise
            if allowed:
                return  # the operation answers for itself (not found, marked deleted...)
            raise policy.denial(caller, operation, secret_id) from None
        policy.check_resource(
            caller, operation, found.name, found.resource_policy, allowed,
            secret_arn=found.arn, secret_id=secret_id,
        )  # fmt: skip

    def may_read(self, caller: Caller, name: str) -> bool:
        """True when the server policy lets ``caller`` read secret ``name`` (listings)."""
        return self.policy().may_read(caller, name)
