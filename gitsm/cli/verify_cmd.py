"""``gitsm verify`` and ``gitsm hook install|uninstall``.

``verify`` prints one line per problem (``path: problem (how to fix)``) on standard output and exits
1 when there is any, like a linter; with ``--output``/``--query`` it prints the problems as data
instead. It never opens the store as a SecretStore: the pre-receive hook points it at a repository
that has no branch, only the pushed objects.

``hook install`` puts the pre-commit shim (``hooks/pre-commit``) where git runs hooks, keeping an
existing hook; ``hook uninstall`` undoes it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from gitsm.cli.context import Globals, store_path
from gitsm.cli.errors import Landed, UsageFailure
from gitsm.cli.keys_base import emit, verb_group
from gitsm.cli.verbs import with_globals

EXIT_PROBLEMS = 1
"""Exit code of ``verify`` when it finds problems (the checks ran; the tree is not clean)."""


@with_globals("Verify")
def verify(
    globals_: Globals,
    rev: Annotated[
        str | None,
        typer.Option("--rev", help="Check this commit (any git revision) instead of the tip of "
                     "the store's branch.", show_default=False, metavar="REV"),
    ] = None,
    range_: Annotated[
        str | None,
        typer.Option("--range", help="Check every commit of A..B (what a push brings: 'old..new'; "
                     "an empty or all-zero A means all of B's history): each one that touches the "
                     "store must be a gitsm operation whose change is exactly that operation's, "
                     "and B's tree is checked too. One process for the whole range.",
                     show_default=False, metavar="A..B"),
    ] = None,
    require_signed: Annotated[
        bool, typer.Option("--require-signed", help="With --range: every commit of the range "
                           "must carry a good signature by an allowed signer (--allowed-signers).")
    ] = False,
    allowed_signers: Annotated[
        str | None,
        typer.Option("--allowed-signers", help="With --require-signed: an ssh allowed_signers "
                     "file (as git's gpg.ssh.allowedSignersFile), a GnuPG home directory, or a "
                     "keyring / exported public keys.", show_default=False, metavar="FILE"),
    ] = None,
    staged: Annotated[
        bool, typer.Option("--staged", help="Check what is staged in the index (what the next "
                           "commit would hold), incrementally, and run the leak guard.")
    ] = False,
    decrypt: Annotated[
        bool, typer.Option("--decrypt", help="Also decrypt every labeled version (needs the keys; "
                           "checks the whole tree).")
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Check the tip's whole tree, not only what changed since "
                           "the last tree verify found clean here (--rev and --range always check "
                           "the whole tree).")
    ] = False,
    no_leak_guard: Annotated[
        bool, typer.Option("--no-leak-guard", help="With --staged: skip the leak guard.")
    ] = False,
    leak_guard_only: Annotated[
        bool, typer.Option("--leak-guard-only", help="With --staged: run only the leak guard (no "
                           "store checks).")
    ] = False,
) -> None:  # fmt: skip
    """Check that the store is well formed: the tip of its branch, a commit (--rev), the
    staged index (--staged), or every commit of a push (--range A..B). One line per problem, 'path: problem (how to fix)'; exit 1 when
    there is any, 0 when there is none.

    Checked: the store format; every file under secrets/ is a manifest or a version envelope;
    every store file is a regular file (no symlink, gitlink or executable) within its size limit,
    read strictly (no YAML anchors, aliases or tags; every field of its type and size);
    manifests are valid and canonical; label invariants; manifests and envelopes agree; each
    envelope's name and VersionId match its path; key ids are known; with --decrypt, every
    labeled version decrypts.

    The tip's check remembers the last tree it found clean (in the git dir: .git/gitsm/verified,
    never committed) and then checks only the files that changed since, unless --full or
    --decrypt is given, gitsm was upgraded, or a key it relied on is no longer held; problems
    are always reported as a full check reports them. --rev, --range (the pre-receive hook) and
    --staged (the pre-commit hook) never use it.

    The leak guard (with --staged, when keys are at hand): no staged file anywhere in the
    repository holds the plaintext of a labeled version of a managed secret (values of 8 bytes or
    more, and each value of a JSON secret). It names the file and line, never the value; a line
    containing 'gitsm:allow' is let through.
    """
    if rev is not None and staged:
        raise UsageFailure("argument --staged: not allowed with argument --rev")
    if range_ is not None and (rev is not None or staged):
        raise UsageFailure("argument --range: not allowed with argument --rev or --staged")
    if require_signed != (allowed_signers is not None) or (require_signed and range_ is None):
        raise UsageFailure("arguments --require-signed and --allowed-signers go together, with "
                           "--range")  # fmt: skip
    if no_leak_guard and leak_guard_only:
        raise UsageFailure("argument --leak-guard-only: not allowed with argument --no-leak-guard")
    if full and staged:
        raise UsageFailure("argument --full: not allowed with argument --staged (the staged "
                           "check covers what is staged)")  # fmt: skip
    if leak_guard_only and not staged:
        raise UsageFailure("argument --leak-guard-only: the leak guard checks staged changes; "
                           "add --staged")  # fmt: skip
    import logging

    from gitsm.verify import run_verify

    class Notes(logging.Handler):
        """Shows the leak guard's notes (no key at hand, ...) on stderr."""

        def emit(self, record: logging.LogRecord) -> None:
            sys.stderr.write(f"gitsm: {record.getMessage()}\n")

    path = store_path(globals_)
    notes = Notes(logging.WARNING)
    leaks_log = logging.getLogger("gitsm.leaks")
    leaks_log.addHandler(notes)
    try:
        if range_ is not None:
            from gitsm.rangecheck import verify_range

            problems = verify_range(path, range_, allowed_signers=allowed_signers)
        else:
            problems = run_verify(
                path, rev=rev, staged=staged, decrypt=decrypt,
                leaks=False if no_leak_guard else None, structure=not leak_guard_only,
                full=full,
            )  # fmt: skip
    finally:
        leaks_log.removeHandler(notes)
    if globals_.output is not None or globals_.query is not None:
        rows = [{"Path": p.path, "Problem": p.problem, "Fix": p.fix} for p in problems]
        emit({"Problems": rows}, globals_, "Verify")
    else:
        sys.stdout.write("".join(f"{p}\n" for p in problems))
    if problems:
        sys.stdout.flush()
        sys.stderr.write(f"gitsm verify: {len(problems)} problem(s) found.\n")
        raise typer.Exit(EXIT_PROBLEMS)


