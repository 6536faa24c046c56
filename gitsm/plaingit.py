"""Reading a git repository's refs, objects and trees with the standard library alone.

The quick read of ``gitsm get-secret-value`` (:mod:`gitsm.quickread`) runs in a fresh process,
where loading pygit2 costs several times the read itself. It needs a branch tip and a few files
of its tree, which this module reads from the object store directly: loose objects and pack files
(version 2 indexes, offset and reference deltas), loose and packed refs. Every object is checked
against its id (SHA-1), as libgit2 checks what it reads.

Anything this reader does not know, or any doubt (another object format, alternates, a symbolic
branch ref, a damaged object, a delta it cannot apply), raises :class:`Doubt`: its caller then
runs the full command, which reads through libgit2 and reports any real problem itself. So this
module never decides an error; it only answers when the answer is certain.
"""

from __future__ import annotations

import os
import zlib

try:  # the interpreter's own SHA-1: hashlib would load OpenSSL's (~4 ms) for a few small objects
    from _sha1 import sha1  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import sha1

from gitsm.plainpack import Doubt, Pack, unpack

__all__ = ["REGULAR", "TREE", "Doubt", "PlainRepo", "git_dir"]

REGULAR = b"100644"
TREE = b"40000"


def git_dir(path: str) -> str:
    """The git directory of the repository at ``path`` (``.git``, a linked work tree's, or the bare
    repository itself)."""
    dot = os.path.join(path, ".git")
    if os.path.isfile(dot):
        with open(dot) as handle:
            text = handle.read().strip()
        if text.startswith("gitdir:"):
            return os.path.join(path, text[len("gitdir:") :].strip())
    return dot if os.path.isdir(dot) else path


def _read(path: str) -> bytes | None:
    """The bytes of the regular file ``path``; None when there is no such file. (``os.read``
    rather than ``open``: a buffered file object costs two more system calls and an object for
    each of the dozen small files a read opens.)"""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Doubt(f"cannot read {path}") from exc
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:  # a directory, an I/O error
        raise Doubt(f"cannot read {path}") from exc
    finally:
        os.close(fd)


class PlainRepo:
    """The object store and refs of one repository, read-only."""

    def __init__(self, gitdir: str, common: str) -> None:
        self.gitdir, self.common = gitdir, common
        self.objects = os.path.join(common, "objects")
        if os.path.exists(os.path.join(self.objects, "info", "alternates")):
            raise Doubt("the repository borrows objects (alternates)")
        self._packs: list[Pack] | None = None
        self._fans: dict[str, frozenset[str]] = {}
        """The loose objects of each fan-out folder looked in twice."""
        self._once: set[str] = set()
        """The fan-out folders looked in once: their first object is opened without listing
        them (a single read reaches about ten objects, mostly in different folders)."""
        self._tables: dict[str, dict[bytes, tuple[bytes, str]]] = {}
        """The entries of each tree read (checked once), by tree id: a batch of reads walks
        the common folders once."""
        self._dirs: dict[tuple[str, str], dict[bytes, tuple[bytes, str]]] = {}
        """The entries of each directory reached, by (root tree id, its path)."""

    # -- refs ----------------------------------------------------------------------------------

    def head(self) -> bytes | None:
        """The text of HEAD (None: no HEAD file)."""
        return _read(os.path.join(self.gitdir, "HEAD"))

    def ref(self, name: str) -> str | None:
        """The object id ``name`` (``refs/heads/...``) points at; None when there is no such ref."""
        loose = _read(os.path.join(self.common, *name.split("/")))
        if loose is not None:
            return _object_id(loose.rstrip(b"\n"), name)
        packed = _read(os.path.join(self.common, "packed-refs"))
        if packed is None:
            return None
        lines = packed.split(b"\n")
        if lines.pop() != b"":
            raise Doubt("packed-refs does not end with a new line")
        if lines and lines[0].startswith(b"# pack-refs with:"):
            lines.pop(0)
        found = None
        previous = b""
        for line in lines:
            if line.startswith(b"^"):
                _object_id(line[1:], "a peeled ref")
                continue
            hexid, _, ref = line.partition(b" ")
            _object_id(hexid, "a packed ref")
            if ref <= previous or not ref.startswith(b"refs/"):
                raise Doubt("packed-refs out of order")
            previous = ref
            if ref == name.encode():
                found = _object_id(hexid, name)
        return found

    # -- objects -------------------------------------------------------------------------------

    def read(self, hexid: str) -> tuple[bytes, bytes]:
        """(type, content) of object ``hexid``, checked against its id."""
        kind, data = self._loose(hexid) or self._packed(bytes.fromhex(hexid))
        if sha1(kind + b" %d\0" % len(data) + data).hexdigest() != hexid:
            raise Doubt(f"object {hexid} does not match its id")
        return kind, data

    def _loose(self, hexid: str) -> tuple[bytes, bytes] | None:
        fan = hexid[:2]
        names = self._fans.get(fan)
        if names is None and fan not in self._once:
            self._once.add(fan)  # opened at once: no such file means packed
        else:
            if names is None:  # listed after the tip was read: every object it reaches is there
                try:
                    names = frozenset(os.listdir(os.path.join(self.objects, fan)))
                except OSError:
                    names = frozenset()
                self._fans[fan] = names
            if hexid[2:] not in names:
                return None
        raw = _read(os.path.join(self.objects, fan, hexid[2:]))
        if raw is None:  # packed and pruned meanwhile
            return None
        inflate = zlib.decompressobj()
        try:
            content = inflate.decompress(raw)
        except zlib.error:
            raise Doubt(f"the loose object {hexid} is corrupt") from None
        header, nul, data = content.partition(b"\0")
        kind, _, size = header.partition(b" ")
        if not inflate.eof or not nul or not size.isdigit() or int(size) != len(data):
            raise Doubt(f"the loose object {hexid} is damaged")
        return kind, data

    def _packs_list(self) -> list[Pack]:
        if self._packs is None:
            folder = os.path.join(self.objects, "pack")
            try:
                names = sorted(os.listdir(folder))
            except FileNotFoundError:
                names = []
            self._packs = [Pack(os.path.join(folder, n)) for n in names if n.endswith(".idx")]
        return self._packs

    def _packed(self, oid: bytes) -> tuple[bytes, bytes]:
        for pack in self._packs_list():
            offset = pack.offset(oid)
            if offset is not None:
                return unpack(pack, offset, self.read)
        raise Doubt(f"object {oid.hex()} is in no pack")

    # -- trees ---------------------------------------------------------------------------------

    def tree_of(self, commit: str) -> str:
        """The root tree id of ``commit``, whose headers must be as git writes them (libgit2
        refuses a commit without a well-formed author and committer)."""
        kind, data = self.read(commit)
        lines = data.split(b"\n", 64)
        if kind != b"commit" or len(lines) < 4 or not lines[0].startswith(b"tree "):
            raise Doubt(f"{commit} is not a commit")
        tree = lines[0][5:]
        at = 1
        while lines[at].startswith(b"parent ") and at < len(lines) - 1:
            _object_id(lines[at][7:], "a parent")
            at += 1
        author, committer = lines[at], lines[at + 1] if at + 1 < len(lines) else b""
        if not (_signature(author, b"author ") and _signature(committer, b"committer ")):
            raise Doubt(f"{commit} has an author or committer left to libgit2")
        return _object_id(tree, "a commit's tree")

    def entry(self, tree: str, path: str) -> tuple[bytes, str] | None:
        """(mode, object id) of ``path`` in ``tree``; None when no such path exists. The table
        of each directory reached is kept by (tree, its path): many paths of a batch share their
        directories."""
        head, sep, name = path.rpartition("/")
        if sep and not head:  # an empty first component names nothing
            return None
        table = self._dirs.get((tree, head))
        if table is None:
            if not head:
                table = self._table(tree)
            else:
                found = self.entry(tree, head)
                table = self._table(found[1]) if found is not None and found[0] == TREE else {}
            self._dirs[tree, head] = table
        return table.get(name.encode("utf-8"))

    def blob(self, tree: str, path: str) -> bytes | None:
        """The content of the regular file ``path`` of ``tree``; None when there is none.
        Anything there but a regular file (a directory, a link, an executable) is a Doubt."""
        found = self.entry(tree, path)
        if found is None:
            return None
        mode, oid = found
        kind, data = self.read(oid)
        if mode != REGULAR or kind != b"blob":
            raise Doubt(f"{path} is not a regular file")
        return data

    def _table(self, oid: str) -> dict[bytes, tuple[bytes, str]]:
        """The entries of tree ``oid``: name -> (mode, object id)."""
        table = self._tables.get(oid)
        if table is None:
            kind, data = self.read(oid)
            if kind != b"tree":
                raise Doubt(f"{oid} is not a tree")
            table = self._tables[oid] = _table(data)
        return table


