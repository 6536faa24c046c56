"""The manifest's canonical form: the fast parser agrees with PyYAML, and round trips are exact."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gitsm.errors import MalformedStoreFile
from gitsm.manifest import _fast_doc, dump_secret, load_secret
from gitsm.model import Secret, VersionInfo

text = st.text(max_size=40)
some = st.text(min_size=1, max_size=40)  # fields that may not be empty (an ARN, a label, a key id)
ids = st.text(min_size=32, max_size=64)  # a VersionId has 32-64 characters
stamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@st.composite
def secrets(draw: st.DrawFn) -> Secret:
    versions = {}
    for vid in draw(st.lists(ids, max_size=5, unique=True)):
        versions[vid] = VersionInfo(
            vid,
            draw(stamps),
            draw(st.sampled_from(["string", "binary"])),
            draw(st.lists(some, max_size=2)),
            draw(st.lists(some, max_size=3, unique=True)),
        )
    deleted = draw(st.none() | stamps)
    return Secret(
        name=draw(st.from_regex(r"[A-Za-z0-9/_+=.@-]{1,40}", fullmatch=True)),
        arn=draw(some),
        created=draw(stamps),
        last_changed=draw(stamps),
        description=draw(st.none() | text),
        kms_key_id=draw(st.none() | some),
        tags=draw(st.none() | st.lists(st.tuples(some, text), max_size=3)),
        deleted_date=deleted,
        deletion_date=deleted + timedelta(days=7) if deleted else None,
        versions=versions,
    )


@settings(max_examples=150, deadline=None)
@given(secrets())
def test_fast_parser_agrees_with_yaml_and_round_trips(secret: Secret) -> None:
    data = dump_secret(secret)
    data.decode("ascii")  # canonical manifests are pure ASCII
    assert _fast_doc(data) == yaml.safe_load(data)
    assert load_secret(data, "m") == secret
    assert dump_secret(load_secret(data, "m")) == data


def test_hand_written_yaml_still_loads_through_the_reference_parser() -> None:
    hand = b"""# edited by hand
format: 1
name: team/app
arn: arn:aws:secretsmanager:us-east-1:123456789012:secret:team/app-AbCdEf
created: '2026-01-01T00:00:00.000000Z'
last_changed: 2026-01-02T00:00:00.000000Z
tags: [{key: owner, value: ops}]
versions:
  v-0000000000000000000000000000000000:
    created: '2026-01-01T00:00:00.000000Z'
    type: string
    kms_key_ids: [alias/aws/secretsmanager]
    stages: [AWSCURRENT]
"""
    assert _fast_doc(hand) is None
    secret = load_secret(hand, "m")
    assert secret.name == "team/app"
    assert secret.tags == [("owner", "ops")]
    assert secret.versions["v-0000000000000000000000000000000000"].stages == ["AWSCURRENT"]
    assert secret.last_changed == datetime(2026, 1, 2, tzinfo=UTC)


VID, CREATED = "v-" + "0" * 34, datetime(2026, 1, 1, tzinfo=UTC)
ESCAPED = Secret(
    name="team/app",
    arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:team/app-AbCdEf",
    created=datetime(2026, 1, 1, tzinfo=UTC),
    last_changed=datetime(2026, 1, 2, tzinfo=UTC),
    description="PLACEHOLDER",
    versions={
        VID: VersionInfo(VID, CREATED, "string", ["alias/aws/secretsmanager"], ["AWSCURRENT"])
    },
)


OTHER_ESCAPES = [r"\q", r"\N{DIGIT ONE}", r"\101", r"\e", r"\/", r"\ ", r"\'", r"\x41", r"\n"]
OTHER_ESCAPES += [r"\t", r"\U00110000", r"\u00E9", "a\tb", r"\_", r"\L"]


@pytest.mark.parametrize("escaped", OTHER_ESCAPES)
def test_only_the_escapes_gitsm_writes_take_the_fast_path(escaped: str) -> None:
    """A quoted scalar with any other escape (or a raw control character) reads as YAML reads
    it, or fails as YAML fails: never as Python's unicode_escape would read it."""
    data = dump_secret(ESCAPED).replace(b'"PLACEHOLDER"', f'"{escaped}"'.encode())
    assert _fast_doc(data) is None
    try:
        expected = yaml.safe_load(data)["description"]
    except (yaml.YAMLError, ValueError):  # PyYAML: ValueError for a code point past U+10FFFF
        with pytest.raises(MalformedStoreFile):
            load_secret(data, "m")
        return
    assert load_secret(data, "m").description == expected


def test_the_escapes_gitsm_writes_take_the_fast_path() -> None:
    for text in ['say "hi"', "back\\slash", "caf\u00e9", "\U0001f600", "\x00\x7f\ud800"]:
        data = dump_secret(replace(ESCAPED, description=text))
        doc = _fast_doc(data)
        assert doc is not None and doc["description"] == text == yaml.safe_load(data)["description"]


def _fresh_memos() -> None:
    from gitsm import manifestlines

    manifestlines.version_entry.cache_clear()
    manifestlines._LINES.clear()


@settings(max_examples=150, deadline=None)
@given(
    ids, stamps, st.sampled_from(["string", "binary"]), st.lists(some, max_size=2),
    st.lists(some, max_size=3, unique=True),
)  # fmt: skip
def test_a_line_read_is_written_back_as_formatting_it_gives(
    vid: str, created: datetime, kind: str, keys: list[str], stages: list[str]
) -> None:
    """A version line read (the plain fast path remembers it as the line of its values) is
    written back byte for byte as formatting its values afresh gives, escapes or not."""
    from gitsm.manifestlines import PLAIN_LINE, version_entry, version_line

    args = (vid, created, kind, tuple(keys), tuple(stages))
    _fresh_memos()
    line = version_line(*args)
    _fresh_memos()
    found = version_entry(line)
    assert found is not None and found[0] == vid
    assert version_line(vid, created, kind, tuple(keys), tuple(stages)) == line
    plain = all(
        c == " " or ("!" <= c <= "~" and c not in '"\\') for c in vid + "".join(keys + stages)
    )
    assert (PLAIN_LINE.fullmatch(line) is not None) == plain


@pytest.mark.parametrize(
    "variant",
    [
        b'kms_key_ids: ["alias/aws/secretsmanager","k2"]',  # no space after the comma
        b'kms_key_ids: ["alias/aws/secretsmanager", "k2"], stages: ["AWSCURRENT",]',
    ],
)
def test_a_line_not_in_the_written_form_is_written_back_in_it(variant: bytes) -> None:
    """A version line that reads (the general form allows it) but is not exactly what gitsm
    writes is not remembered as its own dump: writing the manifest back gives the canonical
    line."""
    _fresh_memos()
    data = dump_secret(ESCAPED).replace(
        b'kms_key_ids: ["alias/aws/secretsmanager"], stages: ["AWSCURRENT"]', variant
    )
    try:
        secret = load_secret(data, "m")
    except MalformedStoreFile:
        return  # YAML refuses it too: nothing to write back
    assert b"kms_key_ids: [" in data and data != dump_secret(secret)
    assert dump_secret(secret) == dump_secret(load_secret(dump_secret(secret), "m"))
    assert b'", "' in dump_secret(secret) or len(secret.versions[VID].kms_key_ids) == 1
