"""One command per AWS Secrets Manager operation, made from :mod:`gitsm.cli.awsmodel` (a view of
:mod:`gitsm.apimodel`).

Each command gathers its parameters (``--cli-input-json``/``--cli-input-yaml`` first, options on
the command line over them), checks the required ones, generates the ClientRequestToken when a value
comes without one, calls the boto3-shaped client and prints the response. ``--generate-cli-skeleton``
prints a sample input (or, with ``output``, a sample response) without touching the store.
ListSecrets pages through every result unless told otherwise, as the aws CLI does.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gitsm import apimodel
from gitsm.cli import output, params
from gitsm.cli.awsmodel import OPERATIONS
from gitsm.cli.context import META_KEY, Globals, globals_from, open_client
from gitsm.cli.errors import Landed, ParamError, Secrets, UsageFailure, run_guarded
from gitsm.model import random_uuid

if TYPE_CHECKING:
    import inspect

SKELETON_CHOICES = ("input", "yaml-input", "output")
VALUE_MEMBERS = ("SecretString", "SecretBinary")
LANDED_IDS = ("ARN", "Name", "VersionId", "DeletionDate")
PAGING = ("StartingToken", "PageSize", "MaxItems")
OPERATION_HELP = {
    "ListSecrets": "Lists the secrets in the store, not including secrets that are marked for "
    "deletion.",
    "PutSecretValue": "Creates a new version of a secret with a new encrypted value.",
    "GetSecretValue": "Retrieves the SecretString or SecretBinary of a version of a secret "
    "(AWSCURRENT unless --version-id or --version-stage says otherwise).",
}


def operation_help(name: str) -> str:
    """The one-line help of operation ``name``."""
    return OPERATION_HELP.get(name) or str(OPERATIONS[name]["doc"])


def _extra_parameters(op: dict[str, Any]) -> list[inspect.Parameter]:
    from gitsm.cli import options  # typer: only the typer-made commands need it

    out = [
        options.option("x_cli_input_json", "--cli-input-json", str | None,
                       "Read the parameters from this JSON (API member names, as printed by "
                       "--generate-cli-skeleton); options on the command line override it. "
                       "Accepts file://PATH.", metavar="JSON"),
        options.option("x_cli_input_yaml", "--cli-input-yaml", str | None,
                       "Like --cli-input-json, in YAML.", metavar="YAML"),
        options.option("x_generate_cli_skeleton", "--generate-cli-skeleton", str | None,
                       "Print a sample of the parameters (input, the default; yaml-input) or of "
                       "the response (output), without running the operation.",
                       metavar="[input|yaml-input|output]"),
    ]  # fmt: skip
    if op["paginator"]:
        out += [
            options.option("p_StartingToken", "--starting-token", str | None,
                           "Resume from the NextToken a truncated output printed.", metavar="TEXT"),
            options.option("p_PageSize", "--page-size", str | None,
                           "Items per call; does not change what is printed.", metavar="INTEGER"),
            options.option("p_MaxItems", "--max-items", str | None,
                           "Print at most this many items, and a NextToken to resume from.",
                           metavar="INTEGER"),
        ]  # fmt: skip
    return out


def make_command(name: str) -> Callable[..., None]:
    """The typer command function of operation ``name`` (e.g. ``UpdateSecret``)."""
    from gitsm.cli import options  # typer: the lean path (gitsm.cli.lean) runs without it

    op = OPERATIONS[name]
    paged = op["paginator"]
    hidden = {paged["input_token"], paged["limit_key"]} if paged else set()

    def command(**values: Any) -> None:
        run(name, values)

    members = [
        options.member_parameter(op, member, shape, hidden=member in hidden)
        for member, shape in op["members"].items()
    ]
    signature = [
        options.context_parameter(),
        *members,
        *_extra_parameters(op),
        *options.global_parameters(hidden=True),
    ]
    options.with_signature(command, signature, operation_help(name))
    return command


def run(name: str, values: dict[str, Any]) -> None:
    """Run operation ``name`` with the options typer parsed; exit with the aws CLI's exit codes."""
    ctx = values.pop("ctx")
    code = run_parsed(name, values, ctx.meta.get(META_KEY, Globals()))
    if code:
        import typer

        raise typer.Exit(code)


