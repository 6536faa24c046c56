"""How the CLI fails: one exception per exit code, one place that prints errors, and redaction.

Exit codes follow aws CLI v2 (see :mod:`gitsm.errors`): 252 the command line does not parse (an
unknown option, a bad value, a missing required argument, a parameter file that cannot be read, a
``--query`` that cannot run: checked before the operation), 253 the environment is unusable (no
store, no key ring), 254 the operation failed (an AWS error code such as
ResourceNotFoundException), 255 anything else (a ``--query`` that fails on a read's output, say).
Only ``--debug`` shows a traceback.

The rule behind them: the exit status says what happened to the store. 0 exactly when the operation
took effect; any other code means it did not, and nothing changed. So a write (any command that
changes the store, the key ring or the repository's hooks) whose output cannot be shown after it
landed (a ``--query`` that fails on the response at run time, a closed pipe, a character standard
output cannot encode) still exits 0: standard output gets nothing more, and standard error gets a
warning naming what landed and that only its output is missing (:class:`WriteLanded`, raised by
:func:`gitsm.cli.output.emit` when given a :class:`Landed`). Running the command again would write
again, so the warning says not to.

A write that landed while the checkout it was made in could not follow (a full disk, a read-only
work tree: the library logs that on ``gitsm.worktree`` and keeps the journal for the next command)
exits 0 too: its output is printed, then a warning naming what landed (ARN, VersionId) and what is
left (:data:`NOTES`, shown by :func:`~gitsm.cli.output.emit` and :func:`guarded`).

Nothing printed on stderr may contain a secret value: core messages never hold one, the CLI never
echoes the value options, and as a last guard every error line goes through :func:`redact`, which
masks each value this invocation was given.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping

from gitsm.errors import (
    ERROR_TABLE,
    EXIT_ENVIRONMENT,
    EXIT_OPERATION,
    EXIT_OTHER,
    EXIT_USAGE,
    GitsmError,
)

USAGE_HINT = """\
usage: gitsm [options] <command> [parameters]
To see help text, you can run:

  gitsm --help
  gitsm <command> --help
"""

MIN_REDACTED = 4
"""Values shorter than this are not masked (masking 'a' would garble every message)."""


class CliError(Exception):
    """A failure to report on stderr with an exit code (the message is shown as it is)."""

    exit_code = EXIT_OTHER

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class UsageFailure(CliError):
    """The command line does not parse: shown after the usage hint, like aws CLI's argparse errors."""

    exit_code = EXIT_USAGE


class ParamError(CliError):
    """A parameter value that cannot be read or converted (exit 252)."""

    exit_code = EXIT_USAGE

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"Error parsing parameter '{option}': {reason}")


class EnvironmentFailure(CliError):
    """The store or its surroundings are unusable (exit 253)."""

    exit_code = EXIT_ENVIRONMENT


class Landed:
    """What a write changed, named for the warning shown when its output cannot be (never values).

    ``what`` is the operation (``PutSecretValue``), ``ids`` its identifiers in order (``ARN``,
    ``VersionId``, ...), ``see`` a command that shows the result.
    """

    def __init__(self, what: str, ids: Mapping[str, object], see: str | None = None) -> None:
        self.what = what
        self.ids = {k: v for k, v in ids.items() if v is not None}
        self.see = see

    def describe(self) -> str:
        """``PutSecretValue took effect (ARN arn:..., VersionId ...)``."""
        named = ", ".join(f"{k} {v}" for k, v in self.ids.items())
        return f"{self.what} took effect" + (f" ({named})" if named else "")


class WriteLanded(CliError):
    """A write took effect, then its output could not be shown: a warning, and exit 0."""

    exit_code = 0

    def __init__(self, landed: Landed, reason: str) -> None:
        see = f" '{landed.see}' shows the result." if landed.see else ""
        super().__init__(
            f"gitsm: warning: {landed.describe()}; only its output could not be shown: {reason}. "
            "The write stands and nothing is left to redo (running the command again would "
            f"repeat the write).{see}"
        )
        self.landed = landed


class Notes(logging.Handler):
    """What the library logs on ``gitsm.worktree`` while a command runs (a write that landed while
    its checkout could not follow): kept to be shown once, after the command's output."""

    LOGGER = "gitsm.worktree"

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record's message."""
        self.messages.append(record.getMessage())

    def take(self) -> list[str]:
        """The messages kept so far, forgotten here."""
        taken, self.messages = self.messages, []
        return taken

    @contextlib.contextmanager
    def collecting(self) -> Iterator[None]:
        """Keep what the library logs while the block runs, instead of printing it at once."""
        logger = logging.getLogger(self.LOGGER)
        logger.addHandler(self)
        propagate, logger.propagate = logger.propagate, False
        try:
            yield
        finally:
            logger.removeHandler(self)
            logger.propagate = propagate


