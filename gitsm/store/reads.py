"""The read operations. Reads never write: no commit, no ref move, no access-date bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gitsm.errors import (
    MARKED_DELETED,
    GitsmError,
    InvalidParameterException,
    InvalidRequestException,
    ResourceNotFoundException,
)
from gitsm.gitrepo import Snapshot
from gitsm.manifest import StoreConfig
from gitsm.model import AWSCURRENT, Secret, ValueKind, VersionInfo
from gitsm.replicas import Viewer
from gitsm.store import listing
from gitsm.store.listindex import ListingIndex

STAGE_NOT_ON_VERSION = (
    "You provided a VersionStage that is not associated to the provided VersionId."
)
"""GetSecretValue's InvalidRequestException when VersionId and VersionStage name different
versions: the words every AWS-validated emulator answers (LocalStack's snapshot-tested provider
among them), for the API reference's rule that the two "must refer to the same secret version"."""


@dataclass
class SecretValue:
    """One decrypted version, as GetSecretValue returns it."""

    arn: str
    name: str
    version_id: str
    value: bytes
    kind: ValueKind
    version_stages: list[str]
    created: datetime

    @property
    def secret_string(self) -> str | None:
        """The value as text when it was stored as SecretString."""
        return self.value.decode("utf-8") if self.kind == "string" else None

    @property
    def secret_binary(self) -> bytes | None:
        """The value as bytes when it was stored as SecretBinary."""
        return self.value if self.kind == "binary" else None


@dataclass
class BatchError:
    """One failed entry of BatchGetSecretValue."""

    secret_id: str
    error: GitsmError