def run_parsed(name: str, values: dict[str, Any], before: Globals) -> int:
    """Run operation ``name`` with its parsed options (``m_<Member>``, ``g_<global>``, ``x_...``
    and ``p_...``: str, bool or list of str; absent means not given) and the global options given
    before the command; return the exit code. Needs no typer."""
    globals_ = before.merged(globals_from(values))
    secrets = Secrets()
    return run_guarded(
        lambda: _run(name, values, globals_, secrets),
        operation=name, debug=bool(globals_.debug), secrets=secrets,
    )  # fmt: skip


def _run(name: str, values: dict[str, Any], globals_: Globals, secrets: Secrets) -> None:
    op = OPERATIONS[name]
    output.check_format(globals_.output or "json")
    output.compile_query(globals_.query)  # before anything runs: a bad --query changes nothing
    binary_format = globals_.binary_format
    for member in VALUE_MEMBERS:
        raw = values.get(f"m_{member}")
        if raw is not None and not raw.startswith(("file://", "fileb://")):
            secrets.add(raw)
    skeleton = values.get("x_generate_cli_skeleton")
    if skeleton is not None and skeleton not in SKELETON_CHOICES:
        raise UsageFailure(
            "argument --generate-cli-skeleton: Invalid choice, valid choices are:\n\n"
            + " | ".join(SKELETON_CHOICES)
        )
    if skeleton in ("input", "yaml-input"):
        sys.stdout.write(_input_skeleton(op, yaml=skeleton == "yaml-input"))
        return
    api = _parameters(op, values, binary_format, secrets)
    missing = [op["options"][m] for m in op["required"] if m not in api]
    if missing:
        raise UsageFailure(f"the following arguments are required: {', '.join(missing)}")
    for token in op["idempotency_token"]:  # ClientRequestToken, as the model marks it
        if token not in api and any(m in api for m in VALUE_MEMBERS):
            api[token] = random_uuid()  # as the aws CLI does for an idempotency token
    paging = _paging(op, values, api, globals_)
    if skeleton == "output":
        response: dict[str, Any] = op["output_skeleton"]
    else:
        method = getattr(_client(name, globals_), _snake(name))
        response = _paginate(method, api, op, paging) if paging is not None else method(**api)
        _remember_values(response, secrets)
    landed = _landed(name, api, response) if skeleton is None and name in apimodel.WRITES else None
    output.emit(response, globals_, name, landed=landed)


def _landed(name: str, api: dict[str, Any], response: dict[str, Any]) -> Landed:
    """What write ``name`` changed: the response's identifiers (the SecretId when it has none)."""
    shown = output.plain(response)
    ids = {k: shown[k] for k in LANDED_IDS if isinstance(shown.get(k), str)}
    if not ids:
        ids = {"SecretId": api.get("SecretId")}
    secret = ids.get("ARN") or ids.get("SecretId")
    return Landed(name, ids, see=f"gitsm describe-secret --secret-id {secret}" if secret else None)


def _remember_values(response: dict[str, Any], secrets: Secrets) -> None:
    """Add the values a response carries to ``secrets`` (masked in every error line, a last
    guard): SecretString (and each value of a JSON one), SecretBinary (raw and base64), and
    GetRandomPassword's RandomPassword."""
    entries = [response, *response.get("SecretValues", [])]
    for entry in entries:
        text = entry.get("SecretString")
        if isinstance(text, str):
            secrets.add(text)
            with contextlib.suppress(ValueError):
                secrets.add(json.loads(text))
        blob = entry.get("SecretBinary")
        if isinstance(blob, bytes | bytearray):
            secrets.add(bytes(blob))
            secrets.add(base64.b64encode(bytes(blob)).decode("ascii"))
    secrets.add(response.get("RandomPassword"))


