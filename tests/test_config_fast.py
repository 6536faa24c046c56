"""The config's fast reader (gitsm.strict.canonical_config) reads exactly what PyYAML reads, or
declines: a store's reads then need no PyYAML, and nothing a config says can change meaning."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gitsm.manifest import StoreConfig
from gitsm.strict import canonical_config

WORDS = st.text(
    st.sampled_from("aZ09-_./:@+=#'\" ,{}[]&*!|>%?~é\t"), min_size=1, max_size=12
) | st.sampled_from(["yes", "No", "null", "ON", "true", "1", "012", "1.5", "0x1F", "a:", "~"])

LINES = st.sampled_from([
    "format: 1", "account_id: '123456789012'", "account_id: 093002825492", "account_id: 0123", "region: us-east-1", "keys:", "keys: {}",
    "retention:", "  max_versions: 100", "  min_version_age_hours: 24.0", "  alias/a:",
    "  - provider: local", "    key_id: k1", "    key_id: 32f27f09-f315-4054-a706-2710c56c740e", "  - provider: age", "    key_id: 'a b'",
    "  'x y':", "default_kms_key_id: alias/aws/secretsmanager", "  - key_id: k2", "   x: 1",
    "rotation_functions: {}", "  ? k", "keys: x", "retention: 5", "",
])  # fmt: skip


def agrees(data: bytes) -> bool:
    fast = canonical_config(data)
    if fast is None:
        return True
    try:
        return bool(fast == yaml.safe_load(data))
    except yaml.YAMLError:
        return False


@settings(max_examples=150, deadline=None)
@given(
    aliases=st.dictionaries(WORDS, st.lists(st.tuples(WORDS, WORDS), min_size=1, max_size=3)),
    region=WORDS,
    account=st.sampled_from(["123456789012", "000000000000", "093002825492", "012345670123"]),
    hours=st.sampled_from([0.0, 24.0, 1.5, 100000.0]),
)
def test_configs_gitsm_writes_read_as_pyyaml_reads_them(
    aliases: dict[str, list[tuple[str, str]]], region: str, account: str, hours: float
) -> None:
    keys = {a: [{"provider": p, "key_id": k} for p, k in rs] for a, rs in aliases.items()}
    config = StoreConfig(account, region, keys=keys, min_version_age_hours=hours)
    assert agrees(config.dump())


@settings(max_examples=300, deadline=None)
@given(st.lists(LINES, max_size=12))
def test_any_arrangement_of_config_lines_reads_as_pyyaml_reads_it(lines: list[str]) -> None:
    assert agrees("".join(line + "\n" for line in lines).encode())


@pytest.mark.parametrize("account", ["123456789012", "093002825492", "012345670123"])
@pytest.mark.parametrize("key_id", ["32f27f09-f315-4054-a706-2710c56c740e", "ea666f7d-212e-489b"])
def test_the_config_of_a_new_store_is_read_without_pyyaml(account: str, key_id: str) -> None:
    data = StoreConfig(account, "eu-west-1", keys={
        "alias/aws/secretsmanager": [{"provider": "local", "key_id": key_id}],
    }).dump()  # fmt: skip
    assert canonical_config(data) is not None
    assert canonical_config(data) == yaml.safe_load(data)


def test_what_pyyaml_would_read_otherwise_is_declined() -> None:
    for text in (
        "region: yes\n",
        "keys:\n  a:\n",
        "retention:\n",
        "region: a #x\n",
        "region: us\nregion: eu\n",
        "keys:\n  a:\n  - provider: 1\n",
        "region: 'a\n",
    ):
        assert canonical_config(text.encode()) is None, text  # fmt: skip
