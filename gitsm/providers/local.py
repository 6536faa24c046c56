"""The ``local`` provider: AES-256 key-encryption keys in a key ring outside the repository.

Keys live in ``$GITSM_HOME/keys/<key-id>.key`` (default ``~/.config/gitsm``; files 0600 in a 0700
directory), one base64 line each. CI can supply keys without files through ``GITSM_LOCAL_KEYS``:
whitespace- or comma-separated ``<key-id>:<base64 key>`` entries. Key ids are UUIDs, like KMS key ids.
A data key is wrapped with AES-256-GCM; the associated data binds the key id and the encryption
context, so a stanza moved to another secret or version does not unwrap.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gitsm.providers.base import (
    KeyProvider,
    KeyUnavailable,
    b64decode_strict,
    b64encode,
    canonical_context,
)

ENV_KEYS = "GITSM_LOCAL_KEYS"
_KEY_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def gitsm_home(env: Mapping[str, str] | None = None) -> Path:
    """The user's gitsm directory: ``$GITSM_HOME``, else ``$XDG_CONFIG_HOME/gitsm``, else ~/.config."""
    env = os.environ if env is None else env
    if env.get("GITSM_HOME"):
        return Path(env["GITSM_HOME"])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gitsm"


class LocalProvider(KeyProvider):
    """AES-256 key-encryption keys from the user's key ring or ``GITSM_LOCAL_KEYS``."""

    name = "local"

    def __init__(self, home: Path | None = None, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.key_dir = (home or gitsm_home(env)) / "keys"
        self._env_keys: dict[str, bytes] = {}
        self._cache: dict[str, bytes] = {}
        for entry in re.split(r"[\s,]+", env.get(ENV_KEYS, "").strip()):
            if not entry:
                continue
            key_id, _, material = entry.partition(":")
            try:
                key = b64decode_strict(material)
            except ValueError:
                key = b""
            if len(key) != 32:
                raise KeyUnavailable(
                    f"{ENV_KEYS} entry for key {key_id!r} is not '<key-id>:<base64 of 32 bytes>'."
                )
            self._env_keys[key_id] = key

    def _path(self, key_id: str) -> Path:
        return self.key_dir / f"{key_id}.key"

    def claims(self, key_id: str) -> bool:
        """Local key ids are UUIDs present in the key ring or the environment."""
        return bool(_KEY_ID.fullmatch(key_id)) and (
            key_id in self._env_keys or self._path(key_id).is_file()
        )

    def create_key(self) -> str:
        """Make a new random key in the key ring (0600 file, 0700 directory); return its id."""
        self.key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.key_dir, 0o700)
        key_id = str(uuid.uuid4())
        fd = os.open(self._path(key_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(b64encode(AESGCM.generate_key(bit_length=256)) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return key_id

    def export_key(self, key_id: str) -> str:
        """The ``<key-id>:<base64>`` entry for ``GITSM_LOCAL_KEYS`` (key material: handle with care)."""
        return f"{key_id}:{b64encode(self._material(key_id))}"

    def _material(self, key_id: str) -> bytes:
        if key_id in self._env_keys:
            return self._env_keys[key_id]
        if key_id in self._cache:
            return self._cache[key_id]
        path = self._path(key_id)
        try:
            key = b64decode_strict(path.read_text().strip())
        except FileNotFoundError:
            raise KeyUnavailable(
                f"local key {key_id} is not in {self.key_dir} nor in {ENV_KEYS}"
            ) from None
        except (OSError, ValueError) as exc:
            raise KeyUnavailable(f"local key file {path} is unreadable: {exc}") from None
        if len(key) != 32:
            raise KeyUnavailable(f"local key file {path} does not hold a 256-bit key")
        self._cache[key_id] = key
        return key

    @staticmethod
    def _aad(key_id: str, context: Mapping[str, str]) -> bytes:
        return b"gitsm-local-v1\0" + key_id.encode() + b"\0" + canonical_context(context)

    def wrap(self, key_id: str, data_key: bytes, context: Mapping[str, str]) -> dict[str, str]:
        """Wrap with AES-256-GCM under the key-encryption key."""
        nonce = os.urandom(12)
        sealed = AESGCM(self._material(key_id)).encrypt(nonce, data_key, self._aad(key_id, context))
        return {"wrapped": b64encode(nonce + sealed)}

    def unwrap(self, key_id: str, stanza: Mapping[str, str], context: Mapping[str, str]) -> bytes:
        """Unwrap; a wrong key, context or altered stanza raises KeyUnavailable."""
        kek = self._material(key_id)
        try:
            blob = b64decode_strict(stanza.get("wrapped"))
        except ValueError as exc:
            raise KeyUnavailable(f"local key {key_id}: wrapped key is malformed ({exc})") from None
        try:
            return AESGCM(kek).decrypt(blob[:12], blob[12:], self._aad(key_id, context))
        except (InvalidTag, ValueError):
            raise KeyUnavailable(
                f"local key {key_id} did not unwrap the data key (wrong key, or the stanza was "
                "altered or moved from another secret or version)"
            ) from None