@with_globals("HookInstall")
def hook_install(globals_: Globals) -> None:
    """Install gitsm's pre-commit hook (runs 'gitsm verify --staged') into the repository, and
    register gitsm's merge driver (manifests and the config merge by meaning in git merge/pull).

    The hook goes where git runs hooks (core.hooksPath is respected). A pre-commit hook already
    there is kept as pre-commit.local and runs first; nothing is overwritten silently. Installing
    again updates gitsm's hook in place. Bypass it once, knowingly, with 'git commit -n'.
    """
    from gitsm.errors import StoreError
    from gitsm.hookinstall import install
    from gitsm.store import SecretStore

    path = store_path(globals_)
    result = install(path)
    data: dict[str, Any] = {
        "Hook": str(result.hook),
        "Action": result.action,
        "ChainedHook": None if result.chained is None else str(result.chained),
    }
    try:
        setup = SecretStore.open(path).install_merge_driver(attributes=False)
    except StoreError:  # a repository whose store lives elsewhere (or not yet): hook only
        data["MergeDriver"] = "not a store"
    else:
        data["MergeDriver"] = "configured" if setup.config_changed else "unchanged"
    landed = Landed("HookInstall", {"Hook": data["Hook"], "Action": result.action})
    emit(data, globals_, "HookInstall", landed=landed)


@with_globals("HookUninstall")
def hook_uninstall(globals_: Globals) -> None:
    """Remove gitsm's pre-commit hook and put back the hook it had chained (pre-commit.local)."""
    from gitsm.hookinstall import uninstall

    removed = uninstall(store_path(globals_))
    data = {"Hook": None if removed is None else str(removed), "Removed": removed is not None}
    emit(data, globals_, "HookUninstall", landed=Landed("HookUninstall", data))


def register(
    app: typer.Typer,
    command_cls: type[Any],
    fast: Callable[[Sequence[Any]], None],
    epilog: str,
) -> None:
    """Add ``gitsm verify`` and ``gitsm hook`` to ``app``."""
    app.command("verify", cls=command_cls, epilog=epilog,
                short_help="Check the store tree, a commit or the staged index; leak guard.",
                )(verify)  # fmt: skip
    hook = verb_group(
        fast, "Install or remove gitsm's git pre-commit hook (gitsm verify --staged).",
        command_cls, epilog,
        [("install", hook_install, "Install the pre-commit hook (keeps an existing one)."),
         ("uninstall", hook_uninstall, "Remove the pre-commit hook.")],
    )  # fmt: skip
    app.add_typer(hook, name="hook", short_help="Install or remove the git pre-commit hook.")
