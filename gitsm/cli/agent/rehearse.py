"""The agent's rehearsal: the hot commands run once on a throwaway store before any spare is
forked, so that what a command does only the first time in a process (lazy imports, codec
lookups, compiled patterns, libgit2's and OpenSSL's first-use set-up) is done once, in the agent,
and not again in every command's process.

It runs in a temporary directory with its own ``GITSM_HOME`` (a key made for it), its own git
identity and no ``GITSM_REPO``; the process's environment, working directory and standard streams
are put back afterwards and the directory is removed. Nothing of the user's is read or written.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile

SECRET = "agent/rehearsal"
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("create-secret", "--name", SECRET, "--secret-string", "rehearsal"),
    ("get-secret-value", "--secret-id", SECRET),
    ("put-secret-value", "--secret-id", SECRET, "--secret-string", "rehearsal-2"),
    ("describe-secret", "--secret-id", SECRET),
    ("list-secrets",),
    ("list-secret-version-ids", "--secret-id", SECRET),
    ("get-secret-value", "--secret-id", SECRET, "--query", "SecretString", "--output", "text"),
)


def rehearse() -> list[str]:
    """Run :data:`COMMANDS` on a new store; the commands that did not exit 0 (for the log)."""
    from gitsm.cli import run_here
    from gitsm.cli.agent.child import follow_git_config

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gitsm-agent-rehearsal-") as tmp:
        try:
            os.chdir(tmp)
            for name in [k for k in os.environ if k.startswith(("GITSM_", "GIT_"))]:
                del os.environ[name]
            os.environ.update(GITSM_HOME=os.path.join(tmp, "home"), GITSM_FSYNC="0",
                              GITSM_AGENT="0", HOME=tmp)  # fmt: skip
            for who in ("AUTHOR", "COMMITTER"):
                os.environ[f"GIT_{who}_NAME"] = "gitsm agent"
                os.environ[f"GIT_{who}_EMAIL"] = "agent@localhost"
            follow_git_config()
            store = os.path.join(tmp, "store")
            for args in (("init", store), *((("--repo", store, *c)) for c in COMMANDS)):
                sys.stdin = io.TextIOWrapper(io.BytesIO())
                sys.stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
                sys.stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
                try:
                    run_here(list(args), list(args))
                    code: object = 0
                except SystemExit as exc:
                    code = exc.code
                if code not in (0, None):
                    failed.append(" ".join(args[2:] if args[0] == "--repo" else args[:1]))
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved_streams
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
            follow_git_config()
    return failed
