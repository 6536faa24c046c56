"""The fast canonical writers (envelopes, age payloads) produce exactly what the standard JSON
encoder does."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gitsm.envelope import _dump, _dump_slow
from gitsm.providers.age import PAYLOAD_FORMAT, AgeProvider, payload
from gitsm.providers.base import b64encode

scalars = st.one_of(st.text(max_size=20), st.integers(), st.booleans(), st.none(), st.floats())
stanza = st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=4)
values = st.one_of(scalars, st.lists(stanza, max_size=3), st.lists(scalars, max_size=2))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=10), values, max_size=8))
def test_fast_writer_matches_json_dumps(doc: dict[str, Any]) -> None:
    assert _dump(doc) == _dump_slow(doc)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(max_size=30), st.text(max_size=60), max_size=4),
    st.binary(min_size=32, max_size=32),
)
def test_age_payload_is_canonical_json(context: dict[str, str], data_key: bytes) -> None:
    """The age payload, built by hand, is the canonical JSON of its document, and the provider's
    byte-for-byte reading of it gives the data key back."""
    doc = {"context": context, "data_key": b64encode(data_key), "format": PAYLOAD_FORMAT}
    made = payload(data_key, context)
    assert made == json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")
    assert AgeProvider._check("age1example", made, context) == data_key
