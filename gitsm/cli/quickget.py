"""The quick path of ``gitsm get-secret-value`` in a fresh process (:mod:`gitsm.quickread`).

A plain command line (``get-secret-value --secret-id ID`` with ``--version-id``,
``--version-stage``, ``--repo``, ``--output json|text`` and a ``--query`` that names one field of
the answer, the last three also before the command, each at most once, no value empty, starting
with ``-`` or naming a file) whose read succeeds is answered here, with the output the full
command prints. Anything else returns None before anything is printed, and the full command runs:
every error, and every case :mod:`gitsm.quickread` leaves to it. ``GITSM_QUICK_READ=0`` turns
the quick path off.
"""

from __future__ import annotations

import os
import sys
from _json import encode_basestring as _quote  # what json.dumps(ensure_ascii=False) writes
from binascii import b2a_base64

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

SWITCH = "GITSM_QUICK_READ"
COMMAND = "get-secret-value"
_OPTIONS = {"--secret-id": "SecretId", "--version-id": "VersionId",
            "--version-stage": "VersionStage", "--repo": "repo", "--output": "output",
            "--query": "query"}  # fmt: skip
_GLOBALS = ("--repo", "--output", "--query")
"""Options that may also come before the command (as with the aws CLI)."""
_FIELDS = ("ARN", "Name", "VersionId", "SecretString", "SecretBinary", "VersionStages",
           "CreatedDate")  # fmt: skip


def parse(args: Sequence[str]) -> dict[str, str] | None:
    """The options of a plain get-secret-value command line; None for anything else."""
    words = list(args)
    if COMMAND not in words:
        return None
    at = words.index(COMMAND)
    before, rest = words[:at], words[at + 1 :]
    if before[-1:] == ["secretsmanager"]:
        before.pop()
    if len(before) % 2 or len(rest) % 2 or any(o not in _GLOBALS for o in before[::2]):
        return None
    given: dict[str, str] = {}
    for option, value in zip(before[::2] + rest[::2], before[1::2] + rest[1::2], strict=True):
        key = _OPTIONS.get(option)
        if key is None or key in given or not value or value.startswith("-"):
            return None
        if value.lower().startswith(("file:", "fileb:", "http:", "https:")):
            return None
        given[key] = value
    if "SecretId" not in given or given.get("output", "json") not in ("json", "text"):
        return None
    if given.get("query", "ARN") not in _FIELDS:
        return None
    return given


def _json(value: object, indent: str = "") -> str:
    """``json.dumps(value, indent=4, ensure_ascii=False)`` for strings, lists of strings and a
    mapping of them (the shapes of this answer)."""
    inner = indent + "    "
    if isinstance(value, str):
        return str(_quote(value))
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(inner + _json(v, inner) for v in value) + "\n" + indent + "]"
    assert isinstance(value, dict)
    items = [f"{inner}{_quote(k)}: {_json(v, inner)}" for k, v in value.items()]
    return "{\n" + ",\n".join(items) + "\n" + indent + "}"


def _text(value: object) -> str:
    """aws CLI's text output of this answer (:func:`gitsm.cli.output._text`)."""
    if isinstance(value, str):
        return value + "\n"
    if isinstance(value, list):
        return "\t".join(value) + "\n" if value else ""
    assert isinstance(value, dict)
    scalars = [v for _, v in sorted(value.items()) if isinstance(v, str)]
    lines = ["\t".join(scalars)] if scalars else []
    for key, item in sorted(value.items()):
        if isinstance(item, list):
            lines += [f"{key.upper()}\t{e}" for e in item]
    return "".join(line + "\n" for line in lines)


def render(answer: dict[str, object], output: str, query: str | None) -> str | None:
    """The text the full command prints for ``answer``; None when it is not one this module
    writes (a query naming a field the answer does not have)."""
    data: object = {
        k: b2a_base64(v, newline=False).decode("ascii") if isinstance(v, bytes) else v
        for k, v in answer.items()
    }
    if query is not None:
        assert isinstance(data, dict)
        if query not in data:
            return None
        data = data[query]
    return _text(data) if output == "text" else _json(data) + "\n"


def quick(args: Sequence[str]) -> int | None:
    """Answer ``args`` when it is a plain get-secret-value that reads without doubt; the exit
    code, or None when nothing was printed and the full command must run."""
    if os.environ.get(SWITCH, "1") == "0" or "_GITSM_COMPLETE" in os.environ:
        return None
    given = parse(args)
    if given is None:
        return None
    from gitsm.cli.locate import find_store
    from gitsm.quickread import get_secret_value

    try:
        store = find_store(given.get("repo"))
        if store is None:
            return None
        answer = get_secret_value(
            store, given["SecretId"], given.get("VersionId"), given.get("VersionStage")
        )
        text = render(answer, given.get("output", "json"), given.get("query"))
        if text is None:
            return None
        text.encode(sys.stdout.encoding or "utf-8", sys.stdout.errors or "strict")
    except Exception:  # any doubt, any surprise: the full command decides, nothing was printed
        return None
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except Exception as exc:  # as the full command reports a failure to print its answer
        return _report(exc, answer)
    return 0


def _report(exc: BaseException, answer: dict[str, object]) -> int:
    from gitsm.cli.errors import Secrets, run_guarded

    secrets = Secrets()
    secrets.add(answer.get("SecretString") or answer.get("SecretBinary"))

    def fail() -> None:
        raise exc

    return run_guarded(fail, operation="GetSecretValue", debug=False, secrets=secrets)