class ReadOps(ListingIndex):
    """GetSecretValue, DescribeSecret, ListSecrets, ListSecretVersionIds, BatchGetSecretValue."""

    @staticmethod
    def _version(secret: Secret, version_id: str | None, version_stage: str | None) -> VersionInfo:
        """The version a GetSecretValue names: by VersionId and/or VersionStage (AWSCURRENT)."""
        if secret.deleted_date is not None:
            raise InvalidRequestException(MARKED_DELETED)
        if version_id is not None:
            version = secret.versions.get(version_id)
            if version is None:
                raise ResourceNotFoundException(
                    f"Secrets Manager can't find the specified secret value for VersionId: {version_id}"
                )
            if version_stage is not None and version_stage not in version.stages:
                raise InvalidRequestException(STAGE_NOT_ON_VERSION)
            return version
        stage = version_stage or AWSCURRENT
        found = secret.version_with_stage(stage)
        if found is None:
            raise ResourceNotFoundException(
                f"Secrets Manager can't find the specified secret value for staging label: {stage}"
            )
        return secret.versions[found]

    def _values(
        self,
        snap: Snapshot,
        config: StoreConfig,
        picked: Sequence[tuple[Secret, VersionInfo] | GitsmError],
    ) -> list[SecretValue | GitsmError]:
        """Decrypt each picked version (all in one go, see envelope.open_values); errors stay.
        A replica is answered under its ARN (:meth:`viewer`)."""
        viewer = self.viewer(config)
        wanted = [(p[0], p[1].version_id) for p in picked if not isinstance(p, GitsmError)]
        opened = iter(self._decrypt_many(snap, wanted))
        out: list[SecretValue | GitsmError] = []
        for p in picked:
            if isinstance(p, GitsmError):
                out.append(p)
                continue
            result = next(opened)
            if isinstance(result, GitsmError):
                out.append(result)
                continue
            (secret, version), (value, kind) = p, result
            stages = list(version.stages)
            out.append(
                SecretValue(
                    viewer.arn(secret),
                    secret.name,
                    version.version_id,
                    value,
                    kind,
                    stages,
                    version.created,
                )
            )
        return out

    def get_secret_value(
        self, secret_id: str, *, version_id: str | None = None, version_stage: str | None = None
    ) -> SecretValue:
        """GetSecretValue: by VersionId and/or VersionStage (default AWSCURRENT)."""
        snap = self.repo.tip()
        config = self.config(snap)
        secret = self._find(snap, config, secret_id)
        picked = [(secret, self._version(secret, version_id, version_stage))]
        result = self._values(snap, config, picked)
        if isinstance(result[0], GitsmError):
            raise result[0]
        return result[0]

    def get_secret_values(
        self,
        requests: Sequence[tuple[str, str | None, str | None]],
        snapshot: Snapshot | None = None,
    ) -> list[SecretValue | GitsmError]:
        """GetSecretValue for each (SecretId, VersionId, VersionStage), all from one commit
        (``snapshot``, default the tip); a failed read gives its error in its place."""
        snap = snapshot or self.repo.tip()
        config = self.config(snap)
        picked: list[tuple[Secret, VersionInfo] | GitsmError] = []
        for secret_id, version_id, version_stage in requests:
            try:
                secret = self._find(snap, config, secret_id)
                picked.append((secret, self._version(secret, version_id, version_stage)))
            except GitsmError as exc:
                picked.append(exc)
        return self._values(snap, config, picked)

    def describe_secret(self, secret_id: str) -> Secret:
        """DescribeSecret: the secret's metadata (works on a secret pending deletion)."""
        return self.described(secret_id)[0]

    def described(self, secret_id: str) -> tuple[Secret, Viewer]:
        """DescribeSecret's secret and how this handle's region sees it (a replica under its
        ARN: :meth:`viewer`), from one read of the tip."""
        snap = self.repo.tip()
        config = self.config(snap)
        return self._find(snap, config, secret_id), self.viewer(config)

    def list_secrets(
        self,
        *,
        include_planned_deletion: bool = False,
        max_results: int | None = None,
        next_token: str | None = None,
        filters: list[dict[str, object]] | None = None,
        sort_order: str | None = None,
        sort_by: str | None = None,
    ) -> tuple[list[Secret], str | None]:
        """ListSecrets: one page of secrets and the NextToken for the next page."""
        parsed = listing.validate_filters(filters)
        size = listing.check_max_results(max_results)
        snap = self.repo.tip()
        region = self.region(self.config(snap))
        query = listing.fingerprint(
            "ListSecrets", parsed, include_planned_deletion, sort_by, sort_order
        )
        select = listing.Selection(parsed, region, include_planned_deletion)
        first = self._listed(snap, (query, region), select, (sort_by, sort_order))
        return listing.paginate_first(first, size, next_token, query)

    def list_secret_version_ids(
        self,
        secret_id: str,
        *,
        max_results: int | None = None,
        next_token: str | None = None,
        include_deprecated: bool = False,
    ) -> tuple[Secret, list[VersionInfo], str | None]:
        """ListSecretVersionIds: newest first; unlabeled versions only with IncludeDeprecated."""
        size = listing.check_max_results(max_results)
        snap = self.repo.tip()
        secret = self._find(snap, self.config(snap), secret_id)
        versions = [v for v in secret.versions.values() if include_deprecated or v.stages]
        versions.sort(key=lambda v: v.created, reverse=True)
        query = listing.fingerprint("ListSecretVersionIds", secret.arn, include_deprecated)
        page, token = listing.paginate(versions, size, next_token, query)
        return secret, page, token

    def batch_get_secret_value(
        self,
        *,
        secret_id_list: list[str] | None = None,
        filters: list[dict[str, object]] | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> tuple[list[SecretValue], list[BatchError], str | None]:
        """BatchGetSecretValue: by a list of ids (1-20) or by filters (paged, MaxResults 1-20)."""
        if (secret_id_list is None) == (filters is None):
            raise InvalidParameterException(
                "Either 'SecretIdList' or 'Filters' must be provided, but not both."
            )
        snap = self.repo.tip()
        config = self.config(snap)
        values: list[SecretValue] = []
        errors: list[BatchError] = []
        if secret_id_list is not None:
            if max_results is not None:
                raise InvalidParameterException(
                    "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is provided."
                )
            if not isinstance(secret_id_list, list) or not 1 <= len(secret_id_list) <= 20:
                raise InvalidParameterException("SecretIdList must list 1-20 secret ids.")
            picked = self.get_secret_values([(i, None, None) for i in secret_id_list], snap)
            for secret_id, result in zip(secret_id_list, picked, strict=True):
                if isinstance(result, GitsmError):
                    errors.append(BatchError(str(secret_id), result))
                else:
                    values.append(result)
            return values, errors, None
        size = listing.check_max_results(max_results, upper=20) or 20
        parsed = listing.validate_filters(filters)
        region = self.region(config)
        query = listing.fingerprint("BatchGetSecretValue", parsed)
        select = listing.Selection(parsed, region)
        first = self._listed(snap, (query, region), select, (None, None))
        page, token = listing.paginate_first(first, size, next_token, query)
        current: list[tuple[Secret, VersionInfo] | GitsmError] = []
        for secret in page:
            try:
                current.append((secret, self._version(secret, None, None)))
            except GitsmError as exc:
                current.append(exc)
        for secret, result in zip(page, self._values(snap, config, current), strict=True):
            if isinstance(result, GitsmError):
                errors.append(BatchError(secret.name, result))
            else:
                values.append(result)
        return values, errors, token
