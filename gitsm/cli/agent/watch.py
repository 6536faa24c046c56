"""Whether a file of gitsm changed since the agent loaded it, known at once when a command comes.

Every command the agent runs first checks that gitsm's files are still the ones it imported
(an upgrade or an edit makes it decline the command and start again). Comparing the ``stat`` of
each of the 150 or so files takes 0.4 ms on the 2-core machine, on every command's path. On
Linux the agent watches their directories with inotify instead: a command then looks at whether
the watch has anything to say (one ``select`` with no wait), and only when it has, drains what it
said and compares every file (an event may be nothing: a file created beside them). Draining
first, then comparing, loses no change: a change made after the drain raises a new event, and one
made before it is in the files' ``stat`` by the time its event can be read.

The watch is set after the files' ``stat`` were taken, then they are compared once more, so that
a change made between the two is not missed. Where inotify is missing (another system, the
user's watch limit reached), every command compares the files as before.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select

from gitsm.cli.agent.child import Fingerprint, changed

# IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE, IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE,
# IN_DELETE_SELF, IN_MOVE_SELF: whatever can change a file in the directory or the directory
MASK = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800


class Watch:
    """The files of ``known`` (path -> its ``stat`` as :func:`.child.fingerprint` takes it),
    watched for changes."""

    def __init__(self, known: Fingerprint) -> None:
        self.known = known
        self.fd: int | None = _inotify(sorted({os.path.dirname(path) for path in known}))
        self.stale = changed(known)  # a change made before the watch was set

    def changed(self) -> bool:
        """True when a watched file is no longer what it was (once True, always True)."""
        if self.stale:
            return True
        if self.fd is not None:
            ready, _, _ = select.select([self.fd], [], [], 0)
            if not ready:
                return False
            with contextlib.suppress(BlockingIOError):  # another process drained it meanwhile
                while os.read(self.fd, 65536):
                    pass
        self.stale = changed(self.known)
        return self.stale

    def close(self) -> None:
        """Stop watching."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _inotify(directories: list[str]) -> int | None:
    """A non-blocking inotify descriptor watching ``directories`` (closed on exec), or None when
    one cannot be had for all of them."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        init, add = libc.inotify_init1, libc.inotify_add_watch
    except (OSError, AttributeError):  # not Linux
        return None
    add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    fd = int(init(os.O_NONBLOCK | os.O_CLOEXEC))
    if fd < 0:
        return None
    for directory in directories:
        if add(fd, os.fsencode(directory), MASK) < 0:  # the watch limit, a directory gone
            os.close(fd)
            return None
    return fd
