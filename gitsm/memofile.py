"""A memo file beside a repository: a tag line naming its format, the CRC-32 of its body, and the
body (one ``marshal``-led value), written whole and renamed into place.

The quick read's memo (:mod:`gitsm.quickmemo`) and the spec memo
(:mod:`gitsm.materialize.specmemo`) are such files. A file that is missing, damaged or of another
format reads as nothing; one that cannot be written is quietly not written (a memo only saves
time).
"""

from __future__ import annotations

import marshal
import os
import zlib

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs a cold start a few ms, and these paths are start-up paths
    from typing import Any


def read(path: str, tag: bytes) -> object | None:
    """The value in the memo file ``path`` of format ``tag`` (a line); None when there is none."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    head = len(tag) + 9
    if not data.startswith(tag) or data[head - 1 : head] != b"\n":
        return None
    body = data[head:]
    try:
        if int(data[len(tag) : head - 1], 16) != zlib.crc32(body):
            return None
        value: object = marshal.loads(body)
    except (ValueError, EOFError, TypeError):
        return None
    return value


def write(path: str, tag: bytes, value: Any) -> None:
    """Write ``value`` to the memo file ``path`` in format ``tag``; quietly nothing on failure."""
    body = marshal.dumps(value, 4)
    temporary = f"{path}.{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(tag + b"%08x\n" % zlib.crc32(body) + body)
        os.replace(temporary, path)
    except OSError:
        try:  # noqa: SIM105  (contextlib costs a start on the paths that use this)
            os.unlink(temporary)
        except OSError:
            pass
