"""The ``local`` provider: AES-256 key-encryption keys in a key ring outside the repository.

Keys live in ``$GITSM_HOME/keys/<key-id>.key`` (default ``~/.config/gitsm``; files 0600 in a 0700
directory), one base64 line each. The directories gitsm creates on the way (``GITSM_HOME``, any
missing parent of it, ``keys``) are made 0700 and key files 0600 whatever the umask; directories
that already exist are left as they are (they may be shared on purpose, and gitsm changes no mode
it did not set), with a warning when they let other users at the keys: a ``keys`` directory open
to them, or a ``GITSM_HOME`` they can write to (and so replace ``keys`` in). CI can supply keys without files through ``GITSM_LOCAL_KEYS``:
whitespace- or comma-separated ``<key-id>:<base64 key>`` entries. Key ids are UUIDs, like KMS key ids.
A data key is wrapped with AES-256-GCM; the associated data binds the key id and the encryption
context, so a stanza moved to another secret or version does not unwrap.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gitsm.model import random_uuid
from gitsm.providers.base import (
    KeyProvider,
    KeySourceUnusable,
    KeyUnavailable,
    b64decode_strict,
    b64encode,
    canonical_context,
)

ENV_KEYS = "GITSM_LOCAL_KEYS"
DIR_MODE = 0o700
KEY_MODE = 0o600
_KEY_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
log = logging.getLogger("gitsm.providers.local")


def gitsm_home(env: Mapping[str, str] | None = None) -> Path:
    """The user's gitsm directory: ``$GITSM_HOME``, else ``$XDG_CONFIG_HOME/gitsm``, else ~/.config."""
    env = os.environ if env is None else env
    if env.get("GITSM_HOME"):
        return Path(env["GITSM_HOME"])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gitsm"


def private_dirs(path: Path) -> list[Path]:
    """Create ``path`` and its missing parents, each 0700 whatever the umask; return the ones this
    call created (an existing directory is left as it is)."""
    missing: list[Path] = []
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    created: list[Path] = []
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:  # made meanwhile by someone else: theirs, left as it is
            continue
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchmod(fd, DIR_MODE)  # mkdir's mode went through the umask
        finally:
            os.close(fd)
        created.append(directory)
    return created


def exposure(key_dir: Path, created: list[Path]) -> list[str]:
    """Why other users could reach the keys in ``key_dir`` through a directory gitsm did not
    create (``created`` lists those it did): never a key, only paths and modes."""
    problems: list[str] = []
    home = key_dir.parent
    if home not in created:
        mode = stat.S_IMODE(os.stat(home).st_mode)
        if mode & 0o022 and not mode & stat.S_ISVTX:
            problems.append(
                f"{home} (GITSM_HOME) is writable by other users (mode {mode:04o}), who could "
                f"replace the key ring in it; gitsm leaves existing directories as they are: run "
                f"'chmod 700 {home}'"
            )
    if key_dir not in created:
        mode = stat.S_IMODE(os.stat(key_dir).st_mode)
        if mode & 0o077:
            problems.append(
                f"the key ring {key_dir} is open to other users (mode {mode:04o}); gitsm leaves "
                f"existing directories as they are: run 'chmod 700 {key_dir}'"
            )
    return problems


class LocalProvider(KeyProvider):
    """AES-256 key-encryption keys from the user's key ring or ``GITSM_LOCAL_KEYS``."""

    name = "local"

    def __init__(self, home: Path | None = None, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.key_dir = (home or gitsm_home(env)) / "keys"
        self._env_keys: dict[str, bytes] = {}
        self._cache: dict[str, bytes] = {}
        entries = [e for e in re.split(r"[\s,]+", env.get(ENV_KEYS, "").strip()) if e]
        for number, entry in enumerate(entries, start=1):
            key_id, _, material = entry.partition(":")
            try:
                key = b64decode_strict(material)
            except ValueError:
                key = b""
            if len(key) != 32 or not _KEY_ID.fullmatch(key_id):
                named = f" (key {key_id})" if _KEY_ID.fullmatch(key_id) else ""  # never material
                raise KeySourceUnusable(
                    f"{ENV_KEYS} is malformed: entry {number} of {len(entries)}{named} is not "
                    "'<key-id>:<base64 of 32 bytes>'. Set it to the entries 'gitsm keys "
                    f"export-key KEY_ID' prints (separated by commas or spaces), or unset {ENV_KEYS}"
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
        """Make a new random key in the key ring (0600 file, 0700 directory); return its id.

        Missing directories are created 0700 whatever the umask; existing ones keep their mode,
        with a warning (logged) when other users can reach the keys through them."""
        key_id = random_uuid()
        path = self._path(key_id)
        try:
            created = private_dirs(self.key_dir)
            for problem in exposure(self.key_dir, created):
                log.warning("gitsm: warning: %s", problem)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(path, flags, KEY_MODE)
        except OSError as exc:
            raise KeySourceUnusable(
                f"cannot create a key in the key ring {self.key_dir} ({exc.strerror}). Make it "
                "writable (or free space there), or point GITSM_HOME at a private directory that "
                "is; no key was made"
            ) from None
        try:
            os.fchmod(fd, KEY_MODE)  # whatever the umask
            with os.fdopen(fd, "w") as fh:
                fh.write(b64encode(AESGCM.generate_key(bit_length=256)) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            path.unlink(missing_ok=True)  # never a key file that holds half a key
            raise KeySourceUnusable(
                f"cannot write a key into the key ring {self.key_dir} ({exc.strerror}). Free "
                "space there (or point GITSM_HOME elsewhere); no key was made"
            ) from None
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
        except OSError as exc:
            raise KeySourceUnusable(
                f"the local key file {path} cannot be read ({exc.strerror}). Fix its owner and "
                "permissions (0600, yours), or restore it from your backup of the key ring"
            ) from None
        except ValueError:
            key = b""
        if len(key) != 32:
            raise KeySourceUnusable(
                f"the local key file {path} does not hold a 256-bit key in base64 (damaged?). "
                "Restore it from your backup of the key ring"
            )
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
