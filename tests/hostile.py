"""A corpus of hostile store trees, built with plain git on top of a store that gitsm wrote.

Each :class:`Case` replaces one store file (a manifest, the config or an envelope) with content or
a git mode that an attacker with push access could commit: YAML alias bombs, anchors and tags,
files over their byte limit, fields of the wrong type, symbolic links, gitlinks and executables.
Every case is one commit on its own branch ``h/<case>`` (``git read-tree`` into a private index,
``git update-index --cacheinfo``, ``git write-tree``, ``git commit-tree``, ``git update-ref``), so
that ``gitsm verify --rev h/<case>`` judges it and reads see it once HEAD names that branch. The
branch ``h/all`` holds every case at once (its config is the config alias bomb).

The base store (bare, account 123456789012, us-east-1) has one secret per manifest case
(``m/<case>``) and per envelope case (``e/<case>``), each with one AWSCURRENT version, plus ``ok``.
``tests/test_hostile.py`` and ``bench/bench_parse.py`` use it.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import gitsm
from gitsm import paths
from gitsm.model import CONFIG_MAX_BYTES, MANIFEST_MAX_BYTES

ACCOUNT = "123456789012"
BASE = "main"
ALL = "h/all"
IDENTITY = {
    "GIT_AUTHOR_NAME": "Mallory", "GIT_AUTHOR_EMAIL": "mallory@example.com",
    "GIT_COMMITTER_NAME": "Mallory", "GIT_COMMITTER_EMAIL": "mallory@example.com",
}  # fmt: skip
REGULAR, EXECUTABLE, SYMLINK, GITLINK = "100644", "100755", "120000", "160000"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    """One hostile file: which store file it replaces, with what, and the problem it must give."""

    name: str
    kind: str  # "manifest", "config" or "envelope"
    expect: str  # a fragment of the one problem verify reports (and of the read error)
    data: bytes
    mode: str
    path: str  # the store file it replaces

    @property
    def secret(self) -> str:
        """The secret whose file the case replaces (none for the config)."""
        return {"manifest": f"m/{self.name}", "envelope": f"e/{self.name}"}.get(self.kind, "")

    @property
    def branch(self) -> str:
        """The branch holding the case."""
        return f"h/{self.name}"


def bomb(depth: int = 9, width: int = 10) -> str:
    """Billion-laughs lines: anchors a0..a<depth-1>, each a list of ``width`` aliases of the last
    (``width ** depth`` leaves from about a kilobyte)."""
    lines = [f"x0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, depth)]
    return "\n".join(lines) + "\n"


def git(
    cwd: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> str:
    """Run git in ``cwd``; its stdout."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("GIT_DIR")}
    full.update(env or {})
    return subprocess.run(
        ["git", *args], cwd=cwd, input=stdin, capture_output=True, check=True, env=full
    ).stdout.decode()


