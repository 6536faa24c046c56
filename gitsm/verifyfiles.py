"""The checks of single store files for ``gitsm verify``: a manifest, an envelope, their keys.

:class:`FileChecks` holds what one run of the checks shares (the snapshot, the key service, the
store config and the problems found so far) and checks one file at a time; :class:`gitsm.verify.
Checker` walks the tree and hands it the files. Every file is read through :mod:`gitsm.treefiles`
(a regular file within its byte limit) and parsed by the same strict readers as the store's reads,
whose refusals carry the ``path``, ``problem`` and ``fix`` of the one line reported.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gitsm import envelope, labels, paths
from gitsm.errors import (
    DecryptionFailure,
    InvalidParameterException,
    MalformedFile,
    MalformedStoreFile,
)
from gitsm.gitrepo import Snapshot
from gitsm.keys import KeyService, source_error
from gitsm.manifest import StoreConfig, dump_secret, load_secret
from gitsm.model import Secret, VersionInfo, arn_region, validate_name
from gitsm.problems import RESTORE, REWRITE, Problem
from gitsm.providers import PROVIDERS, KeySourceUnusable, KeyUnavailable
from gitsm.providers.base import b64decode_strict

_ARN_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}")
_ARN = re.compile(r"arn:aws:secretsmanager:[a-z0-9-]+:(\d{12}):secret:(.*)")
UNKNOWN_KEY_FIX = "add the key to an alias in .gitsm/config.yaml or make it available"


def _canonical_json(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")


class FileChecks:
    """The problems of one snapshot, found one file at a time (manifests, envelopes, keys)."""

    def __init__(self, snap: Snapshot, keys: KeyService, *, decrypt: bool = False) -> None:
        self.snap, self.keys, self.decrypt = snap, keys, decrypt
        self.problems: list[Problem] = []
        self.config: StoreConfig | None = None
        self._registry: set[tuple[str, str]] = set()
        self._claimed: dict[tuple[str, str], bool] = {}

    def add(self, path: str, problem: str, fix: str) -> None:
        """Record one problem."""
        self.problems.append(Problem(path, problem, fix))

    def refused(self, exc: MalformedFile) -> None:
        """Record the problem of a file that a strict reader refused."""
        self.add(exc.path, exc.problem, exc.fix)

    # -- keys ----------------------------------------------------------------------------------

    def claims(self) -> dict[tuple[str, str], bool]:
        """Every answer a key provider gave so far about holding a key (provider, key id)."""
        return dict(self._claimed)

    def claimed_by(self, provider: str, key_id: str) -> bool:
        """True when the provider named ``provider`` holds (claims) the key ``key_id``."""
        return self._claimed_by(provider, key_id)

    def _claimed_by(self, provider: str, key_id: str) -> bool:
        if (provider, key_id) not in self._claimed:
            try:
                claimed = self.keys.provider(provider).claims(key_id)
            except KeySourceUnusable as exc:  # a key source to fix, not a problem of the tree
                raise source_error(exc) from None
            except KeyUnavailable:
                claimed = False
            self._claimed[(provider, key_id)] = claimed
        return self._claimed[(provider, key_id)]

    def key_id_known(self, key_id: str) -> bool:
        """True when a KmsKeyId is an alias of the registry or a key that a provider holds."""
        if self.config is not None and key_id in self.config.keys:
            return True
        return any(self._claimed_by(name, key_id) for name in PROVIDERS)

    def stanza_known(self, provider: str, key_id: str) -> bool:
        """True when an envelope's key stanza names a registered recipient or a held key."""
        if (provider, key_id) in self._registry:
            return True
        return provider in PROVIDERS and self._claimed_by(provider, key_id)

    # -- manifests -----------------------------------------------------------------------------

    def check_manifest(self, where: str, data: bytes, dir_name: str | None) -> Secret | None:
        """Check one manifest's content; the Secret it describes, or None when it is unreadable."""
        try:
            secret = load_secret(data, where)
        except MalformedStoreFile as exc:
            self.refused(exc)
            return None
        try:
            validate_name(secret.name)
        except InvalidParameterException:
            self.add(where, f"names {secret.name!r}, which is not a valid secret name", RESTORE)
        if dir_name is not None and secret.name != dir_name:
            self.add(where, f"names secret {secret.name!r} but lies in the directory of "
                     f"{dir_name!r}", f"move it to {paths.secret_dir(secret.name)}/")  # fmt: skip
        if dump_secret(secret) != data:
            self.add(where, "is not in canonical form (fields, order or layout differ from what "
                     "gitsm writes)", REWRITE)  # fmt: skip
        if self.config is not None:
            # any region: a client opened with another region (--region) makes ARNs of it
            m = _ARN.fullmatch(secret.arn)
            rest = m[2] if m and m[1] == self.config.account_id else ""
            if not rest.startswith(secret.name) or not _ARN_SUFFIX.fullmatch(
                rest[len(secret.name) :]
            ):
                self.add(where, f"has ARN {secret.arn!r}, not one of this store and name",
                         "an ARN is fixed at creation: " + RESTORE)  # fmt: skip
        self.check_replicas(where, secret)
        for problem in labels.invariant_problems(secret.stage_map()):
            self.add(where, f"breaks a label invariant: {problem}",
                     "move labels with gitsm update-secret-version-stage, or " + RESTORE)  # fmt: skip
        key_ids = {secret.kms_key_id} if secret.kms_key_id else set()
        for v in secret.versions.values():
            key_ids.update(v.kms_key_ids)
        if self.config is None:  # no key registry to know keys by: the config's problem says so
            key_ids.clear()
        for key_id in sorted(k for k in key_ids if not self.key_id_known(k)):
            self.add(where, f"uses key {key_id}, which is neither an alias of the key registry "
                     "nor a key that a provider holds", UNKNOWN_KEY_FIX)  # fmt: skip
        return secret

    def check_replicas(self, where: str, secret: Secret) -> None:
        """Replica Regions the store never writes: the secret's own Region, or replicas of a
        secret scheduled for deletion (DeleteSecret refuses a replicated one)."""
        own = arn_region(secret.arn)
        if own in secret.replicas:
            self.add(where, f"lists its own Region {own} among its replicas",
                     f"gitsm --region {own} remove-regions-from-replication --secret-id "
                     f"{secret.name} --remove-replica-regions {own}, or " + RESTORE)  # fmt: skip
        if secret.replicas and secret.deleted_date is not None:
            self.add(where, f"is scheduled for deletion while replicated to "
                     f"{', '.join(secret.replicas)}", "restore it (gitsm restore-secret), remove "
                     "its replicas (gitsm remove-regions-from-replication), then delete it "
                     "again, or " + RESTORE)  # fmt: skip

    # -- envelopes -----------------------------------------------------------------------------

    def check_envelope(self, path: str, secret: Secret, info: VersionInfo, data: bytes) -> None:
        """Check one envelope against its path and manifest entry; decrypt it if asked.

        Its size, JSON, format and the type and size of every field come first, each refusing the
        file in one problem (as :func:`gitsm.envelope.parse` does); then everything else is
        reported, one problem each."""
        count = len(self.problems)
        doc, problem = envelope.load(data)
        if doc is None:
            self.add(path, problem or "is not valid JSON", RESTORE)
            return
        bad = envelope.format_problem(doc.get("format"))
        if bad is not None:
            self.add(path, bad[0], RESTORE if bad[1] == envelope.FIX else bad[1])
            return
        problem = envelope.shape_problem(doc)
        if problem is not None:
            self.add(path, problem, RESTORE)
            return
        if _canonical_json(doc) != data:
            self.add(path, "is not in canonical JSON form, so it was altered", REWRITE)
        if doc["cipher"] != envelope.CIPHER:
            self.add(path, f"uses unknown cipher {doc['cipher']!r}", RESTORE)
        if doc["secret"] != secret.name:
            self.add(path, f"belongs to secret {doc['secret']!r}, not {secret.name!r}",
                     "envelopes cannot move between secrets: " + RESTORE)  # fmt: skip
        if doc["version_id"] != info.version_id:
            self.add(path, f"holds version_id {doc['version_id']!r}, not the "
                     f"{info.version_id!r} its path stands for",
                     "envelopes cannot move between versions: " + RESTORE)  # fmt: skip
        if doc["type"] != info.kind:
            self.add(path, f"holds a {doc['type']!r} value, the manifest says {info.kind!r}",
                     RESTORE)  # fmt: skip
        for field, size in (("nonce", 12), ("ciphertext", 0)):
            try:
                raw = b64decode_strict(doc[field])
            except ValueError:
                raw = b""
            if (size and len(raw) != size) or len(raw) < 12:
                self.add(path, f"has a {field} that is not canonical base64 of the right length",
                         RESTORE)  # fmt: skip
        for stanza in doc["keys"]:  # each a mapping of strings with a provider and a key_id
            provider, key_id = stanza["provider"], stanza["key_id"]
            if provider not in PROVIDERS:
                self.add(path, f"names unknown key provider {provider!r}",
                         "upgrade gitsm, or " + RESTORE)  # fmt: skip
            elif self.config is not None and not self.stanza_known(provider, key_id):
                self.add(path, f"is wrapped for {provider} key {key_id}, which the key registry "
                         "does not list and no provider holds", UNKNOWN_KEY_FIX)  # fmt: skip
        if self.decrypt and info.stages and len(self.problems) == count:
            try:
                envelope.open_value(data, name=secret.name, arn=secret.arn,
                                    version_id=info.version_id, keys=self.keys)  # fmt: skip
            except DecryptionFailure as exc:
                self.add(path, f"labeled version ({', '.join(info.stages)}) does not decrypt: "
                         f"{exc.message}", "make its key available, or " + RESTORE)  # fmt: skip
