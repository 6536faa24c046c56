"""The one way gitsm runs git (standard library only, so the CLI's quick path can use it without
loading the git library).

Every git subprocess gitsm starts gets its repository on the command line (``--git-dir``, and
``--work-tree`` where a work tree is involved) and its environment from :func:`git_env`, which drops
the variables that would point git at another repository, index, object store or ref namespace
(:data:`REDIRECTING_GIT_VARS`). A hostile or stale ``GIT_DIR``, ``GIT_WORK_TREE``,
``GIT_INDEX_FILE``, ``GIT_OBJECT_DIRECTORY`` or ``GIT_COMMON_DIR`` in the environment therefore
cannot make gitsm read or change any repository but the store's. What decides identity and
configuration (``GIT_AUTHOR_*``, ``GIT_COMMITTER_*``, ``GIT_CONFIG_*``, ``GIT_SSH_COMMAND``,
``HOME``, ...) is kept, so git acts as the user's own ``git`` would.

The one exception is ``index_file``: internal plumbing that works on a private copy of the index
(the work-tree sync of ``gitsm sync``, under git's index lock) or on the index git handed a hook
(``gitsm verify --staged``, after checking that it lies inside the repository's git dir) names
that index explicitly; it is never taken from the environment here.

:func:`run_git` runs a command to completion, :func:`start_git` starts one (in the background, or
several at once), and :func:`git_argv` with :func:`git_env` serve callers that spawn git
themselves (the quick path's ``posix_spawn``). ``subprocess`` is imported only when used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

REDIRECTING_GIT_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
        "GIT_QUARANTINE_PATH",
    }
)
"""Variables that point git at another repository, index, object store or ref namespace."""


def git_env(*, index_file: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The environment of every program gitsm runs for git's sake (git itself, and the signing and
    checking programs git would run): the process environment without
    :data:`REDIRECTING_GIT_VARS`; ``GIT_INDEX_FILE`` set only when ``index_file`` names the index
    (see the module docstring)."""
    env = {k: v for k, v in os.environ.items() if k not in REDIRECTING_GIT_VARS}
    if index_file is not None:
        env["GIT_INDEX_FILE"] = os.fspath(index_file)
    return env


def git_argv(
    args: Sequence[str],
    *,
    git_dir: str | os.PathLike[str] | None = None,
    work_tree: str | os.PathLike[str] | None = None,
) -> list[str]:
    """``git [--git-dir DIR] [--work-tree DIR] ARGS...``. Without ``git_dir`` git finds the
    repository from its working directory (never from the environment: see :func:`git_env`)."""
    argv = ["git"]
    if git_dir is not None:
        argv += ["--git-dir", os.fspath(git_dir)]
    if work_tree is not None:
        argv += ["--work-tree", os.fspath(work_tree)]
    return [*argv, *args]


def run_git(
    args: Sequence[str],
    *,
    git_dir: str | os.PathLike[str] | None = None,
    work_tree: str | os.PathLike[str] | None = None,
    index_file: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    input: bytes | str | None = None,
    text: bool = False,
    timeout: float | None = None,
    check: bool = False,
) -> subprocess.CompletedProcess[Any]:
    """Run git to completion, output captured; standard input is ``input`` or /dev/null (git never
    waits on the terminal). Raises OSError when git cannot be started, TimeoutExpired after
    ``timeout``, CalledProcessError with ``check`` on a non-zero exit."""
    import subprocess

    return subprocess.run(
        git_argv(args, git_dir=git_dir, work_tree=work_tree),
        input=input, stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True, text=text, timeout=timeout, check=check, cwd=cwd,
        env=git_env(index_file=index_file),
    )  # fmt: skip


def start_git(
    args: Sequence[str],
    *,
    git_dir: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    capture: bool = True,
    detach: bool = False,
    errors: bool = False,
) -> subprocess.Popen[bytes]:
    """Start git without waiting: its standard output piped (``capture``) or discarded, standard
    error piped (``errors``) or discarded, standard input /dev/null; ``detach`` puts it in a
    session of its own (a background ``git gc`` that outlives gitsm)."""
    import subprocess

    return subprocess.Popen(
        git_argv(args, git_dir=git_dir),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE if errors else subprocess.DEVNULL, cwd=cwd, env=git_env(),
        start_new_session=detach,
    )  # fmt: skip


def finish_git(proc: subprocess.Popen[bytes], timeout: float) -> subprocess.CompletedProcess[bytes]:
    """Wait for a git started by :func:`start_git`, as :func:`run_git` waits for its own: its
    output collected; after ``timeout`` it is killed and TimeoutExpired raised."""
    import subprocess

    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
