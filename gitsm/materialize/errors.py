"""How materialization fails: a spec that does not parse, or one error that lists every problem."""

from __future__ import annotations

from collections.abc import Sequence

from gitsm.errors import EXIT_USAGE, GitsmError, OperationError

NOTHING_WRITTEN = "nothing was written"


class SpecError(GitsmError):
    """The spec file or a ``--env``/``--file`` flag is not valid (exit 252, like a bad option)."""

    code = "InvalidSpec"
    exit_code = EXIT_USAGE


class MaterializeError(OperationError):
    """Secrets could not be materialized, and so nothing was (exit 254).

    ``problems`` lists each one (which entry, which secret, what went wrong), never a value.
    """

    code = "MaterializeFailure"

    def __init__(self, problems: Sequence[str], *, outcome: str = NOTHING_WRITTEN) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''}; {outcome}"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))
