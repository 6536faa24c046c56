"""Resource policies: GetResourcePolicy, PutResourcePolicy, DeleteResourcePolicy and
ValidateResourcePolicy.

The policy lives in the secret's manifest as canonical JSON (:mod:`gitsm.policy`); a Put or Delete
that changes it is one commit (``Gitsm-Operation: PutResourcePolicy`` / ``DeleteResourcePolicy``),
and one that changes nothing (the same policy again, or no policy to delete) makes none. A secret
pending deletion refuses all three with InvalidRequestException, as AWS does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from gitsm import paths, policy, treefiles
from gitsm.errors import (
    MARKED_DELETED,
    GitsmError,
    InvalidParameterException,
    InvalidRequestException,
)
from gitsm.gitrepo import Snapshot
from gitsm.manifest import StoreConfig
from gitsm.store.core import Change, StoreCore, WriteResult


@dataclass(frozen=True)
class ResourcePolicy:
    """GetResourcePolicy's answer: the secret and its policy (None when none is attached)."""

    arn: str
    name: str
    resource_policy: str | None


@dataclass(frozen=True)
class PolicyValidation:
    """ValidateResourcePolicy's answer: passed, and each failed check as (CheckName, message)."""

    passed: bool
    errors: list[tuple[str, str]]


class PolicyOps(StoreCore):
    """Get, Put, Delete and ValidateResourcePolicy."""

    def get_resource_policy(self, secret_id: str) -> ResourcePolicy:
        """GetResourcePolicy: the attached policy, or None (no error) when there is none."""
        snap = self.repo.tip()
        secret = self._find_live(snap, self.config(snap), secret_id)
        return ResourcePolicy(secret.arn, secret.name, secret.resource_policy)

    def may_have_policy(self, secret_id: str) -> bool:
        """False only when the secret a plain name ``secret_id`` names certainly has no resource
        policy (gitsm serve's authorizer then needs no :meth:`resource_policy_of`): its manifest
        is missing, or holds neither the text ``resource_policy`` nor a backslash (without an
        escape, no YAML spelling of a mapping can have that key). Reads one blob, parses nothing;
        True whenever in doubt (an ARN, a manifest the reader would refuse)."""
        if secret_id.startswith("arn:"):
            return True
        try:
            data = treefiles.manifest_bytes(self.repo.tip(), paths.manifest_path(secret_id))
        except GitsmError:
            return True
        return data is not None and (b"resource_policy" in data or b"\\" in data)

    def resource_policy_of(self, secret_id: str) -> ResourcePolicy:
        """The policy that governs access to a secret (gitsm serve's authorizer reads it): as
        GetResourcePolicy answers it, but for a replica too, under the replica's ARN, since a
        replica carries its primary's policy (AWS replicates resource policies) while
        GetResourcePolicy in a replica's Region is refused."""
        snap = self.repo.tip()
        config = self.config(snap)
        secret = self._find(snap, config, secret_id)
        if secret.deleted_date is not None:
            raise InvalidRequestException(MARKED_DELETED)
        return ResourcePolicy(self.viewer(config).arn(secret), secret.name, secret.resource_policy)

    def put_resource_policy(
        self, secret_id: str, resource_policy: str, *, block_public_policy: bool | None = None
    ) -> WriteResult:
        """PutResourcePolicy: attach ``resource_policy`` (kept as canonical JSON), replacing any
        other; with ``block_public_policy``, a policy granting broad access is refused.

        The parameters' types and ResourcePolicy's length are checked first; then the secret is
        looked up (ResourceNotFoundException, InvalidRequestException when it is pending deletion)
        and only then the document read (MalformedPolicyDocumentException,
        PublicPolicyException), since a document is judged as the policy of a secret."""
        if block_public_policy is not None and not isinstance(block_public_policy, bool):
            raise InvalidParameterException("BlockPublicPolicy must be true or false.")
        policy.check_text(resource_policy)
        return self._set_policy(
            secret_id,
            lambda: policy.canonical(resource_policy, block_public=bool(block_public_policy)),
            "PutResourcePolicy",
        )

    def delete_resource_policy(self, secret_id: str) -> WriteResult:
        """DeleteResourcePolicy: detach the policy; no error and no commit when there is none."""
        return self._set_policy(secret_id, lambda: None, "DeleteResourcePolicy")

    def _set_policy(
        self, secret_id: str, make_text: Callable[[], str | None], operation: str
    ) -> WriteResult:
        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[WriteResult]:
            secret = self._find_live(snap, config, secret_id)
            text = make_text()
            result = WriteResult(secret.arn, secret.name)
            if secret.resource_policy == text:
                return Change(result)
            files = self._secret_files(replace(secret, resource_policy=text, last_changed=now))
            return Change(result, operation, secret.name, files, {"Secret-Arn": secret.arn})

        return self._transact(plan)

    def validate_resource_policy(
        self, resource_policy: str, *, secret_id: str | None = None
    ) -> PolicyValidation:
        """ValidateResourcePolicy: the syntax and broad-access checks of ``resource_policy``
        (MalformedPolicyDocumentException when it is not JSON at all); a ``secret_id`` must name
        a secret (ResourceNotFoundException)."""
        policy.check_text(resource_policy)
        if secret_id is not None:  # looked up first, as PutResourcePolicy does
            snap = self.repo.tip()
            self._find(snap, self.config(snap), secret_id)
        found = policy.findings(resource_policy)
        return PolicyValidation(not found, found)
