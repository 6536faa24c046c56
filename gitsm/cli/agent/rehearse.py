"""The agent's rehearsal: the hot commands run on a throwaway store, once in the agent before any
spare is forked and, reads only, again in each spare before it waits for a command.

What a command does only the first time in a process (lazy imports, codec lookups, compiled
patterns, libgit2's and OpenSSL's first-use set-up) is done once, in the agent. A forked spare
then copies, page by page, the memory its first command writes to (Python's reference counts
touch every object used): the spare's own rehearsal of the reads pays for those copies before a
command is waiting, which makes a read about three times quicker and a write nearly twice.

It runs in a directory of its own under the agent's private directory, with its own
``GITSM_HOME`` (a key made for it), its own git identity, HOME and XDG_CONFIG_HOME, no system git
config and no ``GITSM_REPO``; the
process's environment, working directory and standard streams are put back afterwards. Nothing of
the user's is read or written. The agent removes the directory when it stops.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile

SECRET = "agent/rehearsal"
WRITES: tuple[tuple[str, ...], ...] = (
    ("create-secret", "--name", SECRET, "--secret-string", "rehearsal"),
    ("put-secret-value", "--secret-id", SECRET, "--secret-string", "rehearsal-2"),
)
READS: tuple[tuple[str, ...], ...] = (
    ("get-secret-value", "--secret-id", SECRET),
    ("describe-secret", "--secret-id", SECRET),
    ("list-secrets",),
    ("list-secret-version-ids", "--secret-id", SECRET),
    ("get-secret-value", "--secret-id", SECRET, "--query", "SecretString", "--output", "text"),
)
SPEC = "rehearsal.materialize.yaml"
OUT = "materialized"
MATERIALIZE = (("materialize", "--spec", SPEC, "--format", "files", "--out", OUT),)
"""A CI job's materialize into a new directory (removed after each run). Where the agent's
directory is inside a git work tree it is refused (no plaintext in a work tree): that costs
only the warming, so it is not counted among the rehearsal's failures."""


def _system_config(path: str | None) -> str | None:
    """Point libgit2's system configuration at ``path``; where it pointed before."""
    pygit2 = sys.modules.get("pygit2")
    if pygit2 is None or path is None:
        return None
    level = pygit2.enums.ConfigLevel.SYSTEM
    before = str(pygit2.settings.search_path[level])
    pygit2.settings.search_path[level] = path
    return before


class Rehearsal:
    """The throwaway store and the runs on it."""

    def __init__(self, parent: str) -> None:
        self.root = tempfile.mkdtemp(prefix="rehearsal-", dir=parent)
        self.store = os.path.join(self.root, "store")
        with open(os.path.join(self.root, SPEC), "w", encoding="ascii") as spec:
            spec.write(
                f"version: 1\nsecrets:\n  - secret_id: {SECRET}\n    file: rehearsed/value\n"
            )

    def run(self, commands: tuple[tuple[str, ...], ...]) -> list[str]:
        """Run ``commands`` on the store (quietly); those that did not exit 0."""
        from gitsm.cli import run_here
        from gitsm.cli.agent.child import follow_git_config

        saved_env, saved_cwd = dict(os.environ), os.getcwd()
        saved_streams = (sys.stdin, sys.stdout, sys.stderr)
        failed: list[str] = []
        system: str | None = None
        try:
            os.chdir(self.root)
            for name in [k for k in os.environ if k.startswith(("GITSM_", "GIT_"))]:
                del os.environ[name]
            os.environ.update(GITSM_HOME=os.path.join(self.root, "home"), GITSM_FSYNC="0",
                              GITSM_AGENT="0", HOME=self.root, XDG_CONFIG_HOME=self.root,
                              GIT_CONFIG_NOSYSTEM="1")  # fmt: skip
            system = _system_config(self.root)  # neither git nor libgit2 reads the user's config
            for who in ("AUTHOR", "COMMITTER"):
                os.environ[f"GIT_{who}_NAME"] = "gitsm agent"
                os.environ[f"GIT_{who}_EMAIL"] = "agent@localhost"
            follow_git_config()
            for command in commands:
                args = list(command) if command[0] == "init" else ["--repo", self.store, *command]
                sys.stdin = io.TextIOWrapper(io.BytesIO())
                sys.stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
                sys.stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
                try:
                    run_here(args, args)
                    code: object = 0
                except SystemExit as exc:
                    code = exc.code
                if code not in (0, None):
                    failed.append(" ".join(command))
        finally:
            shutil.rmtree(os.path.join(self.root, OUT), ignore_errors=True)
            sys.stdin, sys.stdout, sys.stderr = saved_streams
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
            follow_git_config()
            _system_config(system)
        return failed

    def first(self) -> list[str]:
        """The agent's rehearsal: make the store, write, read, materialize; what failed."""
        failed = self.run((("init", self.store), *WRITES, *READS))
        self.run(MATERIALIZE)
        return failed

    def limber(self) -> None:
        """A spare's rehearsal: the reads and the materialize again, in the spare's own
        memory."""
        self.run(READS + MATERIALIZE)

    def remove(self) -> None:
        """Remove the store and its key ring."""
        shutil.rmtree(self.root, ignore_errors=True)
