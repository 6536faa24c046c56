"""The environment gitsm gives git subprocesses (standard library only, so the CLI's quick paths
can use it without loading the git library)."""

from __future__ import annotations

import os

REDIRECTING_GIT_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
    }
)
"""Variables that point git at another repository, index, object store or ref namespace."""


def clean_git_env() -> dict[str, str]:
    """The environment for git subprocesses, without GIT_* variables that would redirect them."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def git_cli_env() -> dict[str, str]:
    """The environment for a git subprocess that must act as the user's own ``git`` would.

    Keeps what decides identity and configuration (GIT_AUTHOR_*, GIT_COMMITTER_*, EMAIL,
    GIT_CONFIG_COUNT/KEY_n/VALUE_n, GIT_CONFIG_PARAMETERS, GIT_CONFIG_GLOBAL, GIT_CONFIG_NOSYSTEM,
    HOME, XDG_CONFIG_HOME, ...) and drops :data:`REDIRECTING_GIT_VARS`, which would send git to
    another repository than the one named with ``--git-dir``.
    """
    return {k: v for k, v in os.environ.items() if k not in REDIRECTING_GIT_VARS}