def _manifest_cases(text: str) -> list[tuple[str, str, bytes, str]]:
    """(case, expect, data, mode) for the manifest of a secret whose canonical text is ``text``."""
    head, rest = text.split("\n", 1)  # "format: 1", then the other lines
    with_bomb = head + "\n" + bomb() + rest
    version = next((line for line in text.splitlines() if line.startswith('  "')), "")
    anchor_error = "uses a YAML anchor (&a0)"
    over = MANIFEST_MAX_BYTES + 1 - len(text) - len('description: ""\n')
    oversized = text.replace("\ncreated:", f'\ndescription: "{"d" * over}"\ncreated:', 1)
    huge = text.replace("\ncreated:", f'\ndescription: "{"d" * MIB}"\ncreated:', 1)
    long_description = text.replace("\ncreated:", f'\ndescription: "{"d" * 2049}"\ncreated:', 1)
    nested = "[" * 9 + "]" * 9
    out = [
        ("bomb-kms", anchor_error, with_bomb.replace('kms_key_ids: ["alias/aws/secretsmanager"]',
                                                     "kms_key_ids: *a8")),
        ("bomb-tag", anchor_error, with_bomb.replace("versions:", 'tags:\n- key: "t"\n  value: *a8\n'
                                                     "versions:")),
        ("bomb-stages", anchor_error, with_bomb.replace('stages: ["AWSCURRENT"]', "stages: *a8")),
        ("anchor", "uses a YAML anchor (&d)", text.replace("\ncreated:", '\ndescription: &d "x"'
                                                            "\ncreated:", 1)),
        ("alias", "uses a YAML alias (*nowhere)", text.replace("\ncreated:", "\ndescription: "
                                                                "*nowhere\ncreated:", 1)),
        ("tag-python", "uses a YAML tag (tag:yaml.org,2002:python/object",
         text.replace("\ncreated:", "\ndescription: !!python/object:os.system {}\ncreated:", 1)),
        ("tag-binary", "uses a YAML tag (tag:yaml.org,2002:binary)",
         text.replace("\ncreated:", "\ndescription: !!binary aGVsbG8=\ncreated:", 1)),
        ("tag-custom", "uses a YAML tag (!foo)",
         text.replace("\ncreated:", "\ndescription: !foo bar\ncreated:", 1)),
        ("many-values", "holds more than 20,000 YAML values",
         text.replace("\ncreated:", f"\ndescription: [{'a, ' * 20_001}]\ncreated:", 1)),
        ("unquoted-number", "holds an unquoted value of 240,001 characters",
         text.replace("\ncreated:", f"\ndescription: 1{':30' * 80_000}\ncreated:", 1)),
        ("deep", "nests mappings and lists deeper than 8 levels",
         text.replace("\ncreated:", f"\ndescription: {nested}\ncreated:", 1)),
        ("size-over", f"is {MANIFEST_MAX_BYTES + 1:,} bytes, over the limit of a manifest", oversized),
        ("size-1mib", "bytes, over the limit of a manifest", huge),
        ("long-description", "is malformed: description is 2,049 characters long, over the limit "
         "of 2,048", long_description),
        ("type-description", "is malformed: description is a mapping, not a string",
         text.replace("\ncreated:", "\ndescription: {a: [1, 2]}\ncreated:", 1)),
        ("type-versions", "is malformed: versions is a list, not a mapping",
         text.split("versions:")[0] + "versions: [1]\n"),
        ("type-tags", "is malformed: tags is a string, not a list",
         text.replace("versions:", 'tags: "x"\nversions:')),
        ("type-created", "is malformed: created is a number, not a string",
         "\n".join(("created: 5" if line.startswith("created:") else line)
                   for line in text.split("\n"))),
        ("type-stages", "].stages is a string, not a list",
         text.replace(version, version.replace('stages: ["AWSCURRENT"]', 'stages: "AWSCURRENT"'))),
    ]  # fmt: skip
    cases = [(name, expect, data.encode(), REGULAR) for name, expect, data in out]
    cases += [
        ("symlink", "is a symbolic link (mode 120000)", b"../../ok/~secret.yaml", SYMLINK),
        ("executable", "is an executable file (mode 100755)", text.encode(), EXECUTABLE),
        ("gitlink", "is a gitlink", b"", GITLINK),
    ]
    return cases


def _config_cases(text: str, key_id: str) -> list[tuple[str, str, bytes, str]]:
    """(case, expect, data, mode) for a store config whose text is ``text``."""
    head, rest = text.split("\n", 1)
    with_bomb = head + "\n" + bomb() + rest
    pad = "#" * (CONFIG_MAX_BYTES + 1 - len(text) - 1) + "\n"
    out = [
        ("config-bomb-key-id", "uses a YAML anchor (&a0)", with_bomb.replace(key_id, "*a8")),
        ("config-bomb-keys", "uses a YAML anchor (&a0)",
         with_bomb.split("keys:")[0] + "keys: *a8\n" + "retention:" + with_bomb.split("retention:")[1]),
        ("config-tag", "uses a YAML tag (!foo)", text.replace("region: ", "region: !foo ")),
        ("config-size-over", f"is {CONFIG_MAX_BYTES + 1:,} bytes, over the limit of the store "
         "config", text + pad),
        ("config-type-retention", "is malformed: retention is a string, not a mapping",
         text.split("retention:")[0] + 'retention: "forever"\n'),
        ("config-type-keys", "is malformed: keys is a list, not a mapping",
         text.split("keys:")[0] + "keys: [1]\nretention:" + text.split("retention:")[1]),
        ("config-type-recipient", "is malformed: keys['alias/aws/secretsmanager'][0] is a list, "
         "not a mapping", text.split("keys:")[0] + f"keys:\n  alias/aws/secretsmanager:\n  - [local, "
         f"{key_id}]\nretention:" + text.split("retention:")[1]),
        ("config-type-format", "has no format number", text.replace("format: 1", "format: '1'")),
    ]  # fmt: skip
    cases = [(name, expect, data.encode(), REGULAR) for name, expect, data in out]
    cases += [
        ("config-symlink", "is a symbolic link (mode 120000)", b"../../etc/passwd", SYMLINK),
        ("config-executable", "is an executable file (mode 100755)", text.encode(), EXECUTABLE),
        ("config-gitlink", "is a gitlink", b"", GITLINK),
    ]
    return cases


