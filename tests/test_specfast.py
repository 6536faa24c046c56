"""The spec's fast reader (gitsm/materialize/specfast.py) returns what PyYAML returns, or declines.

Random specs are written from lines in the plain block form and from lines that only look like it
(values YAML reads as booleans, null, numbers or dates, quotes, indicators, comments, odd
indentation, duplicate keys, tabs and trailing spaces): whenever the fast reader answers, its
document is exactly PyYAML's; and a spec in the plain form is always read by it."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gitsm.materialize.specfast import fast_doc

PLAIN = ["ci/app0/key0", "app0/key0", "files", "dotenv", "DB_PASSWORD", "conf/*", "AWSCURRENT",
         "user", "a.b-c_d+e=f@g", "/abs/path", "_x", "x*"]  # fmt: skip
TRICKY = ["yes", "No", "on", "OFF", "y", "n", "null", "~", "0600", "600", "0", "1.5", ".inf",
          ".nan", "2001-01-01", "1:20", "a:b", "a #b", "'x'", '"y"', '"a\\nb"', '"a #b"', "*x",
          "&a x", "!tag x", "[a]", "{a: b}", "-x", "x#y", "", "'it''s'", "\"a 'b'\"", "<<",
          "=", "0x1F", "+1", "1e3", "True", "./out", "%x", "@x", "`x`", "|", ">"]  # fmt: skip
KEYS = ["secret_id", "file", "env", "json_key", "version_stage", "mode", "on", "yes", "no"]
TOP = ["version", "format", "out", "mode", "on"]

values = st.sampled_from(PLAIN)


@st.composite
def plain_specs(draw: st.DrawFn) -> list[str]:
    """The lines of a spec in the plain block form."""
    lines = [f"{key}: {draw(values)}" for key in draw(st.lists(st.sampled_from(TOP[:4]),
                                                                 max_size=3, unique=True))]  # fmt: skip
    if draw(st.booleans()):
        indent = " " * draw(st.sampled_from([1, 2, 4]))
        lines += ["kubernetes:", f"{indent}name: {draw(values)}"]
        if draw(st.booleans()):
            lines.append(f"{indent}namespace: {draw(values)}")
    lines.append("secrets:")
    dash = draw(st.sampled_from([0, 2, 4]))
    for _ in range(draw(st.integers(1, 4))):
        keys = draw(st.lists(st.sampled_from(KEYS[:6]), min_size=1, max_size=4, unique=True))
        for i, key in enumerate(keys):
            head = " " * dash + "- " if i == 0 else " " * (dash + 2)
            lines.append(f"{head}{key}: {draw(values)}")
    if draw(st.booleans()):  # comments and blank lines anywhere
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(st.sampled_from(["# a comment", "   # indented", "", "  "])))
    return lines


def text_of(lines: list[str], end: str) -> str:
    return "\n".join(lines) + end


ENDS = st.sampled_from(["\n", "", "\n\n"])


@st.composite
def twisted_specs(draw: st.DrawFn) -> str:
    """A plain spec with one thing changed that may or may not keep it plain."""
    lines = draw(plain_specs())
    at = draw(st.integers(0, len(lines) - 1))
    line = lines[at]
    key, colon, _ = line.partition(": ")
    twist = draw(st.sampled_from(["value", "key", "indent", "line", "duplicate"]))
    if twist == "value" and colon:
        line = f"{key}: {draw(st.sampled_from(TRICKY))}"
    elif twist == "key" and colon:
        word = key.strip().removeprefix("- ")
        line = line.replace(word + ":", draw(st.sampled_from(KEYS[6:] + TOP[4:])) + ":", 1)
    elif twist == "indent":
        line = " " * draw(st.sampled_from([1, 2, 3])) + line if draw(st.booleans()) else line[1:]
    elif twist == "line":
        line = draw(st.sampled_from([line + " ", "\t" + line, "---", line + " # c",
                                     line.replace(": ", ":"), "...", line + "\r"]))  # fmt: skip
    else:
        lines.insert(at, line)
    lines[at] = line
    return text_of(lines, draw(ENDS))


def yaml_doc(text: str) -> object:
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@settings(max_examples=200, deadline=None)
@given(plain_specs(), ENDS)
def test_a_spec_in_the_plain_form_is_read_as_yaml_reads_it(lines: list[str], end: str) -> None:
    text = text_of(lines, end)
    doc = fast_doc(text.encode())
    assert doc is not None, text
    assert repr(doc) == repr(yaml_doc(text))


@settings(max_examples=500, deadline=None)
@given(twisted_specs())
def test_anything_else_is_read_as_yaml_reads_it_or_declined(text: str) -> None:
    doc = fast_doc(text.encode())
    if doc is None:
        return
    assert repr(doc) == repr(yaml_doc(text)), text  # repr: True is not 1, nor "1" 1


@pytest.mark.parametrize(
    "text",
    ["", "# only a comment\n", "secrets:\n", "version: 1\nsecrets:\n", "kubernetes:\nsecrets:\n"
     "  - secret_id: a\n", "secrets:\n  - secret_id: a\n  - secret_id: a\n    mode: 0600\n",
     "secrets:\n  - secret_id: caf\u00e9\n", "secrets:\n  - secret_id: a\x01\n",
     "secrets:\r\n  - secret_id: a\r\n", "secrets:\n  - secret_id: a\nsecrets:\n  - file: b\n"],
)  # fmt: skip
def test_what_the_fast_reader_leaves_to_yaml(text: str) -> None:
    assert fast_doc(text.encode()) is None


def test_types_are_yaml_s() -> None:
    text = "version: 1\nmode: 600\nsecrets:\n- secret_id: 'a b'\n  file: \"c: d\"\n"
    doc = fast_doc(text.encode())
    assert doc == {"version": 1, "mode": 600, "secrets": [{"secret_id": "a b", "file": "c: d"}]}
    assert repr(doc) == repr(yaml_doc(text))
