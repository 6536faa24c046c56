"""The envelope's fast canonical writer produces exactly what the standard JSON encoder does."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gitsm.envelope import _dump, _dump_slow

scalars = st.one_of(st.text(max_size=20), st.integers(), st.booleans(), st.none(), st.floats())
stanza = st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=4)
values = st.one_of(scalars, st.lists(stanza, max_size=3), st.lists(scalars, max_size=2))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=10), values, max_size=8))
def test_fast_writer_matches_json_dumps(doc: dict[str, Any]) -> None:
    assert _dump(doc) == _dump_slow(doc)