_MODES = frozenset({b"100644", b"100755", b"120000", b"40000", b"160000"})


def _table(data: bytes) -> dict[bytes, tuple[bytes, str]]:
    """name -> (mode, id) of every entry of the tree ``data``. The whole tree is checked:
    libgit2 refuses a tree with any damaged entry, and finds an entry by binary search, so an
    entry of a tree out of git's order, or named twice, may not be the one it finds (Doubt)."""
    table: dict[bytes, tuple[bytes, str]] = {}
    previous = b""
    position, size, find = 0, len(data), data.find
    while position < size:
        space = find(b" ", position)
        nul = find(b"\0", space)
        if space < 0 or nul < 0 or nul + 21 > size:
            raise Doubt("a tree is damaged")
        mode, entry = data[position:space], data[space + 1 : nul]
        if mode not in _MODES or not entry or b"/" in entry:
            raise Doubt("a tree entry left to libgit2")
        key = entry + b"/" if mode == TREE else entry
        if key <= previous:
            raise Doubt("a tree out of order")
        previous = key
        if entry in table:
            raise Doubt("a tree names an entry twice")
        position = nul + 21
        table[entry] = mode, data[nul + 1 : position].hex()
    return table


_LAST_TIME = 253_402_300_799
"""9999-12-31T23:59:59Z: the last commit time the full reader turns into a date."""


def _signature(line: bytes, header: bytes) -> bool:
    """True for ``<header>Name <email> <seconds> <+hhmm>`` as git writes it."""
    if not line.startswith(header):
        return False
    line = line[len(header) :]
    opened, closed = line.rfind(b"<"), line.rfind(b">")
    if not 0 <= opened < closed:
        return False
    when, _, zone = line[closed + 1 :].removeprefix(b" ").partition(b" ")
    return (
        line[closed + 1 : closed + 2] == b" " and when.isdigit() and len(when) <= 12
        and int(when) <= _LAST_TIME and len(zone) == 5 and zone[:1] in (b"+", b"-")
        and zone[1:].isdigit()
    )  # fmt: skip


def _object_id(text: bytes, name: str) -> str:
    if len(text) != 40 or text.strip(b"0123456789abcdef"):
        raise Doubt(f"{name} does not hold an object id")
    return text.decode("ascii")
