"""The listing index's file: every secret of one tree, in a form that loads without YAML.

A :class:`ListIndex` holds, for one tree, each secret exactly as its manifest parses (every field
of :class:`~gitsm.model.Secret`, so a listing answers from it what it answers from the manifests)
and its orders: by name, by created date and by last-changed date (ties by name). The file:

* a header line: ``gitsm-list-index <FORMAT> <tree id> <count> <sha1 of the tables> <sha1 of
  the columns> <bytes of the tables> <bytes of the columns>``;
* the tables, unsigned 32-bit little-endian integers: the created order and the last-changed
  order (positions in the name order), then where each record starts (and where the last ends);
* the columns, one JSON array: the names (sorted), the created and the last-changed dates
  (microseconds since the epoch), and what filters look at (description, tags, pending
  deletion, the PrimaryRegion of a replicated secret): a filtered listing selects from them, decoding only the records it selects, and an
  update from another tree's index starts from them;
* the records in name order, each a JSON array (:func:`encode`), a tab, its CRC-32 in hex and a
  newline.

A file whose format, tree, sizes or checksums do not match is damaged or stale and is never used;
the columns are checked against their checksum when first used, a record against its CRC when
it is read. The file is read piece by piece (:class:`FileSource`): loading reads the header and
the tables and costs their checksum; a record is read and decoded only when a listing reaches it,
so the first page of a listing costs about its own records, not the store's size.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import weakref
import zlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any, Protocol

from gitsm.model import Rotation, Secret, VersionInfo

FORMAT = 2
"""Bump when the file layout or what a manifest parses to changes: older files are then rebuilt."""
MAGIC = b"gitsm-list-index"
SECRET_FIELDS = ("name", "arn", "created", "last_changed", "description", "kms_key_id",
                 "resource_policy", "tags", "deleted_date", "deletion_date", "versions",
                 "rotation", "replicas")  # fmt: skip
"""The fields of Secret a record holds, in record order (a test checks it against the model)."""
VERSION_FIELDS = ("version_id", "created", "kind", "kms_key_ids", "stages")
ROTATION_FIELDS = ("enabled", "lambda_arn", "after_days", "schedule", "duration", "last_rotated",
                   "next_rotation", "token")  # fmt: skip
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def micros(value: datetime) -> int:
    """A timezone-aware time as microseconds since the epoch: it sorts as the datetimes do."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def encode(s: Secret) -> bytes:
    """One secret as a JSON array of :data:`SECRET_FIELDS` (times in ISO 8601 with their offset,
    so they decode to equal datetimes in the same zone)."""
    rotation = None
    if s.rotation is not None:
        r = s.rotation
        rotation = [r.enabled, r.lambda_arn, r.after_days, r.schedule, r.duration,
                    _when(r.last_rotated), _when(r.next_rotation), r.token]  # fmt: skip
    versions = [[v.version_id, _when(v.created), v.kind, v.kms_key_ids, v.stages]
                for v in s.versions.values()]  # fmt: skip
    record = [s.name, s.arn, _when(s.created), _when(s.last_changed), s.description,
              s.kms_key_id, s.resource_policy, None if s.tags is None else [list(t) for t in s.tags],
              _when(s.deleted_date), _when(s.deletion_date), versions, rotation,
              s.replicas]  # fmt: skip
    return json.dumps(record, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def decode(line: bytes) -> Secret:
    """The Secret of one record (ValueError, TypeError or KeyError when it is not one)."""
    (name, arn, created, changed, description, kms_key_id, policy, tags, deleted, deletion,
     versions, rotation, replicas) = json.loads(line)  # fmt: skip
    out = Secret(
        name=name, arn=arn, created=_parse_time(created), last_changed=_parse_time(changed),
        description=description, kms_key_id=kms_key_id, resource_policy=policy,
        tags=None if tags is None else [(k, v) for k, v in tags],
        deleted_date=_parse_when(deleted), deletion_date=_parse_when(deletion),
        versions={vid: VersionInfo(vid, _parse_time(when), kind, list(keys), list(stages))
                  for vid, when, kind, keys, stages in versions},
        replicas=[str(region) for region in replicas],
    )  # fmt: skip
    if rotation is not None:
        enabled, arn_, days, schedule, duration, last, nxt, token = rotation
        out.rotation = Rotation(enabled, arn_, days, schedule, duration, _parse_when(last),
                                _parse_when(nxt), token)  # fmt: skip
    return out


@dataclass(frozen=True, slots=True)
class Summary:
    """What filters look at of one secret (:class:`gitsm.store.listing.Searched`)."""

    name: str
    description: str | None
    tags: list[tuple[str, str]] | None
    primary_region: str | None


def search_entry(s: Secret) -> list[Any]:
    """A secret's entry of the search column: description, tags, pending deletion, and the
    PrimaryRegion of a replicated secret."""
    tags = None if s.tags is None else [list(t) for t in s.tags]
    return [s.description, tags, s.deleted_date is not None, s.primary_region]


_U32 = "I" if array("I").itemsize == 4 else "L"  # 4-byte unsigned integers


def _u32(values: Iterable[int]) -> bytes:
    table = array(_U32, values)
    if sys.byteorder == "big":
        table.byteswap()
    return table.tobytes()


def _table(data: bytes) -> array[int]:
    table = array(_U32)
    table.frombytes(data)
    if sys.byteorder == "big":
        table.byteswap()
    return table


def stored(line: bytes) -> bytes:
    """A record as the file stores it: followed by a tab, its CRC-32 in hex and a newline."""
    return line + b"\t%08x\n" % zlib.crc32(line)


class Source(Protocol):
    """The bytes of an index file: in memory, or read from the file as they are needed."""

    def __getitem__(self, at: slice, /) -> bytes: ...

    def __len__(self) -> int: ...

    def find(self, sub: bytes, start: int, end: int, /) -> int: ...


class FileSource:
    """An index file read piece by piece (``os.pread``), so that loading an index reads its
    header and tables and a listing only the records it reaches. A piece the file no longer
    holds in full (it was truncated) raises ValueError, a damaged index's error."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        weakref.finalize(self, os.close, self._fd)
        self._size = os.fstat(self._fd).st_size

    def __getitem__(self, at: slice, /) -> bytes:
        start, stop, _ = at.indices(self._size)
        data = os.pread(self._fd, max(stop - start, 0), start)
        if len(data) != max(stop - start, 0):
            raise ValueError("the listing index file was cut short")
        return data

    def __len__(self) -> int:
        return self._size

    def find(self, sub: bytes, start: int, end: int, /) -> int:
        found = self[start:end].find(sub)
        return found if found < 0 else start + found


class ListIndex:
    """Every secret of one tree (see the module docstring); records decode on first use."""

    def __init__(
        self, tree: str, count: int, data: Source | bytes, sections: tuple[int, int, int],
        columns_sha1: bytes, secrets: dict[int, Secret] | None = None,
    ) -> None:  # fmt: skip
        self.tree, self.count, self._data = tree, count, data
        self._tables_at, self._columns_at, self._records_at = sections
        self._columns_sha1 = columns_sha1
        self._orders: dict[str, array[int]] = {}
        self._offsets = self._slice(2)
        self._decoded: dict[int, Secret] = secrets or {}
        self._column_cache: list[Any] | None = None

    def _slice(self, n: int) -> array[int]:
        start = self._tables_at + 4 * self.count * n
        return _table(self._data[start : start + 4 * self.count + (4 if n == 2 else 0)])

    def order(self, sort_by: str) -> Sequence[int]:
        """Positions of the records in ascending order of ``sort_by`` (a ListSecrets SortBy
        value; last-accessed-date sorts as created-date does), ties by name."""
        if sort_by == "name":
            return range(self.count)
        which = "changed" if sort_by == "last-changed-date" else "created"
        if which not in self._orders:
            self._orders[which] = self._slice(1 if which == "changed" else 0)
        return self._orders[which]

    def record(self, position: int) -> bytes:
        """The JSON record at ``position`` of the name order (ValueError when it is damaged)."""
        start, end = (self._records_at + self._offsets[i] for i in (position, position + 1))
        chunk = self._data[start:end]
        line, crc = chunk[:-10], chunk[-9:-1]
        if len(chunk) < 11 or b"%08x" % zlib.crc32(line) != crc:
            raise ValueError("a record of the listing index is damaged")
        return line

    def secret(self, position: int) -> Secret:
        """The secret at ``position`` of the name order (shared: callers must not change it)."""
        found = self._decoded.get(position)
        if found is None:
            found = self._decoded[position] = decode(self.record(position))
        return found

    def _column_doc(self) -> list[Any]:
        """The columns, checked against their checksum and shape (ValueError when damaged)."""
        if self._column_cache is None:
            columns = self._data[self._columns_at : self._records_at]
            if _sha1(columns) != self._columns_sha1:
                raise ValueError("the columns of the listing index are damaged")
            doc = json.loads(columns)
            kinds = (str, int, int, list)
            if not isinstance(doc, list) or len(doc) != len(kinds):
                raise ValueError("the columns of the listing index are damaged")
            for column, kind in zip(doc, kinds, strict=True):
                if len(column) != self.count or not set(map(type, column)) <= {kind}:
                    raise ValueError("a column of the listing index is damaged")
            self._column_cache = doc
        return self._column_cache

    def summaries(self) -> list[tuple[Summary, bool]]:
        """What filters look at of every secret, and whether it is pending deletion, in name
        order (ValueError when the columns are damaged)."""
        names, _, _, search = self._column_doc()
        return [(Summary(name, description, None if tags is None else [(k, v) for k, v in tags],
                         primary), deleted)
                for name, (description, tags, deleted, primary) in zip(names, search, strict=True)]  # fmt: skip

    def columns(self) -> tuple[list[str], list[int], list[int], list[Any], list[bytes]]:
        """Names, created and last-changed keys, search entries, and the records as stored (with
        their CRC, not checked here: a damaged one stays damaged, and is found when it is read),
        in name order, for an update (ValueError when a column is damaged)."""
        names, created, changed, search = (list(c) for c in self._column_doc())
        offsets = self._offsets
        data = self._data[self._records_at : self._records_at + offsets[-1]]  # one read
        stored = [data[offsets[i] : offsets[i + 1]] for i in range(self.count)]
        return names, created, changed, search, stored

    def dump(self) -> bytes:
        """The file's content (header and checksums included)."""
        return self._data[0 : len(self._data)]


def _sha1(data: bytes) -> bytes:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest().encode()


def build(tree: str, secrets: Iterable[Secret]) -> ListIndex:
    """The index of the tree ``tree`` holding ``secrets`` (each name once)."""
    ordered = sorted(secrets, key=lambda s: s.name)
    return assemble(
        tree,
        [s.name for s in ordered],
        [micros(s.created) for s in ordered],
        [micros(s.last_changed) for s in ordered],
        [search_entry(s) for s in ordered],
        [stored(encode(s)) for s in ordered],
        dict(enumerate(ordered)),
    )


def assemble(
    tree: str,
    names: list[str],
    created: list[int],
    changed: list[int],
    search: list[Any],
    records: list[bytes],
    secrets: dict[int, Secret] | None = None,
) -> ListIndex:
    """An index from its columns (all in name order; ``records`` as :func:`stored` gives them);
    computes the orders."""
    positions = range(len(names))
    by_created = sorted(positions, key=lambda i: (created[i], names[i]))
    by_changed = sorted(positions, key=lambda i: (changed[i], names[i]))
    offsets = [0, *accumulate(len(line) for line in records)]
    tables = _u32(by_created) + _u32(by_changed) + _u32(offsets)
    columns = json.dumps([names, created, changed, search], ensure_ascii=True,
                         separators=(",", ":")).encode("ascii")  # fmt: skip
    head = b"%s %d %s %d %s %s %d %d\n" % (
        MAGIC, FORMAT, tree.encode(), len(names), _sha1(tables), _sha1(columns), len(tables),
        len(columns),
    )  # fmt: skip
    index = parse(b"".join([head, tables, columns, *records]), tree, secrets)
    assert index is not None
    return index


def parse(
    data: Source | bytes, tree: str, secrets: dict[int, Secret] | None = None
) -> ListIndex | None:
    """The index in ``data`` when it is an intact index of ``tree`` in this format, else None.
    The header and the tables (orders, offsets) are checked here, the columns when first used,
    each record when it is read. ``secrets``: records already decoded, by position."""
    end = data.find(b"\n", 0, 512)
    parts = data[: max(end, 0)].split(b" ")
    if end < 0 or len(parts) != 8 or parts[0] != MAGIC or parts[1] != b"%d" % FORMAT:
        return None
    if parts[2] != tree.encode() or not all(p.isdigit() for p in (parts[3], *parts[6:])):
        return None
    count, size, columns = int(parts[3]), int(parts[6]), int(parts[7])
    start = end + 1
    if size != 4 * (3 * count + 1) or _sha1(data[start : start + size]) != parts[4]:
        return None
    sections = (start, start + size, start + size + columns)
    index = ListIndex(tree, count, data, sections, parts[5], secrets)
    offsets = index._offsets
    if offsets[0] != 0 or sections[2] + offsets[-1] != len(data):
        return None
    return index


def missing_fields() -> list[str]:
    """The model's fields that the records do not hold, or not in the records' order (empty when
    the codec is complete: a test checks it, so a field added to the model is not lost here)."""
    wanted = [(Secret, SECRET_FIELDS), (VersionInfo, VERSION_FIELDS), (Rotation, ROTATION_FIELDS)]
    return [cls.__name__ for cls, held in wanted if tuple(f.name for f in fields(cls)) != held]
