"""From command-line words to API values: shorthand, JSON, param files, blobs, list options."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from gitsm.cli import params, shorthand
from gitsm.cli.app import expand_args
from gitsm.cli.errors import ParamError, Secrets

TAGS = [{"Key": "string", "Value": "string"}]
FILTERS = [{"Key": "enum:name|all", "Values": ["string"]}]


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("Key=k,Value=v", {"Key": "k", "Value": "v"}),
        ("Key=name,Values=a,b", {"Key": "name", "Values": ["a", "b"]}),
        ("Key=name,Values=[a,b]", {"Key": "name", "Values": ["a", "b"]}),
        ("Key = k , Value = v ", {"Key": "k", "Value": "v"}),
        ('Key=a\\,b,Value="x,y"', {"Key": "a,b", "Value": "x,y"}),
        ("Key='with = and ,',Value=", {"Key": "with = and ,", "Value": ""}),
        ("A={b=1,c=[x,y]},D=e", {"A": {"b": "1", "c": ["x", "y"]}, "D": "e"}),
    ],
)
def test_shorthand(text: str, parsed: object) -> None:
    assert shorthand.parse(text) == parsed


@pytest.mark.parametrize("text", ["Key", "=v", "Key='open", "Key=[a,b", "A={b=1"])
def test_bad_shorthand(text: str) -> None:
    with pytest.raises(shorthand.ShorthandError):
        shorthand.parse(text)


def test_structure_lists_take_shorthand_words_or_json() -> None:
    words = ["Key=a,Value=1", "Key=b,Value=2"]
    expected = [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    assert params.convert(words, TAGS, "--tags", "base64") == expected
    as_json = ['[{"Key":"a","Value":"1"},{"Key":"b","Value":"2"}]']
    assert params.convert(as_json, TAGS, "--tags", "base64") == expected
    assert params.convert(['{"Key":"a","Value":"1"}'], TAGS, "--tags", "base64") == expected[:1]
    filters = params.convert(["Key=name,Values=p/,q/"], FILTERS, "--filters", "base64")
    assert filters == [{"Key": "name", "Values": ["p/", "q/"]}]
    with pytest.raises(ParamError, match="unknown key 'Kee'"):
        params.convert(["Kee=a,Value=1"], TAGS, "--tags", "base64")


def test_scalar_lists_and_numbers() -> None:
    assert params.convert(["a", "b"], ["string"], "--tag-keys", "base64") == ["a", "b"]
    assert params.convert(['["a","b"]'], ["string"], "--tag-keys", "base64") == ["a", "b"]
    assert params.convert("7", "long", "--recovery-window-in-days", "base64") == 7
    with pytest.raises(ParamError, match="expected an integer"):
        params.convert("seven", "long", "--recovery-window-in-days", "base64")
    assert params.coerce("TRUE", "boolean", "--x") is True


def test_param_files(tmp_path: Path) -> None:
    text, raw = tmp_path / "v.txt", tmp_path / "v.bin"
    text.write_text("line one\nline two\n")
    raw.write_bytes(b"\x00\xffbinary")
    assert params.convert(f"file://{text}", "string", "--secret-string", "base64") == (
        "line one\nline two\n"
    )
    assert params.convert(f"fileb://{raw}", "blob", "--secret-binary", "base64") == raw.read_bytes()
    with pytest.raises(ParamError, match="Unable to load paramfile"):
        params.convert(f"file://{tmp_path}/missing", "string", "--secret-string", "base64")
    with pytest.raises(ParamError, match="not UTF-8"):
        params.convert(f"file://{raw}", "string", "--secret-string", "base64")


def test_blobs_are_base64_unless_raw_or_fileb() -> None:
    encoded = base64.b64encode(b"\x01\x02bytes").decode()
    assert params.convert(encoded, "blob", "--secret-binary", "base64") == b"\x01\x02bytes"
    assert params.convert("plain", "blob", "--secret-binary", "raw-in-base64-out") == b"plain"
    with pytest.raises(ParamError) as info:
        params.convert("sup3r-secret!", "blob", "--secret-binary", "base64")
    assert "sup3r-secret" not in info.value.message


def test_input_documents() -> None:
    members = {"SecretId": "string", "SecretBinary": "blob", "Tags": TAGS}
    doc = params.load_input_document(
        '{"SecretId": "a", "SecretBinary": "AAE=", "Tags": null}', "--cli-input-json"
    )
    assert params.from_document(doc, members, "--cli-input-json", "base64") == {
        "SecretId": "a",
        "SecretBinary": b"\x00\x01",
    }
    yaml_doc = params.load_input_document(
        "SecretId: a\nTags:\n- Key: k\n  Value: v\n", "--cli-input-yaml"
    )
    assert params.from_document(yaml_doc, members, "--cli-input-yaml", "base64")["Tags"] == [
        {"Key": "k", "Value": "v"}
    ]
    with pytest.raises(ParamError, match="Unknown parameter in input: 'Type'"):
        params.from_document({"Type": "x"}, members, "--cli-input-json", "base64")
    with pytest.raises(ParamError, match="Invalid JSON"):
        params.load_input_document("{nope", "--cli-input-json")
    with pytest.raises(ParamError, match="mapping"):
        params.load_input_document("[1]", "--cli-input-json")


def test_expand_args() -> None:
    greedy = {"--tags", "--tag-keys"}
    assert expand_args(["--tags", "Key=a,Value=1", "Key=b,Value=2", "--secret-id", "x"], greedy) == [
        "--tags", "Key=a,Value=1", "--tags", "Key=b,Value=2", "--secret-id", "x",
    ]  # fmt: skip
    assert expand_args(["--tag-keys", "-1", "k", "--x"], greedy) == [
        "--tag-keys", "-1", "--tag-keys", "k", "--x",
    ]  # fmt: skip
    assert expand_args(["--generate-cli-skeleton"], greedy) == ["--generate-cli-skeleton", "input"]
    assert expand_args(["--generate-cli-skeleton", "output", "--secret-id", "x"], greedy)[1] == (
        "output"
    )
    assert expand_args(["--generate-cli-skeleton", "--secret-id", "x"], greedy)[1] == "input"
    assert expand_args(["--", "--tags", "a", "b"], greedy) == ["--", "--tags", "a", "b"]


def test_redaction() -> None:
    secrets = Secrets()
    secrets.add({"SecretString": "hunter2-pass", "Short": "abc"})
    secrets.add(b"binary-secret")
    text = secrets.redact("value hunter2-pass and binary-secret, abc stays")
    assert "hunter2-pass" not in text
    assert "binary-secret" not in text
    assert "abc stays" in text
