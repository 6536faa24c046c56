"""``gitsm serve``: the AWS Secrets Manager API over the store, for boto3, the aws CLI, External
Secrets Operator and Terraform (docs/SERVE.md).

The group's callback runs the server; sub-commands (access keys) join the same group. Nothing
heavy is imported until the server starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from gitsm.cli.context import META_KEY, Globals, store_path
from gitsm.cli.errors import EnvironmentFailure, Secrets, UsageFailure, guarded
from gitsm.cli.keys_base import group_class

if TYPE_CHECKING:
    from gitsm.serve.access import Authenticator, Authorizer
    from gitsm.serve.backend import Backend

DEFAULT_PORT = 8283
HELP = """Serve the AWS Secrets Manager API (AWS JSON 1.1) over the store.

Point a client at it with a custom endpoint: boto3's endpoint_url, the aws CLI's --endpoint-url,
External Secrets Operator's AWS_SECRETSMANAGER_ENDPOINT, Terraform's endpoints block. Requests
are signed with access keys and checked against the store's server policy (.gitsm/server.yaml);
--test-reset instead serves anyone, unsigned, on loopback only, for test suites. See docs/SERVE.md.
"""

serve_app = typer.Typer(
    name="serve", invoke_without_command=True, rich_markup_mode=None, help=HELP,
    context_settings={"max_content_width": 100},
)  # fmt: skip


def _is_loopback(host: str) -> bool:
    from gitsm.serve.app import is_local

    return host == "localhost" or is_local(host)


def access_control(backend: Backend, *, test_mode: bool) -> tuple[Authenticator, Authorizer]:
    """The authenticator and authorizer the server uses: in test mode, nobody is checked; in
    normal mode, SigV4 with the store's access keys and the server policy, which are wired in
    here (until they are, normal mode refuses to start)."""
    if test_mode:
        from gitsm.serve.access import AllowAll, NoAuth

        return NoAuth(), AllowAll()
    raise EnvironmentFailure(
        "gitsm serve checks SigV4 signatures and the server policy, which this build of gitsm "
        "does not have yet: run it with --test-reset (no authentication, loopback only, for test "
        "suites) for now."
    )


def _bind(
    host: str, port: str, unix: str | None, cert: str | None, key: str | None, insecure: bool,
    test_reset: bool,
) -> dict[str, Any]:  # fmt: skip
    """Where and how to listen, checked before anything starts."""
    if (cert is None) != (key is None):
        raise UsageFailure("--tls-cert and --tls-key go together: give both, or neither.")
    if not port.isdigit() or int(port) > 65535:
        raise UsageFailure(f"--port: {port!r} is not a port number (0-65535; 0 picks a free one).")
    bind: dict[str, Any] = {"host": host, "port": int(port), "socket": unix}
    if unix is None and not _is_loopback(host):
        if test_reset:
            raise UsageFailure(
                "--test-reset serves anyone without authentication: it binds loopback only "
                "(127.0.0.1, ::1) or a unix socket."
            )
        if cert is None and not insecure:
            raise UsageFailure(
                f"Binding {host} (not loopback) without TLS exposes signed requests to replay and "
                "values to anyone on the network: give --tls-cert and --tls-key, or --insecure."
            )
    if cert is not None and key is not None:
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise EnvironmentFailure(
                f"Cannot load the TLS certificate {cert} and key {key}: {exc.strerror or exc}"
            ) from None
        bind["tls"] = context
    return bind


def _open_log(path: str) -> TextIO:
    """The access log, appended to; created 0600 (it names secrets and callers)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise EnvironmentFailure(f"Cannot open the access log {path}: {exc.strerror}.") from None
    return os.fdopen(fd, "a", encoding="utf-8")


def _run(path: Path, bind: dict[str, Any], test_reset: bool, access_log: str | None) -> None:
    try:
        import httptools  # noqa: F401
    except ImportError:
        raise EnvironmentFailure(
            "gitsm serve needs the 'server' extra: pip install 'gitsm[server]'."
        ) from None
    from gitsm.serve.app import App
    from gitsm.serve.backend import Backend
    from gitsm.serve.listen import serve

    backend = Backend(path)
    authenticator, authorizer = access_control(backend, test_mode=test_reset)
    log = _open_log(access_log) if access_log else sys.stderr
    try:
        app = App(backend, authenticator, authorizer, test_mode=test_reset, log=log)
        serve(app, bind)
    except OSError as exc:  # the address or socket path cannot be bound
        where = bind["socket"] or f"{bind['host']}:{bind['port']}"
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        raise EnvironmentFailure(f"Cannot listen on {where}: {reason}.") from None
    finally:
        if log is not sys.stderr:
            log.close()


@serve_app.callback(invoke_without_command=True)
def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="The address to listen on.",
                                      metavar="ADDRESS")] = "127.0.0.1",
    port: Annotated[str, typer.Option("--port", help="The TCP port (0: any free one, printed "
                                      "in the ready line).", metavar="PORT")] = str(DEFAULT_PORT),
    unix: Annotated[str | None, typer.Option("--socket", help="Listen on this unix socket "
                    "(mode 0600) instead of TCP.", show_default=False, metavar="PATH")] = None,
    tls_cert: Annotated[str | None, typer.Option("--tls-cert", help="TLS certificate chain "
                        "(PEM).", show_default=False, metavar="FILE")] = None,
    tls_key: Annotated[str | None, typer.Option("--tls-key", help="TLS private key (PEM).",
                       show_default=False, metavar="FILE")] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Allow plain HTTP on an address "
                        "that is not loopback.")] = False,
    test_reset: Annotated[bool, typer.Option("--test-reset", help="Test mode: no "
                          "authentication, POST /moto-api/reset empties the store; loopback "
                          "only.")] = False,
    access_log: Annotated[str | None, typer.Option("--access-log", help="Append the access log "
                          "(JSON lines) to FILE instead of standard error.", show_default=False,
                          metavar="FILE")] = None,
    repo: Annotated[str | None, typer.Option("--repo", help="The store (default: $GITSM_REPO, "
                    "else the enclosing repository).", show_default=False,
                    metavar="PATH")] = None,
) -> None:  # fmt: skip
    """Serve the AWS Secrets Manager API over the store until SIGTERM or SIGINT."""
    if ctx.invoked_subcommand is not None:
        return
    globals_: Globals = ctx.meta.get(META_KEY, Globals()).merged(Globals(repo=repo))

    def action() -> None:
        bind = _bind(host, port, unix, tls_cert, tls_key, insecure, test_reset)
        _run(store_path(globals_), bind, test_reset, access_log)

    guarded(action, operation="Serve", debug=bool(globals_.debug), secrets=Secrets())


def register(
    app: typer.Typer,
    command_cls: type[Any],
    fast: Callable[[Sequence[Any]], None],
    epilog: str,
) -> None:
    """Add ``gitsm serve`` (and its sub-commands) to ``app``."""
    serve_app.info.cls = group_class(fast)
    app.add_typer(serve_app, name="serve", short_help="Serve the AWS Secrets Manager API.")
