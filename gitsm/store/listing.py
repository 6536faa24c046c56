"""ListSecrets filters, sorting and NextToken pagination (pure functions).

Filter semantics follow the API reference and the user guide's "Find secrets": ``name``,
``tag-key``, ``tag-value``, ``primary-region`` and ``owning-service`` are case-sensitive prefix
matches (``primary-region`` of a secret's PrimaryRegion, which only a replicated secret has). ``description`` and ``all`` match words, case-insensitively: the value is split into words
(:func:`words`: at every change from lower to upper case, between letters and digits, and at
punctuation and spaces), and every word must be the start of a word of one attribute (the
description; for ``all`` the name, the description, a tag key, a tag value or the region: "both
words in the same field", as AWS's announcement of the search puts it). A value starting with ``!``
negates. Values of one filter are OR-ed (negated values must all hold); filters are AND-ed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol, TypeVar

from gitsm.errors import (
    InvalidNextTokenException,
    InvalidParameterException,
    ValidationException,
)
from gitsm.model import Secret

T = TypeVar("T")
FILTER_KEYS = [
    "description",
    "name",
    "tag-key",
    "tag-value",
    "primary-region",
    "owning-service",
    "all",
]
SORT_BY = {"created-date", "last-accessed-date", "last-changed-date", "name"}
_VALUE_RE = re.compile(r"!?[a-zA-Z0-9 :_@/+=.\-!]*")

Filters = list[tuple[str, list[str]]]


def validate_filters(filters: object) -> Filters:
    """Check a Filters list and return (key, values) pairs."""
    if filters is None:
        return []
    if not isinstance(filters, list) or len(filters) > 10:
        raise InvalidParameterException("Filters must be a list of at most 10 filters.")
    out: Filters = []
    for i, f in enumerate(filters, 1):
        key = f.get("Key") if isinstance(f, dict) else None
        if key is None:  # not an enum violation: the model does not require Key
            raise InvalidParameterException("Invalid filter key")
        if key not in FILTER_KEYS:
            shown = f"'{key}'"
            raise ValidationException(
                f"1 validation error detected: Value {shown} at 'filters.{i}.member.key' failed "
                f"to satisfy constraint: Member must satisfy enum value set: [{', '.join(FILTER_KEYS)}]"
            )
        values = f.get("Values")
        if values is None:  # the model does not require Values either
            raise InvalidParameterException(f"Invalid filter values for key: {key}")
        if not isinstance(values, list) or not 1 <= len(values) <= 10:
            raise InvalidParameterException(f"Filter {key} must have 1-10 values.")
        for v in values:
            if not isinstance(v, str) or len(v) > 512 or not _VALUE_RE.fullmatch(v):
                raise InvalidParameterException(
                    f"Invalid filter value for {key}: values are at most 512 characters of "
                    "letters, digits, spaces and :_@/+=.-! (a leading ! negates)."
                )
        out.append((str(key), [str(v) for v in values]))
    return out


_WORD_RUN = re.compile(r"[^\W_]+")  # letters and digits (punctuation, spaces and _ separate words)


def words(text: str) -> list[str]:
    """``text`` split into lower-case words as AWS's search does: at punctuation and spaces, between
    letters and digits, and where lower case turns to upper case (``credsDatabase#892`` gives
    creds, database, 892; ``AppBeta`` app, beta; an upper-case run before a capitalised word, as
    in ``HTTPServer``, gives http, server)."""
    out: list[str] = []
    for run in _WORD_RUN.findall(text):
        start = 0
        for i in range(1, len(run)):
            prev, ch = run[i - 1], run[i]
            nxt = run[i + 1] if i + 1 < len(run) else ""
            if (
                prev.isdigit() != ch.isdigit()
                or (prev.islower() and ch.isupper())
                or (prev.isupper() and ch.isupper() and nxt.islower())
            ):
                out.append(run[start:i].lower())
                start = i
        out.append(run[start:].lower())
    return out


class Searched(Protocol):
    """What filters look at: a Secret, or the listing index's summary of one."""

    @property
    def name(self) -> str:
        """The secret's name."""

    @property
    def description(self) -> str | None:
        """Its description."""

    @property
    def tags(self) -> list[tuple[str, str]] | None:
        """Its tags."""

    @property
    def primary_region(self) -> str | None:
        """Its PrimaryRegion (None unless it is replicated)."""


def _attributes(secret: Searched, key: str, region: str) -> list[str]:
    """The strings a filter key looks at."""
    tags = secret.tags or []
    if key == "name":
        return [secret.name]
    if key == "description":
        return [secret.description] if secret.description is not None else []
    if key == "tag-key":
        return [k for k, _ in tags]
    if key == "tag-value":
        return [v for _, v in tags]
    if key == "primary-region":
        return [] if secret.primary_region is None else [secret.primary_region]
    if key == "owning-service":
        return []
    texts = [secret.name, *([secret.description] if secret.description else []), region]
    return texts + [k for k, _ in tags] + [v for _, v in tags]


Value = tuple[str, list[str] | None]
"""A filter value ready to match: the value, and for word filters its words."""
Compiled = list[tuple[str, list[Value], list[Value]]]
"""Filters ready to match: (key, positive values, negated values) each."""


