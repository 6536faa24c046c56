"""What a commit signature says about its signer, read without running any program.

git stores a commit's signature as ASCII armor in its ``gpgsig`` header. The armor tells the kind
(``-----BEGIN SSH SIGNATURE-----``, ``-----BEGIN PGP SIGNATURE-----``, ``-----BEGIN SIGNED
MESSAGE-----`` for x509), and the signature itself names the key:

* an ssh signature (OpenSSH's SSHSIG format) carries the whole public key: its type and SHA-256
  fingerprint read as ``ssh-keygen`` prints them (``ED25519 SHA256:...``);
* an OpenPGP signature packet carries the issuer's fingerprint (subpacket 33) or key id
  (subpacket 16): read as upper-case hex, as GnuPG prints them.

This lets ``gitsm log`` name the signer of every signed commit without a subprocess, and say which
key signed a commit that cannot be checked. It proves nothing: only verification does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

SSH, OPENPGP, X509, UNKNOWN = "ssh", "openpgp", "x509", "unknown"
_KINDS = (
    (b"-----BEGIN SSH SIGNATURE-----", SSH),
    (b"-----BEGIN PGP SIGNATURE-----", OPENPGP),
    (b"-----BEGIN PGP MESSAGE-----", OPENPGP),
    (b"-----BEGIN SIGNED MESSAGE-----", X509),
)
_SSH_TYPES = {
    "ssh-rsa": "RSA",
    "ssh-dss": "DSA",
    "ssh-ed25519": "ED25519",
    "ecdsa-sha2-nistp256": "ECDSA",
    "ecdsa-sha2-nistp384": "ECDSA",
    "ecdsa-sha2-nistp521": "ECDSA",
    "sk-ssh-ed25519@openssh.com": "ED25519-SK",
    "sk-ecdsa-sha2-nistp256@openssh.com": "ECDSA-SK",
}
_ISSUER_FINGERPRINT, _ISSUER_KEY_ID = 33, 16


def kind(signature: bytes) -> str:
    """``ssh``, ``openpgp``, ``x509`` or ``unknown``, from the signature's armor."""
    head = signature.lstrip()
    for armor, name in _KINDS:
        if head.startswith(armor):
            return name
    return UNKNOWN


def dearmor(signature: bytes) -> bytes | None:
    """The bytes inside ASCII armor (headers and an OpenPGP checksum line skipped), or None."""
    lines = [line.strip() for line in signature.strip().splitlines()]
    if (
        len(lines) < 3
        or not lines[0].startswith(b"-----BEGIN ")
        or not lines[-1].startswith(b"-----END ")
    ):
        return None
    body = lines[1:-1]
    if b"" in body:  # OpenPGP armor headers ("Comment: ...") end with a blank line
        body = body[body.index(b"") + 1 :]
    body = [line for line in body if not (line.startswith(b"=") and len(line) == 5)]
    try:
        return base64.b64decode(b"".join(body), validate=True)
    except (binascii.Error, ValueError):
        return None


def _ssh_string(data: bytes, pos: int) -> tuple[bytes, int]:
    if pos + 4 > len(data):
        raise ValueError("truncated")
    end = pos + 4 + int.from_bytes(data[pos : pos + 4], "big")
    if end > len(data):
        raise ValueError("truncated")
    return data[pos + 4 : end], end


def ssh_key(signature: bytes) -> str | None:
    """``<TYPE> SHA256:<fingerprint>`` of the key that made an ssh signature, or None."""
    blob = dearmor(signature)
    if blob is None or not blob.startswith(b"SSHSIG"):
        return None
    try:
        public, _ = _ssh_string(blob, 10)  # after the magic and the version
        key_type, _ = _ssh_string(public, 0)
    except ValueError:
        return None
    name = key_type.decode("ascii", "replace")
    digest = base64.b64encode(hashlib.sha256(public).digest()).decode("ascii").rstrip("=")
    return f"{_SSH_TYPES.get(name, name.upper())} SHA256:{digest}"


def _packet_body(data: bytes) -> bytes | None:
    """The body of the first OpenPGP packet when it is a signature packet (tag 2)."""
    if not data or not data[0] & 0x80:
        return None
    first = data[0]
    if first & 0x40:  # new format
        tag, pos = first & 0x3F, 1
        if pos >= len(data):
            return None
        octet = data[pos]
        if octet < 192:
            length, pos = octet, pos + 1
        elif octet < 224:
            if pos + 1 >= len(data):
                return None
            length, pos = ((octet - 192) << 8) + data[pos + 1] + 192, pos + 2
        elif octet == 255:
            length, pos = int.from_bytes(data[pos + 1 : pos + 5], "big"), pos + 5
        else:
            return None  # partial lengths: not used for signatures
    else:  # old format
        tag, size = (first >> 2) & 0x0F, 1 << (first & 0x03)
        if size == 8:  # indeterminate length
            length, pos = len(data) - 1, 1
        else:
            length, pos = int.from_bytes(data[1 : 1 + size], "big"), 1 + size
    return data[pos : pos + length] if tag == 2 else None


def _subpackets(area: bytes) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(area):
        octet = area[pos]
        if octet < 192:
            length, pos = octet, pos + 1
        elif octet < 255:
            if pos + 1 >= len(area):
                break
            length, pos = ((octet - 192) << 8) + area[pos + 1] + 192, pos + 2
        else:
            length, pos = int.from_bytes(area[pos + 1 : pos + 5], "big"), pos + 5
        if length < 1 or pos + length > len(area):
            break
        out.append((area[pos] & 0x7F, area[pos + 1 : pos + length]))
        pos += length
    return out


def openpgp_issuer(signature: bytes) -> str | None:
    """The issuer fingerprint (else key id) of an OpenPGP signature, upper-case hex, or None."""
    data = dearmor(signature)
    body = _packet_body(data) if data is not None else None
    if not body:
        return None
    version = body[0]
    if version == 3 and len(body) >= 15:
        return body[7:15].hex().upper()
    if version not in (4, 5, 6) or len(body) < 6:
        return None
    count = 4 if version == 6 else 2  # RFC 9580 widened the subpacket area lengths
    areas: list[bytes] = []
    pos = 4
    for _ in range(2):
        if pos + count > len(body):
            return None
        size = int.from_bytes(body[pos : pos + count], "big")
        areas.append(body[pos + count : pos + count + size])
        pos += count + size
    found = [s for area in areas for s in _subpackets(area)]
    for kind_, value in found:
        if kind_ == _ISSUER_FINGERPRINT and len(value) > 1:
            return value[1:].hex().upper()
    for kind_, value in found:
        if kind_ == _ISSUER_KEY_ID and len(value) == 8:
            return value.hex().upper()
    return None
