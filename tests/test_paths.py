"""Property tests of the name -> path mapping (gitsm.paths) over the whole AWS name alphabet."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from gitsm import paths

ALPHABET = string.ascii_letters + string.digits + "/_+=.@-"
MAX_COMPONENT = 129

# Segments that stress the escaping and chunking rules: dot-heavy pieces, git's own names, and
# segments around and far beyond the chunk size (with dots placed right at chunk boundaries).
_SPECIAL = ["", ".", "..", "...", ".git", ".gitattributes", ".gitmodules", ".GIT", "git", "@", "-"]


@st.composite
def _segment(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.sampled_from(_SPECIAL))
    if kind == 1:
        return draw(st.text(alphabet=ALPHABET.replace("/", ""), min_size=1, max_size=20))
    if kind == 2:
        return draw(st.text(alphabet=".", min_size=1, max_size=400))
    # long segments: a filler cut so that a special piece lands on or near a chunk boundary
    filler = draw(st.sampled_from(["a", ".", "Z9", "a."]))
    head_len = draw(
        st.sampled_from([paths.CHUNK - 2, paths.CHUNK - 1, paths.CHUNK, paths.CHUNK + 1])
        | st.integers(100, 300)
    )
    head = (filler * head_len)[:head_len]
    tail = draw(st.sampled_from([*_SPECIAL[1:], "x", "." * 130]))
    return head + tail


@st.composite
def names(draw: st.DrawFn) -> str:
    """Valid AWS secret names (1-512 chars of ``[A-Za-z0-9/_+=.@-]``), biased to hard cases."""
    if draw(st.booleans()):
        name = draw(st.text(alphabet=ALPHABET, min_size=1, max_size=512))
    else:
        segs = draw(st.lists(_segment(), min_size=1, max_size=6))
        name = "/".join(segs)
    name = name[:512]
    return name if name else "/"


tokens_any = st.text(min_size=1, max_size=64)
tokens_nasty = st.one_of(
    tokens_any,
    st.sampled_from(["/", "..", ".", "a/../b", "\x00", "\n", "\r\n", "é", "☃", "\x7f", "~x"]).map(
        lambda s: (s * 64)[:64]
    ),
    st.builds(
        lambda a, b, c: a + b + c,
        st.text(alphabet=ALPHABET, max_size=30),
        st.sampled_from(["/", "..", "\x00", "\x01", "\n", "\t", "é", "\u202e", "\ud7ff", "\x1b"]),
        st.text(alphabet=ALPHABET, max_size=30),
    ),
    st.uuids().map(str),
    st.text(alphabet=string.ascii_letters + string.digits + "_-.", min_size=1, max_size=64),
)

SETTINGS = settings(max_examples=300, deadline=None)


def _components_ok(path: str) -> None:
    for comp in path.split("/"):
        assert comp not in ("", ".", ".."), path
        assert not comp.lower().startswith(".git"), path
        assert not comp.startswith("."), path
        assert len(comp.encode("utf-8")) <= MAX_COMPONENT, (len(comp), path)
        assert "\x00" not in comp


def _no_file_dir_clash(files: list[str]) -> None:
    assert len(set(files)) == len(files), "two entries map to the same file"
    dirs: set[str] = set()
    for f in files:
        parts = f.split("/")
        for i in range(1, len(parts)):
            dirs.add("/".join(parts[:i]))
    clash = dirs.intersection(files)
    assert not clash, f"a file is also a directory: {sorted(clash)[:3]}"


@SETTINGS
@given(names())
def test_roundtrip_and_safe_components(name: str) -> None:
    directory = paths.secret_dir(name)
    assert paths.name_from_dir(directory) == name
    assert directory.startswith(paths.SECRETS_ROOT + "/")
    _components_ok(directory)
    _components_ok(paths.manifest_path(name))
    _components_ok(paths.version_path(name, "a" * 32))
    assert paths.manifest_path(name).startswith(directory + "/")


@SETTINGS
@given(names())
def test_the_short_way_to_a_directory_is_the_general_one(name: str) -> None:
    """secret_dir takes a plain name as it is; whatever it takes, the general encoding agrees."""
    assert paths.secret_dir(name) == paths._general_dir(name)


def test_the_short_way_covers_plain_names_only() -> None:
    for name in ["", "/", ".", "a/", "/a", "a//b", "a/.b", ".a", "a" * (paths.CHUNK + 1), "a/b"]:
        assert paths.secret_dir(name) == paths._general_dir(name), name


@SETTINGS
@given(st.text(alphabet=ALPHABET, min_size=1, max_size=512))
def test_roundtrip_uniform_alphabet(name: str) -> None:
    directory = paths.secret_dir(name)
    assert paths.name_from_dir(directory) == name
    _components_ok(directory)


@settings(max_examples=150, deadline=None)
@given(
    names(),
    st.lists(
        st.sampled_from(["/", "//", ".", "/.", "/..", "/.git", "a", "/a", "/" + "b" * 200]),
        max_size=4,
    ),
    st.lists(names(), max_size=5),
    st.lists(tokens_nasty, min_size=1, max_size=3, unique=True),
)
def test_distinct_names_give_disjoint_files(
    base: str, extensions: list[str], others: list[str], tokens: list[str]
) -> None:
    """A name, its extensions (path and string prefixes of each other) and random others."""
    family = [base]
    for ext in extensions:
        family.append((family[-1] + ext)[:512])
    chosen = sorted(set(family + others))
    files: list[str] = []
    for name in chosen:
        files.append(paths.manifest_path(name))
        files.extend(paths.version_path(name, t) for t in tokens)
    _no_file_dir_clash(files)
    for f in files:
        _components_ok(f)
    # distinct names have distinct directories, and neither reaches into the other's own entries
    dirs = {paths.secret_dir(n) for n in chosen}
    assert len(dirs) == len(chosen)
    own = {paths.MANIFEST, paths.VERSIONS}
    for d in dirs:
        for other in dirs:
            if other.startswith(d + "/"):
                assert other[len(d) + 1 :].split("/")[0] not in own


def test_known_hard_names() -> None:
    chunk = paths.CHUNK
    hard = [
        "/", "//", "a/", "/a", "a//b", ".", "..", "./x", "a/../b", ".git", "a/.git/config",
        "a" * (chunk - 1) + "..", "a" * chunk + "..", "a" * chunk + ".git", "a" * chunk + "/..",
        "." * 512, "a" * 512, ("a" * chunk + "/") * 3, "/".join(["."] * 256),
    ]  # fmt: skip
    for name in hard:
        name = name[:512]
        directory = paths.secret_dir(name)
        assert paths.name_from_dir(directory) == name, name
        _components_ok(paths.manifest_path(name))
    files = [paths.manifest_path(n[:512]) for n in hard]
    _no_file_dir_clash(files)


@SETTINGS
@given(tokens_nasty)
def test_version_file_name_is_safe(token: str) -> None:
    fname = paths.version_file_name(token)
    assert fname not in (".", "..", "")
    assert "/" not in fname and "\x00" not in fname
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in fname), repr(fname)
    assert fname.isascii()
    assert not fname.startswith(".")
    assert len(fname.encode()) <= MAX_COMPONENT
    _components_ok(paths.version_path("a/b", token))


@SETTINGS
@given(st.lists(tokens_nasty, min_size=2, max_size=8, unique=True))
def test_distinct_tokens_give_distinct_file_names(tokens: list[str]) -> None:
    names_ = [paths.version_file_name(t) for t in tokens]
    assert len(set(names_)) == len(names_)


def test_specific_tokens() -> None:
    nasty = ["../" * 11, "a/b" * 11, "\x00" * 32, "\n" * 32, "é" * 32, "." * 33, ".." * 16]
    nasty += ["x" * 31 + "/", "line1\nline2" * 3, "\x1b[31m" * 8, "a" * 32, "A" * 32, "-" * 32]
    seen = set()
    for token in nasty:
        fname = paths.version_file_name(token)
        assert "/" not in fname and "\x00" not in fname and fname not in (".", "..")
        assert fname.isprintable() and fname.isascii()
        seen.add(fname)
    assert len(seen) == len(nasty)


def test_bad_directories_are_rejected() -> None:
    for bad in ["nope/a", "secrets", "secrets/a~/", "secrets/a~", "secrets/x~y", "secrets/~~"]:
        try:
            name = paths.name_from_dir(bad)
        except ValueError:
            continue
        # whatever decodes must encode back to the same path (no two paths for one name)
        assert paths.secret_dir(name) == bad, bad