def compile_filters(filters: Filters) -> Compiled:
    """``filters`` split into positive and negated values, word filters' words found once."""
    out: Compiled = []
    for key, values in filters:
        sides: tuple[list[Value], list[Value]] = ([], [])
        for v in values:
            value = v[1:] if v.startswith("!") else v
            wanted = words(value) if key in ("description", "all") else None
            sides[v.startswith("!")].append((value, wanted))
        out.append((key, *sides))
    return out


def _value_matches(secret: Searched, key: str, value: Value, region: str) -> bool:
    attrs = _attributes(secret, key, region)
    text, wanted = value
    if wanted is not None:  # description, all: words
        if not wanted:  # "+" alone: no word to look for, so nothing matches
            return False
        return any(
            all(any(w.startswith(x) for w in have) for x in wanted)
            for have in (words(a) for a in attrs)
        )
    return any(a.startswith(text) for a in attrs)


def matches(secret: Searched, filters: Filters, region: str) -> bool:
    """True when ``secret`` passes every filter."""
    return matches_compiled(secret, compile_filters(filters), region)


def matches_compiled(secret: Searched, filters: Compiled, region: str) -> bool:
    """:func:`matches` with filters compiled once (:func:`compile_filters`), for many secrets."""
    for key, positive, negative in filters:
        if positive and not any(_value_matches(secret, key, v, region) for v in positive):
            return False
        if any(_value_matches(secret, key, v, region) for v in negative):
            return False
    return True


@dataclass(frozen=True)
class Selection:
    """Which secrets a listing shows: those its filters match (with the handle's region), and
    those pending deletion only when ``deleted``."""

    filters: Filters
    region: str
    deleted: bool = False

    @cached_property
    def compiled(self) -> Compiled:
        """The filters compiled once (:func:`compile_filters`)."""
        return compile_filters(self.filters)

    def selects(self, secret: Searched, deleted: bool) -> bool:
        """True when the selection shows ``secret`` (``deleted``: it is pending deletion)."""
        return (self.deleted or not deleted) and matches_compiled(
            secret, self.compiled, self.region
        )

    def __call__(self, secret: Secret) -> bool:
        return self.selects(secret, secret.deleted_date is not None)


def check_sort(sort_by: object, sort_order: object) -> tuple[str, bool]:
    """SortBy (default created-date) and SortOrder (default asc) checked: (SortBy, descending)."""
    sort_by = sort_by or "created-date"
    sort_order = sort_order or "asc"
    if sort_by not in SORT_BY:
        raise ValidationException(
            f"1 validation error detected: Value '{sort_by}' at 'sortBy' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(sorted(SORT_BY))}]"
        )
    if sort_order not in ("asc", "desc"):
        raise ValidationException(
            f"1 validation error detected: Value '{sort_order}' at 'sortOrder' failed to satisfy "
            "constraint: Member must satisfy enum value set: [asc, desc]"
        )
    return str(sort_by), sort_order == "desc"


def sort_secrets(secrets: list[Secret], sort_by: object, sort_order: object) -> list[Secret]:
    """Order by SortBy (default created-date) and SortOrder (default asc); ties by name.
    last-accessed-date sorts as created-date (gitsm records no access)."""
    by, desc = check_sort(sort_by, sort_order)

    def key(s: Secret) -> tuple[Any, str]:
        when: datetime = s.last_changed if by == "last-changed-date" else s.created
        return (s.name if by == "name" else when, s.name)

    return sorted(secrets, key=key, reverse=desc)


def check_max_results(max_results: object, upper: int = 100) -> int | None:
    """Check MaxResults (1..upper) and return it."""
    if max_results is None:
        return None
    if not isinstance(max_results, int) or isinstance(max_results, bool):
        raise InvalidParameterException(f"MaxResults must be an integer from 1 to {upper}.")
    if not 1 <= max_results <= upper:
        raise InvalidParameterException(f"MaxResults must be from 1 to {upper}.")
    return max_results


def fingerprint(*parts: object) -> str:
    """A short digest of the query a NextToken belongs to."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def paginate(
    items: Sequence[T], max_results: int | None, next_token: object, query: str
) -> tuple[list[T], str | None]:
    """One page of ``items`` and the NextToken of the next page (None at the end)."""
    return paginate_first(lambda n: list(items[:n]), max_results, next_token, query)


def paginate_first(
    first: Callable[[int], list[T]], max_results: int | None, next_token: object, query: str
) -> tuple[list[T], str | None]:
    """Like :func:`paginate`, taking the items from ``first(n)``, the first ``n`` of them (fewer
    at the end): a page at offset ``o`` asks for ``o + size + 1``, never for all of them."""
    offset = 0
    if next_token is not None:
        try:
            doc = json.loads(base64.urlsafe_b64decode(str(next_token).encode()))
            offset, token_query = int(doc["o"]), str(doc["q"])
        except (ValueError, KeyError, TypeError):
            raise InvalidNextTokenException("The NextToken value is not valid.") from None
        if token_query != query or offset < 0:
            raise InvalidNextTokenException(
                "The NextToken value does not belong to this query. Repeat the same parameters."
            )
    size = max_results or 100
    items = first(offset + size + 1)
    page = items[offset : offset + size]
    if offset + size >= len(items):
        return page, None
    token = json.dumps({"o": offset + size, "q": query}).encode()
    return page, base64.urlsafe_b64encode(token).decode()
