"""From read results to items: whole values, one JSON key, or every key, and their destinations.

Nothing here raises on a missing secret, key or value: every problem is collected (never with a
value), so that the caller can report them all in one error and write nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gitsm.errors import GitsmError
from gitsm.materialize.read import Request, Value, request_of
from gitsm.materialize.spec import DEFAULT_MODE, ENV_NAME, WILDCARD, Entry


@dataclass
class Item:
    """One value and where it goes. ``origin`` names the secret (and key), never the value."""

    value: bytes
    binary: bool
    env: str | None
    file: str | None
    mode: int
    origin: str
    where: str


def env_key(key: str) -> str:
    """A JSON key as part of an environment variable name: upper case, other characters -> _."""
    return re.sub(r"[^A-Za-z0-9_]", "_", key).upper()


def _file_key_problem(key: str) -> str | None:
    if key in ("", ".", "..") or "/" in key or "\0" in key:
        return "is not usable as a file name"
    return None


def _as_bytes(value: object) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _Builder:
    """Turns read results into items, collecting problems."""

    def __init__(
        self,
        results: dict[Request, Value | GitsmError],
        entries: Sequence[Entry],
        default_mode: int,
    ) -> None:
        self.results = results
        self.entries = entries
        self.users: dict[Request, list[str]] | None = None
        self.default_mode = default_mode
        self.items: list[Item] = []
        self.problems: list[str] = []
        self._json: dict[Request, dict[str, object] | str] = {}
        self._reported: set[Request] = set()

    def _users(self) -> dict[Request, list[str]]:
        """Where each request is named (for the errors: worked out at the first one)."""
        if self.users is None:
            self.users = {}
            for entry in self.entries:
                self.users.setdefault(request_of(entry), []).append(entry.where)
        return self.users

    def _object(self, request: Request, value: Value) -> dict[str, object] | str:
        """The JSON object of a SecretString, or the reason there is none."""
        if request not in self._json:
            parsed: dict[str, object] | str
            if value.kind != "string":
                parsed = "holds a SecretBinary, which has no JSON keys"
            else:
                try:
                    doc = json.loads(value.value.decode("utf-8"))
                except (
                    ValueError,
                    RecursionError,
                ):  # never echo the message: it may quote the value
                    doc = None
                parsed = doc if isinstance(doc, dict) else "is not a JSON object"
            self._json[request] = parsed
        return self._json[request]

    def add(self, entry: Entry) -> None:
        request = request_of(entry)
        result = self.results[request]
        if isinstance(result, GitsmError):
            if request not in self._reported:
                self._reported.add(request)
                secret = entry.ref.partition("#")[0]
                users = ", ".join(self._users()[request])
                self.problems.append(f"{secret} ({users}): {result.code}: {result.message}")
            return
        mode = entry.mode if entry.mode is not None else self.default_mode
        if entry.json_key is None and not entry.every_key:
            self._item(result.value, result.kind == "binary", entry.env, entry.file, mode,
                       entry.ref, entry.where)  # fmt: skip
            return
        doc = self._object(request, result)
        if isinstance(doc, str):
            self.problems.append(f"{entry.where}: {entry.ref}: the secret {doc}")
            return
        if entry.json_key is not None:
            if entry.json_key not in doc:
                self.problems.append(
                    f"{entry.where}: {entry.ref}: the JSON SecretString has no key "
                    f"{json.dumps(entry.json_key)}"
                )
                return
            self._item(_as_bytes(doc[entry.json_key]), False, entry.env, entry.file, mode,
                       entry.ref, entry.where)  # fmt: skip
            return
        if not doc:
            self.problems.append(f"{entry.where}: {entry.ref}: the JSON object has no keys")
        for key, value in doc.items():
            env = file = None
            origin = f"{entry.ref}#{key}"
            if entry.env is not None:
                env = entry.env.replace(WILDCARD, env_key(key))
                if not ENV_NAME.fullmatch(env):
                    self.problems.append(f"{entry.where}: {origin}: {env!r} is not a valid "
                                         "environment variable name")  # fmt: skip
                    continue
            if entry.file is not None:
                bad = _file_key_problem(key)
                if bad:
                    self.problems.append(f"{entry.where}: key {json.dumps(key)} of "
                                         f"{entry.ref} {bad}")  # fmt: skip
                    continue
                file = entry.file.replace(WILDCARD, key)
            self._item(_as_bytes(value), False, env, file, mode, origin, entry.where)

    def _item(self, value: bytes, binary: bool, env: str | None, file: str | None, mode: int,
              origin: str, where: str) -> None:  # fmt: skip
        self.items.append(Item(value, binary, env, file, mode, origin, where))

    def check_unique(self) -> None:
        for attr in ("env", "file"):
            seen: dict[str, str] = {}
            for item in self.items:
                dest = getattr(item, attr)
                if dest is None:
                    continue
                if dest in seen:
                    self.problems.append(
                        f"{item.where}: {attr} {dest} ({item.origin}) is also written by "
                        f"{seen[dest]}"
                    )
                seen.setdefault(dest, item.origin)


def build_items(
    results: dict[Request, Value | GitsmError],
    entries: Sequence[Entry],
    *,
    default_mode: int = DEFAULT_MODE,
) -> tuple[list[Item], list[str]]:
    """The items the entries make from the read results, and every problem met."""
    builder = _Builder(results, entries, default_mode)
    for entry in entries:
        builder.add(entry)
    builder.check_unique()
    return builder.items, builder.problems