def _client(name: str, globals_: Globals) -> Any:
    """The client for ``name``; GetRandomPassword reads no store, so it needs none."""
    if name == "GetRandomPassword":
        from gitsm.awsclient import SecretsManagerClient

        return SecretsManagerClient(store=None)  # type: ignore[arg-type]
    return open_client(globals_)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _parameters(
    op: dict[str, Any], values: dict[str, Any], binary_format: str, secrets: Secrets
) -> dict[str, Any]:
    api: dict[str, Any] = {}
    for option in ("--cli-input-json", "--cli-input-yaml"):
        raw = values.get("x_" + option[2:].replace("-", "_"))
        if raw is not None:
            doc = params.load_input_document(raw, option)
            secrets.add_all(doc.get(m) for m in VALUE_MEMBERS)
            api.update(params.from_document(doc, op["members"], option, binary_format))
    for member, shape in op["members"].items():
        raw = values.get(f"m_{member}")
        if raw is None:
            continue
        api[member] = params.convert(raw, shape, op["options"][member], binary_format)
        if member in VALUE_MEMBERS:
            secrets.add(api[member])
    return api


def _int_option(raw: str | None, option: str) -> int | None:
    if raw is None:
        return None
    value = params.coerce(raw, "integer", option)
    assert isinstance(value, int)
    return value


def _paging(
    op: dict[str, Any], values: dict[str, Any], api: dict[str, Any], globals_: Globals
) -> dict[str, Any] | None:
    """Automatic pagination settings, or None for a single call (aws CLI v2's rules)."""
    config = op["paginator"]
    if not config:
        return None
    given = {p: values.get(f"p_{p}") for p in PAGING if values.get(f"p_{p}") is not None}
    manual = config["input_token"] in api or config["limit_key"] in api
    if globals_.no_paginate or manual:
        if given and globals_.no_paginate:
            names = ", ".join("--" + _snake(p).replace("_", "-") for p in given)
            raise UsageFailure(
                f"Cannot specify --no-paginate along with pagination arguments: {names}"
            )
        return None
    return {
        "token": given.get("StartingToken"),
        "page_size": _int_option(given.get("PageSize"), "--page-size"),
        "max_items": _int_option(given.get("MaxItems"), "--max-items"),
    }


def _encode_token(token: str | None, skip: int) -> str:
    doc: dict[str, Any] = {"NextToken": token}
    if skip:
        doc["boto_truncate_amount"] = skip
    return base64.b64encode(json.dumps(doc).encode()).decode()


def _decode_token(raw: str | None) -> tuple[str | None, int]:
    if raw is None:
        return None, 0
    try:
        doc = json.loads(base64.b64decode(raw, validate=True))
        return doc.get("NextToken"), int(doc.get("boto_truncate_amount", 0))
    except (ValueError, TypeError, AttributeError):
        raise ParamError("--starting-token", "not a token that gitsm printed") from None


def _paginate(
    method: Callable[..., dict[str, Any]],
    api: dict[str, Any],
    op: dict[str, Any],
    paging: dict[str, Any],
) -> dict[str, Any]:
    """Call until every page is read (or --max-items are printed) and merge the pages."""
    config = op["paginator"]
    key, in_token, out_token = config["result_key"], config["input_token"], config["output_token"]
    token, skip = _decode_token(paging["token"])
    max_items: int | None = paging["max_items"]
    items: list[Any] = []
    while True:
        call = dict(api)
        if paging["page_size"] is not None:
            call[config["limit_key"]] = paging["page_size"]
        if token is not None:
            call[in_token] = token
        page = method(**call)
        rows = page.get(key, [])
        start = min(skip, len(rows))  # a smaller --page-size than before spreads the skip
        skip -= start
        for index in range(start, len(rows)):
            if max_items is not None and len(items) >= max_items:
                return {key: items, "NextToken": _encode_token(token, index)}
            items.append(rows[index])
        token = page.get(out_token)
        if not token:
            return {key: items}
        if max_items is not None and len(items) >= max_items:
            return {key: items, "NextToken": _encode_token(token, 0)}


def _input_skeleton(op: dict[str, Any], *, yaml: bool) -> str:
    data = {member: params.skeleton(shape) for member, shape in op["members"].items()}
    if yaml:
        import yaml as pyyaml

        dumped: str = pyyaml.safe_dump(data, sort_keys=False, default_flow_style=False)
        return dumped
    return json.dumps(data, indent=4) + "\n"