NOTES = Notes()


def show_notes(
    secrets: Secrets | None = None, landed: Landed | None = None, said: str | None = None
) -> None:
    """Write the kept notes to standard error as warnings, after what ``landed``, if given; a
    note that repeats the error just reported (``said``) is left out."""
    for note in NOTES.take():
        if said and said in note:
            continue
        text = (
            f"gitsm: warning: {landed.describe()}; {note}" if landed else f"gitsm: warning: {note}"
        )
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write((secrets.redact(text) if secrets else text) + "\n")


def silence_stdout() -> None:
    """Point standard output at /dev/null, so that flushing it at exit cannot fail again."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class Secrets:
    """The secret values of one invocation, to be masked in anything written to stderr."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, value: object) -> None:
        """Remember a value (text, bytes, or a container of them) so it is never printed."""
        if isinstance(value, bytes):
            for text in (value.decode("utf-8", "replace"), value.decode("latin-1")):
                self.add(text)
        elif isinstance(value, str):
            for text in (value, value.strip()):
                if len(text) >= MIN_REDACTED:
                    self._values.add(text)
        elif isinstance(value, dict):
            self.add_all(value.values())
        elif isinstance(value, list | tuple):
            self.add_all(value)

    def add_all(self, values: Iterable[object]) -> None:
        """Remember several values."""
        for value in values:
            self.add(value)

    def redact(self, text: str) -> str:
        """``text`` with every remembered value replaced by ``****`` (longest first)."""
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, "****")
        return text


def report(exc: BaseException, *, secrets: Secrets, debug: bool, operation: str | None) -> int:
    """Print ``exc`` on stderr the way the aws CLI would and return the exit code."""
    awsclient = sys.modules.get("gitsm.awsclient")  # no ClientError can exist before it is loaded
    if awsclient is not None and isinstance(exc, awsclient.ClientError):
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        message = exc.response.get("Error", {}).get("Message", "")
        text = (
            f"An error occurred ({code}) when calling the {exc.operation_name} operation: {message}"
        )
        exit_code = ERROR_TABLE.get(code, (500, EXIT_OPERATION))[1]
    elif isinstance(exc, UsageFailure):
        text = f"{USAGE_HINT}\ngitsm: error: {exc.message}"
        exit_code = exc.exit_code
    elif isinstance(exc, CliError):
        text, exit_code = exc.message, exc.exit_code
    elif isinstance(exc, GitsmError):
        text, exit_code = exc.message, exc.exit_code
        if exit_code == EXIT_OPERATION:
            text = f"An error occurred ({exc.code}) when calling the {operation} operation: {text}"
    elif isinstance(exc, OSError):
        text, exit_code = f"{type(exc).__name__}: {exc}", EXIT_OTHER
    else:
        text = (
            f"Internal error ({type(exc).__name__}): {exc}\n"
            "Run the command again with --debug to see where it happened."
        )
        exit_code = EXIT_OTHER
    if debug:
        import traceback

        sys.stderr.write(secrets.redact("".join(traceback.format_exception(exc))))
    lead = "" if isinstance(exc, UsageFailure | WriteLanded) else "\n"  # aws CLI's blank line
    sys.stderr.write(lead + secrets.redact(text).rstrip("\n") + "\n")
    return exit_code


def run_guarded(
    action: Callable[[], None], *, operation: str, debug: bool, secrets: Secrets
) -> int:
    """Run a command's action and return its exit code: 0, or the code of the failure it reported.

    Notes the library logged meanwhile (:data:`NOTES`) that the output did not show are shown at
    the end. typer's own exits and aborts pass through untouched (typer is looked up, not
    imported: the CLI's lean path runs without it).
    """
    try:
        with NOTES.collecting():
            action()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (``gitsm list-secrets | head``): stop quietly
        silence_stdout()  # (a write's output goes through output.emit, which reports its landing)
        return EXIT_OTHER
    except Exception as exc:  # every failure leaves through report(): one format, no values
        typer = sys.modules.get("typer")
        if typer is not None and isinstance(exc, typer.Exit | typer.Abort):
            raise
        code = report(exc, secrets=secrets, debug=debug, operation=operation)
        show_notes(secrets, said=getattr(exc, "message", None))
        return code
    finally:
        show_notes(secrets)
    return 0


def guarded(action: Callable[[], None], *, operation: str, debug: bool, secrets: Secrets) -> None:
    """:func:`run_guarded` for a typer command: a failure becomes ``typer.Exit(code)``."""
    code = run_guarded(action, operation=operation, debug=debug, secrets=secrets)
    if code:
        import typer

        raise typer.Exit(code)
