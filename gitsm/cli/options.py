"""Typer parameters built from data: the global options and each operation's aws CLI options.

Commands are plain functions whose ``__signature__`` lists ``Annotated[..., typer.Option(...)]``
parameters, so typer builds them like hand-written ones. Operation options are made from
:mod:`gitsm.cli.awsmodel` (the CLI's view of :mod:`gitsm.apimodel`), which is where their aws CLI
names come from.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from gitsm.cli.output import FORMATS
from gitsm.cli.params import BINARY_FORMATS

KW = inspect.Parameter.KEYWORD_ONLY

GLOBAL_HELP = {
    "repo": "The store: a git repository (checkout or bare). Default: $GITSM_REPO, else the git "
    "repository enclosing the current directory.",
    "region": "The store's region. A store serves one region, so any other value is an error; "
    "'gitsm init --region' sets it.",
    "output": f"The formatting style for command output: {' | '.join(FORMATS)} (default json).",
    "query": "A JMESPath query to use in filtering the response data.",
    "debug": "Show the traceback of an error.",
    "no_paginate": "Make one call only (list-secrets): no automatic pagination.",
    "cli_binary_format": f"How to read blob values given as text: {' | '.join(BINARY_FORMATS)} "
    "(default base64, as aws CLI v2).",
    "no_cli_pager": "Accepted for aws CLI compatibility; gitsm never pages its output.",
}

VALUE_NOTE = "Use file://PATH to read it from a file (file:///dev/stdin: standard input)."

MEMBER_HELP = {
    "SecretString": "The text to store as the new version's value. " + VALUE_NOTE,
    "SecretBinary": "The bytes to store as the new version's value: base64 text, or fileb://PATH "
    "for a file's raw bytes (fileb:///dev/stdin: standard input).",
    "ClientRequestToken": "The new version's VersionId (32-64 characters); a retry with the same "
    "token and value changes nothing. A UUID4 is generated when a value is given without it.",
    "KmsKeyId": "The key that encrypts new versions: an alias or key id of the store's key registry "
    "(.gitsm/config.yaml) or a key id a provider holds. Default: alias/aws/secretsmanager, a local "
    "key created on first use.",
    "Tags": "Tags as shorthand (Key=k,Value=v Key=k2,Value=v2) or JSON "
    '([{"Key":"k","Value":"v"}]).',
    "TagKeys": "The tag keys to remove (k1 k2, or a JSON list).",
    "VersionStages": "Staging labels for the new version (AWSCURRENT by default; L1 L2 or a JSON "
    "list).",
    "SecretIdList": "The names or ARNs of the secrets to read (id1 id2, or a JSON list).",
    "Filters": "Filters as shorthand (Key=name,Values=prod/ Key=tag-key,Values=team) or JSON.",
    "SortOrder": "asc or desc (default asc).",
    "SortBy": "created-date (default), last-changed-date, last-accessed-date or name.",
    "ExcludePunctuation": "Specifies whether to exclude punctuation characters "
    "(!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~) from the password.",
    "RotationToken": "Accepted for compatibility; gitsm has no rotation functions to check it.",
}


def option(
    name: str, decls: str, annotation: Any, help_text: str, *, hidden: bool = False, **extra: Any
) -> inspect.Parameter:
    """A keyword-only parameter declared as a typer option (default None: "not given")."""
    info = typer.Option(decls, help=help_text, hidden=hidden, show_default=False, **extra)
    return inspect.Parameter(name, KW, default=None, annotation=Annotated[annotation, info])


def context_parameter() -> inspect.Parameter:
    """The parameter through which typer passes the click context."""
    return inspect.Parameter("ctx", KW, annotation=typer.Context)


def global_parameters(*, hidden: bool) -> list[inspect.Parameter]:
    """The global options (visible on ``gitsm --help``, hidden on each command's help)."""
    h = GLOBAL_HELP
    return [
        option("g_repo", "--repo", str | None, h["repo"], hidden=hidden, metavar="PATH"),
        option("g_region", "--region", str | None, h["region"], hidden=hidden, metavar="REGION"),
        option("g_output", "--output", str | None, h["output"], hidden=hidden, metavar="FORMAT"),
        option("g_query", "--query", str | None, h["query"], hidden=hidden, metavar="JMESPATH"),
        option("g_debug", "--debug", bool | None, h["debug"], hidden=hidden),
        option("g_no_paginate", "--no-paginate", bool | None, h["no_paginate"], hidden=hidden),
        option(
            "g_cli_binary_format",
            "--cli-binary-format",
            str | None,
            h["cli_binary_format"],
            hidden=hidden,
            metavar="FORMAT",
        ),
        option("g_no_cli_pager", "--no-cli-pager", bool | None, h["no_cli_pager"], hidden=hidden),
    ]


def member_parameter(
    op: dict[str, Any], member: str, shape: Any, *, hidden: bool = False
) -> inspect.Parameter:
    """The aws CLI option of one input member (named ``m_<member>`` in the function)."""
    decls = op["options"][member]
    text = MEMBER_HELP.get(member) or op["docs"].get(member, "")
    if member in op["required"]:
        text += " (required)"
    if shape == "boolean":
        flags = f"{decls}/--no-{decls[2:]}"
        return option(f"m_{member}", flags, bool | None, text, hidden=hidden)
    if isinstance(shape, list):
        meta = "STRUCTURE..." if isinstance(shape[0], dict) else "TEXT..."
        return option(f"m_{member}", decls, list[str] | None, text, hidden=hidden, metavar=meta)
    meta = {"integer": "INTEGER", "long": "INTEGER", "blob": "BLOB"}.get(str(shape), "TEXT")
    if isinstance(shape, dict):
        meta = "STRUCTURE"
    elif str(shape).startswith("enum:"):
        meta = "[" + shape[len("enum:") :] + "]"
    return option(f"m_{member}", decls, str | None, text, hidden=hidden, metavar=meta)


def with_signature(func: Callable[..., Any], params: list[inspect.Parameter], doc: str) -> None:
    """Give ``func`` (which takes ``**kwargs``) the signature and help typer should see."""
    func.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    func.__doc__ = doc
