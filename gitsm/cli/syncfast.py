"""The quick path of ``gitsm sync``: a sync with nothing to do costs one ``git fetch``.

Most syncs (a CI job before it reads, a cron on a quiet store) find nothing new on either side.
Loading the CLI framework, the git library and the store takes several times longer than the fetch
itself, so ``gitsm sync`` first runs here on the standard library alone: it picks the remote as the
full command does (:func:`gitsm.upstream.resolve_upstream`, from ``git config``), fetches, and
compares the local branch with the fetched tip. When they are equal, and no merge, interrupted sync
or work-tree repair is pending, it prints the same report the full command would and exits 0.
Anything else (a difference, an option it does not know, any doubt) goes to the full command,
which then does not fetch again on its first attempt (:data:`FETCHED`).
"""

from __future__ import annotations

import os
import sys
from _json import encode_basestring  # json's own string encoder, without json's import of re

from gitsm.cli.locate import find_store, git_dir
from gitsm.errors import RemoteError
from gitsm.gitenv import git_argv, git_env
from gitsm.upstream import fetch_args, resolve_upstream, tracking_ref

FETCHED: tuple[str, str] | None = None
"""(remote, remote branch) when the quick path fetched it in this process."""

_OPTIONS = {"--repo": "repo", "--remote": "remote", "--branch": "branch", "--output": "output"}
_BUSY = ("MERGE_HEAD", "rebase-merge", "rebase-apply", "CHERRY_PICK_HEAD", "REVERT_HEAD",
         "gitsm-worktree.json")  # fmt: skip


def parse(args: list[str]) -> dict[str, str | None] | None:
    """The options of a plain ``gitsm sync`` command line; None for anything else."""
    opts: dict[str, str | None] = dict.fromkeys(_OPTIONS.values())
    seen = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "sync" and not seen:
            seen, i = True, i + 1
            continue
        name, eq, value = arg.partition("=")
        key = _OPTIONS.get(name)
        if key is None or opts[key] is not None or (key in ("remote", "branch") and not seen):
            return None
        if not eq:
            if i + 1 >= len(args) or args[i + 1].startswith("-"):
                return None
            value, i = args[i + 1], i + 1
        opts[key] = value
        i += 1
    if not seen or opts["output"] not in (None, "json"):
        return None
    return opts


def _git(gitdir: str, *args: str) -> tuple[int, str]:
    """Run git on ``gitdir``: (exit status, standard output). Standard input and error are
    /dev/null: the full command reports failures. (posix_spawn: importing subprocess would cost
    this path ~8 ms, a sixth of the fetch it exists for.)"""
    read, write = os.pipe()
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_DUP2, write, 1),
               (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_CLOSE, read)]  # fmt: skip
    try:
        pid = os.posix_spawnp("git", git_argv(args, git_dir=gitdir), git_env(),
                              file_actions=actions)  # fmt: skip
    except OSError:
        os.close(read)
        os.close(write)
        return 127, ""
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return status, b"".join(chunks).decode("utf-8", "replace")


def _json(report: dict[str, object]) -> str:
    """``json.dumps(report, indent=4, ensure_ascii=False)`` for this report's flat shape."""

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return str(encode_basestring(v))
        return "[]" if v == [] else str(v)

    return (
        "{\n"
        + ",\n".join(f"    {encode_basestring(k)}: {value(v)}" for k, v in report.items())
        + "\n}"
    )


def read_refs(gitdir: str, *names: str, pending: str) -> list[str | None]:
    """The commit ids ``names`` point to, read from the ref files (loose, then packed-refs), or
    all None when a ref under ``pending`` exists or the refs are not plain files (reftable)."""
    common = gitdir
    if os.path.isfile(os.path.join(gitdir, "commondir")):
        with open(os.path.join(gitdir, "commondir")) as handle:
            common = os.path.join(gitdir, handle.read().strip())
    none: list[str | None] = [None] * len(names)
    if os.path.exists(os.path.join(common, "reftable")) or os.path.exists(
        os.path.join(common, *pending.split("/"))
    ):
        return none
    try:
        with open(os.path.join(common, "packed-refs")) as handle:
            lines = handle.read().splitlines()
    except OSError:
        lines = []
    packed = {ln[41:]: ln[:40] for ln in lines if ln[:1] not in ("#", "^", "") and ln[40:41] == " "}
    if any(name.startswith(pending) for name in packed):
        return none
    out: list[str | None] = []
    for name in names:
        try:
            with open(os.path.join(common, *name.split("/"))) as handle:
                value: str | None = handle.read().strip()
        except OSError:
            value = packed.get(name)
        out.append(value if value and len(value) in (40, 64) and value.isalnum() else None)
    return out


def quick(args: list[str]) -> int | None:
    """Run ``gitsm sync`` here when there is nothing to do (the exit code); None otherwise."""
    global FETCHED
    opts = parse(args)
    path = find_store(opts["repo"]) if opts is not None else None
    if opts is None or path is None:
        return None
    gitdir = git_dir(path)
    if any(os.path.exists(os.path.join(gitdir, name)) for name in _BUSY):
        return None
    _, found = _git(gitdir, "config", "-z", "--get-regexp", r"^(branch\..*\.(remote|merge)|remote\..*\.url|gitsm\.branch)$")  # fmt: skip
    config = dict(e.split("\n", 1) for e in found.split("\0") if "\n" in e)
    try:
        with open(os.path.join(gitdir, "HEAD")) as handle:
            head = handle.read().strip()
    except OSError:
        head = ""
    local = config.get("gitsm.branch") or (
        head[len("ref: refs/heads/") :] if head.startswith("ref: refs/heads/") else "main"
    )
    remotes = [k[len("remote.") : -len(".url")] for k in config if k.startswith("remote.")]
    try:
        remote, branch = resolve_upstream(local, config, remotes, opts["remote"], opts["branch"])
    except RemoteError:
        return None  # the full command says what is wrong
    if _git(gitdir, *fetch_args(remote, branch))[0] != 0:
        return None
    FETCHED = (remote, branch)
    tip, upstream = read_refs(gitdir, f"refs/heads/{local}", tracking_ref(remote, branch),
                              pending=f"refs/gitsm/sync/{local}/")  # fmt: skip
    if tip is None or tip != upstream:
        return None
    report = {"Remote": remote, "Branch": branch, "Before": tip, "Upstream": upstream,
              "After": tip, "Pushed": False, "FastForward": False, "Attempts": 1,
              "Operations": []}  # fmt: skip
    sys.stdout.write(_json(report) + "\n")
    return 0