def _dump(doc: dict[str, object]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def _envelope_cases(data: bytes) -> list[tuple[str, str, bytes, str]]:
    """(case, expect, data, mode) for an envelope whose content is ``data``."""
    doc = json.loads(data)
    stanza = doc["keys"][0]
    deep = b'{"keys": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    out = [
        ("envelope-size", f"is {MIB + 1:,} bytes, over the limit of an envelope",
         b" " * (MIB + 1 - len(data)) + data),
        ("envelope-stanza-list", "key stanza 0 is a list", _dump({**doc, "keys": [list(stanza.values())]})),
        ("envelope-deep", "is not valid JSON", deep),
        ("envelope-type-ciphertext", "field ciphertext is a number, not a string",
         _dump({**doc, "ciphertext": 5})),
        ("envelope-long-ciphertext", "field ciphertext is 90,000 characters long",
         _dump({**doc, "ciphertext": "A" * 90_000})),
        ("envelope-unknown-field", "has an unknown field 'extra'", _dump({**doc, "extra": [[1]]})),
    ]  # fmt: skip
    cases = [(name, expect, blob, REGULAR) for name, expect, blob in out]
    cases += [
        ("envelope-symlink", "is a symbolic link (mode 120000)", b"/dev/zero", SYMLINK),
        ("envelope-executable", "is an executable file (mode 100755)", data, EXECUTABLE),
        ("envelope-gitlink", "is a gitlink", b"", GITLINK),
    ]
    return cases


def _commit(store: Path, index: Path, files: list[tuple[str, str, bytes]], message: str) -> str:
    """A commit on top of BASE with each (path, mode, content) put in place by plain git."""
    env = {"GIT_INDEX_FILE": str(index), **IDENTITY}
    git(store, "read-tree", BASE, env=env)
    for path, mode, data in files:
        oid = (
            "1" * 40 if mode == GITLINK else git(store, "hash-object", "-w", "--stdin", stdin=data)
        )
        git(store, "update-index", "--add", "--cacheinfo", f"{mode},{oid.strip()},{path}", env=env)
    tree = git(store, "write-tree", env=env).strip()
    base = git(store, "rev-parse", BASE).strip()
    return git(store, "commit-tree", tree, "-p", base, "-m", message, env=env).strip()


def build(root: Path) -> tuple[Path, list[Case]]:
    """Make the base store (``root/store.git``, its key ring in ``root/home``) and every case's
    branch, and ``h/all``; returns the store's path and the cases."""
    store_path = root / "store.git"
    saved = {k: os.environ.get(k) for k in ("GITSM_HOME", "GITSM_FSYNC", *IDENTITY)}
    os.environ.update(GITSM_HOME=str(root / "home"), GITSM_FSYNC="0", **IDENTITY)
    try:
        store = gitsm.init(store_path, bare=True, account_id=ACCOUNT, region="us-east-1")
        manifest_names = [c[0] for c in _manifest_cases("format: 1\nx\n")]
        envelope_names = [c[0] for c in _envelope_cases(b'{"keys": [{"a": "b"}]}')]
        store.create_secret("ok", secret_string="hostile-corpus-ok-value")
        for name in manifest_names:
            store.create_secret(f"m/{name}", secret_string=f"hostile-corpus-{name}")
        for name in envelope_names:
            store.create_secret(f"e/{name}", secret_string=f"hostile-corpus-{name}")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    snap = store.repo.tip()
    cases: list[Case] = []
    for name in manifest_names:
        path = paths.manifest_path(f"m/{name}")
        _, expect, data, mode = {
            c[0]: c for c in _manifest_cases((snap.read(path) or b"").decode())
        }[name]
        cases.append(Case(name, "manifest", expect, data, mode, path))
    config = (snap.read(paths.CONFIG_PATH) or b"").decode()
    key_id = store.config().keys["alias/aws/secretsmanager"][0]["key_id"]
    for name, expect, data, mode in _config_cases(config, key_id):
        cases.append(Case(name, "config", expect, data, mode, paths.CONFIG_PATH))
    for name in envelope_names:
        (vid,) = store.describe_secret(f"e/{name}").versions
        path = paths.version_path(f"e/{name}", vid)
        _, expect, data, mode = {c[0]: c for c in _envelope_cases(snap.read(path) or b"")}[name]
        cases.append(Case(name, "envelope", expect, data, mode, path))
    index = root / "hostile-index"
    for case in cases:
        commit = _commit(store_path, index, [(case.path, case.mode, case.data)], case.name)
        git(store_path, "update-ref", f"refs/heads/{case.branch}", commit)
    files = [(c.path, c.mode, c.data) for c in together(cases)]
    git(store_path, "update-ref", f"refs/heads/{ALL}", _commit(store_path, index, files, "all"))
    return store_path, cases


def together(cases: list[Case]) -> list[Case]:
    """The cases that branch ``h/all`` holds: every one but the configs other than the bomb."""
    return [c for c in cases if c.kind != "config" or c.name == "config-bomb-key-id"]
