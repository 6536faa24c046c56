"""Running a command with secrets in its environment only, as gitsm's child.

The command is started with ``posix_spawnp`` and the given environment: the values are in no argv,
no file, and not in gitsm's own environment. The mapping is cleared as soon as the child runs, so
the parent holds no reference to a value while it waits (Python cannot wipe freed memory; nothing
keeps it alive).

While the child runs, gitsm blocks the forwarded signals and takes them with ``sigtimedwait``:
each one is sent on to the child, except a terminal's own (Ctrl-C, Ctrl-\\, a hang-up, a resize;
the kernel marks them SI_KERNEL), which the terminal already delivered to the child, since it
shares gitsm's foreground process group. Job control (SIGTSTP, SIGCONT) is left to the terminal.
The child's exit status is returned as ``os.waitstatus_to_exitcode`` gives it (minus the signal
number when a signal ended it), for the caller to pass on.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal

from gitsm.errors import GitsmError

FORWARDED = frozenset({
    signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGUSR1,
    signal.SIGUSR2, signal.SIGWINCH, signal.SIGALRM,
})  # fmt: skip
TERMINAL_SIGNALS = frozenset({signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGWINCH})
SI_KERNEL = 0x80
"""``si_code`` of a signal the kernel sent itself, as a terminal's are (Linux)."""
RESTORED = frozenset({signal.SIGPIPE, signal.SIGXFSZ})
"""Signals Python ignores for itself; the child gets their default action (as subprocess does)."""
EXIT_CANNOT_RUN, EXIT_NOT_FOUND = 126, 127


class CommandError(GitsmError):
    """The command could not be started (exit 127 when not found, 126 otherwise, like env(1))."""

    code = "CommandNotRun"

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def run(argv: list[str], env: dict[str, str]) -> int:
    """Run ``argv`` with exactly the environment ``env`` (cleared once the child runs).

    Returns the exit status, or minus the number of the signal that ended the child.
    """
    if not argv:
        raise CommandError("no command given", EXIT_CANNOT_RUN)
    watched = FORWARDED | {signal.SIGCHLD}
    old_child = signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # an inherited SIG_IGN reaps it
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    try:
        try:
            pid = os.posix_spawnp(argv[0], argv, env, setsigmask=old_mask, setsigdef=RESTORED)
        except OSError as exc:
            code = EXIT_NOT_FOUND if exc.errno == errno.ENOENT else EXIT_CANNOT_RUN
            reason = "command not found" if code == EXIT_NOT_FOUND else exc.strerror
            raise CommandError(f"gitsm exec: {argv[0]}: {reason}", code) from None
        finally:
            env.clear()
        return _wait(pid, watched)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        signal.signal(signal.SIGCHLD, old_child)


def _wait(pid: int, watched: frozenset[signal.Signals]) -> int:
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status)
        info = signal.sigtimedwait(watched, 1.0)
        if info is None or info.si_signo == signal.SIGCHLD:
            continue
        if info.si_code == SI_KERNEL and info.si_signo in TERMINAL_SIGNALS:
            continue  # the terminal sent it to the child's process group too
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, info.si_signo)


def die_like(code: int) -> int:
    """End this process the way the child ended: by the same signal, or return the exit code.

    For a child ended by signal N, the default action of N is restored and N raised, so that
    gitsm's own parent sees the same wait status; if N does not end a process, 128 + N is returned.
    """
    if code >= 0:
        return code
    number = -code
    with contextlib.suppress(OSError, ValueError):
        signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {number})
        os.kill(os.getpid(), number)
    return 128 + number
