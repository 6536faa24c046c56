"""The ``aws-kms`` provider: data keys from AWS KMS, as AWS Secrets Manager uses it.

Key ids are KMS key ARNs and alias ARNs (``arn:aws:kms:<region>:<account>:key/<id>`` or
``...:alias/<name>``); the region comes from the ARN. The first recipient of a version gets its data
key from ``GenerateDataKey``; further recipients wrap it with ``Encrypt``; reading uses ``Decrypt``.
Every call carries the encryption context ``{"SecretARN": <arn>, "SecretVersionId": <id>}``, so a
stanza copied to another secret or version is refused by KMS, exactly as with Secrets Manager.

boto3 is an optional dependency (``pip install 'gitsm[aws]'``), imported on first use; recognising a
key id needs neither boto3 nor the network. Credentials and endpoints are boto3's own (environment,
profiles, ``AWS_ENDPOINT_URL_KMS``). KMS errors become :class:`KeyUnavailable` naming the key.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gitsm.providers.base import (
    KeyProvider,
    KeySourceUnusable,
    KeyUnavailable,
    b64decode_strict,
    b64encode,
)

_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:kms:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+):\d{12}:"
    r"(?:key/[A-Za-z0-9-]{1,128}|alias/[A-Za-z0-9/_-]{1,250})"
)
STANZA_FIELD = "ciphertext_blob"

_REASONS = {
    "DisabledException": "the KMS key is disabled; enable it or re-key to another key",
    "KMSInvalidStateException": "the KMS key is not usable in its current state "
    "(pending deletion or pending import?)",
    "NotFoundException": "KMS has no such key or alias",
    "InvalidCiphertextException": "KMS refused the wrapped key: it was altered, or it was made "
    "for another secret or version (encryption context mismatch)",
    "IncorrectKeyException": "the wrapped key was made under another KMS key",
    "AccessDeniedException": "KMS denied access (key policy or IAM permissions, or the wrapped key "
    "was made under another KMS key)",
    "InvalidKeyUsageException": "the KMS key is not a symmetric ENCRYPT_DECRYPT key",
    "KeyUnavailableException": "the KMS key is temporarily unavailable; try again",
    "UnrecognizedClientException": "KMS did not recognise the AWS credentials",
}
_SAFE_TO_SHOW = {
    "NoCredentialsError",
    "PartialCredentialsError",
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProfileNotFound",
}
_SESSION: list[Any] = []  # one boto3 session per process: it caches service models
_SESSION_LOCK = threading.Lock()  # boto3 sessions are not thread-safe


def _new_client(boto3: Any, region: str, config: Any) -> Any:
    with _SESSION_LOCK:
        if not _SESSION:
            _SESSION.append(boto3.session.Session())
        return _SESSION[0].client("kms", region_name=region, config=config)


def region_of(key_id: str) -> str:
    """The region named by a KMS key or alias ARN (ValueError if ``key_id`` is not one)."""
    match = _ARN.fullmatch(key_id)
    if match is None:
        raise ValueError(f"{key_id!r} is not a KMS key ARN or alias ARN")
    return match.group("region")


class AwsKmsProvider(KeyProvider):
    """Symmetric AWS KMS keys, named by key ARN or alias ARN."""

    name = "aws-kms"

    def __init__(self, home: Path | None = None, env: Mapping[str, str] | None = None) -> None:
        # boto3 reads credentials, region overrides and endpoints from the process environment.
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._errors: Any = None

    def claims(self, key_id: str) -> bool:
        """Syntactically valid KMS key ARNs and alias ARNs (no network call)."""
        return _ARN.fullmatch(key_id) is not None

    def holds(self, key_id: str) -> bool | None:
        """Unknown until KMS is asked."""
        return None

    def _client(self, key_id: str) -> Any:
        try:
            region = region_of(key_id)
        except ValueError as exc:
            raise KeyUnavailable(str(exc)) from None
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                try:
                    boto3 = importlib.import_module("boto3")
                    config = importlib.import_module("botocore.config")
                    self._errors = importlib.import_module("botocore.exceptions")
                except ImportError:
                    raise KeySourceUnusable(
                        "the aws-kms provider needs boto3, which is not installed: install it "
                        "with pip install 'gitsm[aws]'"
                    ) from None
                client = _new_client(
                    boto3,
                    region,
                    config.Config(
                        connect_timeout=5,
                        read_timeout=20,
                        retries={"max_attempts": 3, "mode": "standard"},
                    ),
                )
                self._clients[region] = client
            return client

    def _call(self, key_id: str, operation: str, **params: Any) -> dict[str, Any]:
        """Call KMS; any failure becomes KeyUnavailable naming the key (never key material)."""
        client = self._client(key_id)
        errors = self._errors
        try:
            response: dict[str, Any] = getattr(client, operation)(**params)
        except errors.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            reason = _REASONS.get(code, "KMS refused the request")
            raise KeyUnavailable(f"KMS key {key_id}: {reason} ({code})") from None
        except errors.BotoCoreError as exc:
            kind = type(exc).__name__
            detail = f"{kind}: {exc}" if kind in _SAFE_TO_SHOW else kind  # others may echo params
            raise KeyUnavailable(
                f"KMS key {key_id}: the call to KMS in {region_of(key_id)} failed ({detail})"
            ) from None
        return response

    def generate(self, key_id: str, context: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
        """GenerateDataKey (AES_256): the data key and its KMS ciphertext."""
        response = self._call(
            key_id, "generate_data_key", KeyId=key_id, KeySpec="AES_256",
            EncryptionContext=dict(context),
        )  # fmt: skip
        return bytes(response["Plaintext"]), {STANZA_FIELD: b64encode(response["CiphertextBlob"])}

    def wrap(self, key_id: str, data_key: bytes, context: Mapping[str, str]) -> dict[str, str]:
        """Encrypt an existing data key under the KMS key."""
        response = self._call(
            key_id, "encrypt", KeyId=key_id, Plaintext=data_key, EncryptionContext=dict(context)
        )
        return {STANZA_FIELD: b64encode(response["CiphertextBlob"])}

    def unwrap(self, key_id: str, stanza: Mapping[str, str], context: Mapping[str, str]) -> bytes:
        """Decrypt with the context; KMS checks the context, and the key when it is a key ARN."""
        try:
            blob = b64decode_strict(stanza.get(STANZA_FIELD))
        except ValueError as exc:
            raise KeyUnavailable(
                f"KMS key {key_id}: the wrapped key is malformed ({exc})"
            ) from None
        params: dict[str, Any] = {"CiphertextBlob": blob, "EncryptionContext": dict(context)}
        if ":key/" in key_id:  # an alias may since point at a newer key: KMS finds the old one
            params["KeyId"] = key_id
        response = self._call(key_id, "decrypt", **params)
        return bytes(response["Plaintext"])
